from django.contrib import admin

from sweeps.models import Sweep, Trial


class TrialInline(admin.TabularInline):
    model = Trial
    fields = ("number", "run", "hyperparameters", "stop_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Sweep)
class SweepAdmin(admin.ModelAdmin):
    list_display = ("run", "state", "launched", "metric", "best_run", "updated_at")
    list_filter = ("state",)
    search_fields = ("run__id", "run__experiment__name")
    readonly_fields = ("run", "config", "base", "state", "launched", "seed", "warm", "resume",
                       "ending", "best_run", "updated_at")  # fmt: skip
    inlines = [TrialInline]

    @admin.display(description="primary metric")
    def metric(self, sweep: Sweep) -> str:
        return f"{sweep.metric} ({sweep.config['primary_metric_goal']})"


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ("run", "sweep", "number", "stop_reason")
    search_fields = ("run__id",)
    readonly_fields = ("sweep", "number", "run", "hyperparameters", "stop_reason")
