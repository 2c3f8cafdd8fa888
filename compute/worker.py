"""Worker-side hooks: a Celery worker registers itself as a node and heartbeats until it stops.

Each heartbeat carries what the node list and target status show: slots (the top of the
autoscale range), processes now, runs executing now, CPU and GPU count, and a problem when the
node cannot work (its Docker engine does not answer). A node whose target was deleted stops.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading

import psutil
from celery.signals import task_postrun, task_prerun, worker_init, worker_ready, worker_shutdown
from django.conf import settings

from compute.broker import keep_workers_up_on_broker_loss
from compute.queues import LOCAL_TARGET, QUEUE_PREFIX, target_queue
from mlstudio import forksafe, sandbox

logger = logging.getLogger(__name__)
_stop = threading.Event()
LOCAL_QUEUE = target_queue(LOCAL_TARGET)


@worker_init.connect
def _arm_fork_safety(sender, **kwargs) -> None:
    forksafe.arm()  # before the pool forks its first process
    keep_workers_up_on_broker_loss()


@worker_ready.connect
def _start_heartbeat(sender, **kwargs) -> None:
    sandbox.isolation()  # logs, once, how this node's runs are isolated
    _stop.clear()
    thread = threading.Thread(target=_beat, args=(sender,), name="node-heartbeat", daemon=True)
    thread.start()


def _beat(consumer) -> None:
    hardware = {"cpu_count": cpu_count(), "gpu_count": gpu_count(),
                "memory_bytes": psutil.virtual_memory().total}  # fmt: skip
    while True:
        try:
            with forksafe.database_turn():
                if not _heartbeat(consumer, hardware):
                    return
        except Exception:
            logger.exception("node heartbeat failed; retrying")
        if _stop.wait(settings.MLSTUDIO_NODE_HEARTBEAT_SECONDS):
            return


def _heartbeat(consumer, hardware: dict) -> bool:
    """Send one heartbeat; False (and a warm shutdown) when the node's target is gone."""
    from celery.worker import state as worker_state

    from compute.models import TargetType
    from compute.selectors import target_of_queue
    from compute.services import docker_engine_check, node_heartbeat

    queues = sorted(consumer.app.amqp.queues.consume_from or [])
    served = next((q for q in queues if q.startswith(QUEUE_PREFIX)), None)
    problem = ""
    if served not in (None, LOCAL_QUEUE):
        target = target_of_queue(served)
        if target is None:
            logger.error(
                "The compute target of queue %s does not exist (deleted?); stopping this node.",
                served,
            )
            os.kill(os.getpid(), signal.SIGTERM)
            return False
        if target.type == TargetType.DOCKER:
            problem = docker_engine_check(target=target)
    controller = consumer.controller
    processes = getattr(consumer.pool, "num_processes", 1)
    node_heartbeat(
        name=consumer.hostname,
        queues=queues,
        pid=os.getpid(),
        concurrency=processes,
        slots=controller.max_concurrency if controller.autoscale else processes,
        busy_slots=len(worker_state.active_requests),
        problem=problem,
        **hardware,
    )
    return True


@worker_shutdown.connect
def _stop_heartbeat(sender, **kwargs) -> None:
    from compute.services import node_stop

    _stop.set()
    try:
        node_stop(name=sender.hostname)
    except Exception:
        logger.exception("could not unregister node %s", sender.hostname)


@task_prerun.connect
def _run_started(sender=None, task=None, **kwargs) -> None:
    _count_busy(task, +1)


@task_postrun.connect
def _run_ended(sender=None, task=None, **kwargs) -> None:
    _count_busy(task, -1)


def _count_busy(task, delta: int) -> None:
    """Show a run starting or ending at once; the next heartbeat recounts exactly. Runs in the
    pool process that executes the task."""
    request = getattr(task, "request", None)
    queue = ((request and request.delivery_info) or {}).get("routing_key") or ""
    if not queue.startswith(QUEUE_PREFIX) or not request.hostname:
        return
    from compute.services import node_busy_change

    try:
        node_busy_change(name=request.hostname, delta=delta)
    except Exception:
        logger.warning("could not count a run on node %s", request.hostname, exc_info=True)


def cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gpu_count() -> int:
    """NVIDIA GPUs as `nvidia-smi -L` lists them; 0 without the tool."""
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return 0
    try:
        listing = subprocess.run(
            [nvidia_smi, "-L"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))
