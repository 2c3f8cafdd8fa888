from django.contrib import admin

from environments.models import Environment, EnvironmentVersion
from mlstudio.admin import ListedInline, RecordAdmin


class VersionInline(ListedInline):
    model = EnvironmentVersion
    fields = ["number", "content_hash", "build_status", "built_at", "created_by", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Environment)
class EnvironmentAdmin(RecordAdmin):
    list_display = ["name", "workspace", "is_curated", "created_at"]
    list_filter = [("workspace", admin.EmptyFieldListFilter), "workspace", "created_at"]
    search_fields = ["name", "workspace__name"]
    inlines = [VersionInline]

    @admin.display(boolean=True, description="curated")
    def is_curated(self, obj: Environment) -> bool:
        return obj.is_curated


@admin.register(EnvironmentVersion)
class EnvironmentVersionAdmin(RecordAdmin):
    """Versions are immutable: every field is read-only. The registry password is excluded
    outright, encrypted or not; `password set` says whether there is one."""

    list_display = [
        "environment",
        "number",
        "kind",
        "build_status",
        "short_hash",
        "password_set",
        "created_by",
        "created_at",
    ]
    list_filter = ["build_status", "environment__workspace", "created_at"]
    search_fields = ["environment__name", "environment__workspace__name", "content_hash"]
    exclude = ["registry_password_encrypted", "spec_digest"]
    readonly_fields = ["kind", "password_set"]

    @admin.display(description="hash")
    def short_hash(self, obj: EnvironmentVersion) -> str:
        return obj.content_hash[:16]

    @admin.display(boolean=True, description="password set")
    def password_set(self, obj: EnvironmentVersion) -> bool:
        return obj.password_set

    @admin.display(description="kind")
    def kind(self, obj: EnvironmentVersion) -> str:
        return obj.kind
