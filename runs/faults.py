"""How a run ends when its executor cannot finish it normally: the worker is stopped, or the
task fails before it claims its run (a broker that does not answer at submit: runs.queueing).

Every path ends the run with a status and a reason a person can read, or hands it back to
the queue; none leaves it Queued or Running with nobody working on it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from environments import containers
from mlstudio.processes import STOPPING_MARK
from runs import queueing
from runs.definition import RunDefinition
from runs.models import Run, RunStatus
from runs.services import run_transition

logger = logging.getLogger(__name__)
NEARLY_FULL_BYTES = 64 * 1024 * 1024
# A Queued run's task counts as lost after this long with a free node that never took it.
REQUEUE_AFTER = timedelta(seconds=60)


def stopping_mark() -> Path:
    return Path(settings.DATA_DIR) / STOPPING_MARK


def stop_reason() -> tuple[str, str]:
    """The final status and reason of a run whose worker is being stopped under it."""
    if stopping_mark().exists():
        return RunStatus.CANCELED, "studio stopped"
    return RunStatus.CANCELED, "node stopped"


def run_unclaimed(*, run_id: str, error: BaseException) -> None:
    """The task of a run failed before the run left Queued: a stop hands the run back to its
    queue, anything else fails it with the error, so it never waits for a task that is gone."""
    run = Run.objects.filter(pk=run_id, status=RunStatus.QUEUED).first()
    if run is None:
        return
    if isinstance(error, SystemExit | KeyboardInterrupt):
        try:
            # The stopping worker's claim goes with it, so another worker may take the run.
            Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(worker="")
            queueing.send_run_execute(run_id=run.pk, queue=RunDefinition.of(run.definition).queue)
            logger.info("run %s handed back to its queue: its worker is stopping", run_id)
            return
        except Exception as exc:  # the broker is going away too
            error = exc
            message = f"{stop_reason()[1]} before the run started; resubmit it."
    else:
        message = f"The run's task failed before the run started ({type(error).__name__}: {error})."
    run_transition(
        run_id=run_id, to=RunStatus.FAILED, detail=message[:200], error={"message": message}
    )


def container_oom_killed(name: str | None) -> bool:
    """Whether Docker recorded that the run's container was killed for lack of memory."""
    if name is None:
        return False
    try:
        return containers.container_state(name).get("OOMKilled") is True
    except Exception:  # the engine or the container is gone: no record to go by
        return False


def disk_full(error: BaseException) -> bool:
    """Whether `error` says the disk is full: a write's ENOSPC, or SQLite's own words for it."""
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    return isinstance(error, DatabaseError) and "disk is full" in str(error)


def data_folder_full_message() -> str:
    free = shutil.disk_usage(settings.DATA_DIR).free // (1024 * 1024)
    return f"no space left on the data folder ({free} MB free)"


def execution_end_on_full_disk(execution) -> None:
    """End a run whose end could not be recorded for lack of disk space: stop its processes,
    free its working folder first (which is what filled the disk, most often), then record
    it Failed with the space that is left."""
    with contextlib.suppress(Exception):
        execution.kill()
    shutil.rmtree(execution.workdir, ignore_errors=True)
    message = data_folder_full_message()
    advice = (f"{message[0].upper()}{message[1:]}: the run's working folder was removed. Free "
              f"space in {settings.DATA_DIR} (or move MLSTUDIO_DATA_DIR to a larger disk) and "
              "submit it again.")  # fmt: skip
    run_transition(
        run_id=execution.run.pk, to=RunStatus.FAILED, detail=message, error={"message": advice}
    )


def executor_error_message(error: Exception) -> str:
    if disk_full(error):
        return data_folder_full_message()
    return f"Executor error: {error}"


def name_a_full_disk(error: dict) -> dict:
    """A script that failed writing to a full data folder: say so first, keep its traceback."""
    said = error.get("traceback", "") + error.get("message", "")
    if "No space left on device" not in said:
        return error
    if shutil.disk_usage(settings.DATA_DIR).free >= NEARLY_FULL_BYTES:
        return error  # its own disk, not the data folder, was full
    return {**error, "message": f"{data_folder_full_message()}: {error['message']}"}


def runs_requeue_lost(*, waited: timedelta = REQUEUE_AFTER) -> list[str]:
    """Send again the task of each run Queued longer than `waited` whose task is gone: its
    waiting node went offline, or a live node of its queue has a free slot yet never took it
    (the task died with a worker killed while it held it unacknowledged). A second task is
    harmless: the executor claims its run with a conditional update."""
    from compute.models import Node, SlotLease
    from compute.selectors import NodeState, node_state
    from runs.queueing import send_run_execute

    cutoff = timezone.now() - waited
    live = [node for node in Node.objects.all() if node_state(node) != NodeState.OFFLINE]
    online = {node.name for node in live}
    free = {q for node in live if node.busy_slots < node.slots for q in node.queues.split(",")}
    stale = Q(heartbeat_at__isnull=True, created_at__lt=cutoff) | Q(heartbeat_at__lt=cutoff)
    sent = []
    for run in Run.objects.filter(stale, status=RunStatus.QUEUED):
        lease = SlotLease.objects.filter(holder=run.pk).first()
        if lease is not None and lease.node in online:
            continue  # it waits its turn on a live node
        if lease is None and RunDefinition.of(run.definition).queue not in free:
            continue  # it waits in the broker for a node with a free slot
        SlotLease.objects.filter(holder=run.pk).delete()
        Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(heartbeat_at=timezone.now())
        send_run_execute(run_id=run.pk, queue=RunDefinition.of(run.definition).queue)
        logger.warning("run %s was Queued for %s with no task working on it; sent it again",
                       run.pk, waited)  # fmt: skip
        sent.append(run.pk)
    return sent
