from django.contrib import admin

from mlstudio.admin import ListedInline
from registry import services
from registry.models import ModelAlias, ModelVersion, RegisteredModel


class DeleteThroughServices:
    """The admin's delete goes through the registry's service, like the API and the pages, so
    a deleted version's blobs are purged only when nothing else uses them."""

    def versions_of(self, objects) -> list[ModelVersion]:
        raise NotImplementedError

    def delete_model(self, request, obj):
        services.model_versions_delete(versions=self.versions_of([obj]))

    def delete_queryset(self, request, queryset):
        services.model_versions_delete(versions=self.versions_of(queryset))


class VersionInline(ListedInline):
    model = ModelVersion
    fields = ["version", "framework", "file_count", "total_size", "run_id_text", "created_at"]


@admin.register(RegisteredModel)
class RegisteredModelAdmin(DeleteThroughServices, admin.ModelAdmin):
    list_display = ["name", "workspace", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "workspace__name"]
    readonly_fields = ["created_at"]
    inlines = [VersionInline]

    def versions_of(self, objects) -> list[ModelVersion]:
        return list(ModelVersion.objects.filter(model__in=list(objects)).select_related("model"))


@admin.register(ModelVersion)
class ModelVersionAdmin(DeleteThroughServices, admin.ModelAdmin):
    list_display = [
        "__str__", "model", "version", "framework", "file_count", "total_size",
        "run_id_text", "experiment_name", "created_by", "created_at",
    ]  # fmt: skip
    list_filter = ["model__workspace", "framework", "created_at"]
    search_fields = ["model__name", "run_id_text", "experiment_name", "description"]
    # A version's files and lineage never change; only tags and description may.
    readonly_fields = [
        "model", "version", "root", "manifest", "file_count", "total_size", "run",
        "run_id_text", "experiment_name", "source_path", "lineage", "properties",
        "created_by", "created_at",
    ]  # fmt: skip

    def versions_of(self, objects) -> list[ModelVersion]:
        return list(objects)


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ["alias", "model", "version", "updated_at"]
    search_fields = ["alias", "model__name"]
    list_filter = ["model__workspace"]
