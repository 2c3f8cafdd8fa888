from django.contrib import admin

from data.models import Dataset, DatasetUse, DatasetVersion, Datastore, DatastoreFile


@admin.register(Datastore)
class DatastoreAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "kind", "local_path", "created_at"]
    list_filter = ["workspace", "kind"]
    search_fields = ["name", "workspace__name", "local_path"]
    readonly_fields = ["created_at"]


@admin.register(DatastoreFile)
class DatastoreFileAdmin(admin.ModelAdmin):
    list_display = ["path", "datastore", "size", "sha256", "updated_at"]
    list_filter = ["datastore__workspace", "datastore"]
    search_fields = ["path", "sha256"]
    # A path's bytes change only through an upload, which checks the blob is there.
    readonly_fields = ["datastore", "path", "sha256", "size", "mode", "updated_at"]


class VersionInline(admin.TabularInline):
    model = DatasetVersion
    fields = ["version", "kind", "file_count", "total_size", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "workspace__name"]
    inlines = [VersionInline]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "file_count", "total_size", "created_by", "created_at"]
    list_filter = ["dataset__workspace", "kind", "created_at"]
    search_fields = ["dataset__name", "description"]
    # A version is immutable: its files and definition never change; tags and text may.
    readonly_fields = ["uid", "dataset", "version", "kind", "definition", "manifest",
                       "file_count", "total_size", "created_by", "created_at"]  # fmt: skip

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting goes through dataset_version_delete, which keeps shared blobs


@admin.register(DatasetUse)
class DatasetUseAdmin(admin.ModelAdmin):
    list_display = ["version", "run_id", "role", "input_name", "mode", "created_at"]
    list_filter = ["role", "mode"]
    search_fields = ["run_id", "version__dataset__name"]
