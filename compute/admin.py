from django.contrib import admin

from compute import services
from compute.models import ComputeTarget, Node, SlotLease
from mlstudio.admin import RecordAdmin, apply_each


@admin.register(ComputeTarget)
class ComputeTargetAdmin(RecordAdmin):
    list_display = ["name", "workspace", "type", "min_nodes", "max_nodes", "provisioning_state"]
    list_filter = ["type", "provisioning_state", "workspace"]
    search_fields = ["name", "workspace__name", "vm_size", "docker_host"]

    def delete_model(self, request, obj):
        self.delete_queryset(request, [obj])

    def delete_queryset(self, request, queryset):
        """Through target_delete, so a target with active runs (or `local`) stays."""
        apply_each(self, request, queryset, lambda target: services.target_delete(target=target))


@admin.register(Node)
class NodeAdmin(RecordAdmin):
    list_display = ["name", "hostname", "target_queue", "slots", "busy_slots", "heartbeat_at"]
    list_filter = ["hostname", "target_queue", "heartbeat_at"]
    search_fields = ["name", "hostname", "queues"]


@admin.register(SlotLease)
class SlotLeaseAdmin(RecordAdmin):
    list_display = ["holder", "target", "node", "requested_at", "granted_at"]
    list_filter = ["granted_at"]
    search_fields = ["holder", "node", "target__name", "target__workspace__name"]
