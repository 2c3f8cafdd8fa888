from django.contrib import admin


class RecordAdmin(admin.ModelAdmin):
    """For rows the studio writes (runs, metrics, nodes, tokens): shown, searched, filtered,
    never typed in by hand, so every field is read-only and there is no Add button."""

    def get_readonly_fields(self, request, obj=None):
        shown = [f.name for f in self.model._meta.fields if f.name not in (self.exclude or ())]
        return [*shown, *self.readonly_fields]

    def has_add_permission(self, request):
        return False
