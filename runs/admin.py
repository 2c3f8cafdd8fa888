from django.contrib import admin

from mlstudio.admin import RecordAdmin, apply_each
from runs import deleting, services
from runs.models import Blob, Experiment, Metric, MetricRecord, Run, RunNode, Snapshot


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "created_by", "created_at", "archived_at"]
    list_filter = ["workspace", ("archived_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "workspace__name"]
    readonly_fields = ["created_at", "archived_at"]
    actions = ["archive", "reactivate", "delete"]

    @admin.action(description="Archive selected experiments")
    def archive(self, request, queryset):
        for experiment in queryset:
            services.experiment_archive(experiment=experiment)
        self.message_user(request, f"Archived {queryset.count()} experiment(s).")

    @admin.action(description="Reactivate selected experiments")
    def reactivate(self, request, queryset):
        apply_each(self, request, queryset, lambda e: services.experiment_reactivate(experiment=e))

    @admin.action(description="Delete selected archived experiments and their runs")
    def delete(self, request, queryset):
        deleted = apply_each(
            self,
            request,
            queryset,
            lambda e: deleting.experiment_delete(experiment=e, actor=request.user),
        )
        if deleted:
            self.message_user(
                request, f"Deleted {deleted} experiment(s); their files are being purged."
            )

    def has_delete_permission(self, request, obj=None) -> bool:
        # Django's own delete would skip the rules and leave the runs' files behind.
        return False


@admin.register(Run)
class RunAdmin(RecordAdmin):
    list_display = ["id", "experiment", "number", "status", "submitted_by", "created_at",
                    "ended_at"]  # fmt: skip
    list_filter = ["status", "experiment__workspace", "created_at"]
    search_fields = ["id", "display_name", "experiment__name"]
    actions = ["cancel"]

    @admin.action(description="Cancel selected runs")
    def cancel(self, request, queryset):
        for run in queryset:
            services.run_cancel(run=run, reason=f"Canceled by {request.user} in the admin panel.")
        self.message_user(request, f"Cancel requested for {queryset.count()} run(s).")


@admin.register(RunNode)
class RunNodeAdmin(RecordAdmin):
    list_display = ["run", "rank", "node", "address", "state", "exit_code", "updated_at"]
    list_filter = ["state"]
    search_fields = ["run__id", "node"]


@admin.register(Snapshot)
class SnapshotAdmin(RecordAdmin):
    list_display = ["id", "workspace", "file_count", "total_size", "created_by", "created_at"]
    list_filter = ["workspace", "created_at"]
    search_fields = ["id", "digest"]


@admin.register(Blob)
class BlobAdmin(RecordAdmin):
    list_display = ["sha256", "workspace", "size", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["sha256"]


@admin.register(Metric)
class MetricAdmin(RecordAdmin):
    list_display = ["name", "run", "kind", "count", "last_value", "min_value", "max_value"]
    list_filter = ["kind", "source", "run__experiment__workspace"]
    search_fields = ["name", "run__id"]


@admin.register(MetricRecord)
class MetricRecordAdmin(RecordAdmin):
    list_display = ["metric", "seq", "logged_at"]
    list_filter = ["metric__kind"]
    search_fields = ["metric__name", "metric__run__id"]
