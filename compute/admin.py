from django.contrib import admin

from compute.models import Node


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["name", "hostname", "queues", "concurrency", "heartbeat_at", "started_at"]
    list_filter = ["hostname", "heartbeat_at"]
    search_fields = ["name", "hostname", "queues"]
    readonly_fields = [f.name for f in Node._meta.fields]

    def has_add_permission(self, request):
        return False
