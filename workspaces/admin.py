from django.contrib import admin

from mlstudio.admin import RecordAdmin
from workspaces.models import ApiToken, LoginLink, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name", "description"]
    list_filter = ["created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["workspace", "user", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["workspace__name", "user__username"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(ApiToken)
class ApiTokenAdmin(RecordAdmin):
    """Tokens are shown by prefix only; the digest is never displayed or editable."""

    list_display = [
        "name",
        "user",
        "workspace",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "workspace"]
    search_fields = ["name", "user__username", "prefix"]
    exclude = ["digest"]
    actions = ["revoke"]

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(LoginLink)
class LoginLinkAdmin(RecordAdmin):
    list_display = ["user", "created_at", "expires_at", "used_at"]
    list_filter = ["used_at", "expires_at"]
    search_fields = ["user__username"]
    exclude = ["digest"]
