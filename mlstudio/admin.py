from collections.abc import Callable, Iterable

from django.contrib import admin, messages

from mlstudio.errors import UserError


class RecordAdmin(admin.ModelAdmin):
    """For rows the studio writes (runs, metrics, nodes, tokens): shown, searched, filtered,
    never typed in by hand, so every field is read-only and there is no Add button."""

    def get_readonly_fields(self, request, obj=None):
        shown = [f.name for f in self.model._meta.fields if f.name not in (self.exclude or ())]
        return [*shown, *self.readonly_fields]

    def has_add_permission(self, request):
        return False


class ListedInline(admin.TabularInline):
    """A record's children listed on its page, each linking to its own; none edited or
    deleted here, so every listed field is read-only."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields


def apply_each(model_admin: admin.ModelAdmin, request, objects: Iterable, action: Callable) -> int:
    """`action` on each object through its service; one the service refuses is named in an
    error message and the rest go on. How many it was applied to."""
    done = 0
    for obj in objects:
        try:
            action(obj)
            done += 1
        except UserError as exc:
            model_admin.message_user(request, exc.message, messages.ERROR)
    return done
