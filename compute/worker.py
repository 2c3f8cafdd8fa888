"""Worker-side hooks: a Celery worker registers itself as a node and heartbeats until it stops."""

from __future__ import annotations

import logging
import os
import threading

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)
_stop = threading.Event()


@worker_ready.connect
def _start_heartbeat(sender, **kwargs) -> None:
    name = sender.hostname
    queues = list(sender.app.amqp.queues.consume_from or [])
    concurrency = sender.pool.num_processes if hasattr(sender.pool, "num_processes") else 1
    _stop.clear()
    thread = threading.Thread(
        target=_beat, args=(name, queues, concurrency), name="node-heartbeat", daemon=True
    )
    thread.start()


def _beat(name: str, queues: list[str], concurrency: int) -> None:
    from compute.services import node_heartbeat

    while True:
        try:
            node_heartbeat(name=name, queues=queues, pid=os.getpid(), concurrency=concurrency)
        except Exception:
            logger.exception("node heartbeat failed; retrying")
        finally:
            close_old_connections()
        if _stop.wait(settings.MLSTUDIO_NODE_HEARTBEAT_SECONDS):
            return


@worker_shutdown.connect
def _stop_heartbeat(sender, **kwargs) -> None:
    from compute.services import node_stop

    _stop.set()
    try:
        node_stop(name=sender.hostname)
    except Exception:
        logger.exception("could not unregister node %s", sender.hostname)
