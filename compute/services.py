from __future__ import annotations

import socket

from django.utils import timezone

from compute.models import Node

VERSION = "0.1.0"


def node_heartbeat(*, name: str, queues: list[str], pid: int, concurrency: int) -> Node:
    now = timezone.now()
    facts = {
        "hostname": socket.gethostname(),
        "queues": ",".join(sorted(queues)),
        "pid": pid,
        "concurrency": concurrency,
        "version": VERSION,
        "heartbeat_at": now,
    }
    node, _ = Node.objects.update_or_create(
        name=name, defaults=facts, create_defaults={**facts, "started_at": now}
    )
    return node


def node_stop(*, name: str) -> None:
    Node.objects.filter(name=name).delete()
