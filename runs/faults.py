"""How a run ends when its executor cannot finish it normally: the worker is stopped, or the
task fails before it claims its run (a broker that does not answer at submit: runs.queueing).

Every path ends the run with a status and a reason a person can read, or hands it back to
the queue; none leaves it Queued or Running with nobody working on it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from environments import containers
from mlstudio.processes import STOPPING_MARK
from runs import queueing
from runs.models import Run, RunStatus
from runs.services import run_transition

logger = logging.getLogger(__name__)


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
            queueing.send_run_execute(run_id=run.pk, queue=run.definition["queue"])
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
