from django.contrib import admin

from compute.models import Node
from mlstudio.admin import RecordAdmin


@admin.register(Node)
class NodeAdmin(RecordAdmin):
    list_display = ["name", "hostname", "queues", "concurrency", "heartbeat_at", "started_at"]
    list_filter = ["hostname", "heartbeat_at"]
    search_fields = ["name", "hostname", "queues"]
