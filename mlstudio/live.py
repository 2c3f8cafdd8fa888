"""The one place that publishes to browsers over the channel layer.

Producers persist first, then call these helpers; consumers only forward what arrives.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def workspace_group(workspace_id: int) -> str:
    return f"workspace-{workspace_id}"


def publish(group: str, event: dict) -> None:
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(group, {"type": "live.event", "event": event})
