"""How a run ends when its executor cannot finish it normally: the worker is stopped, the
task fails before it claims its run, the broker does not answer at submit.

Every path ends the run with a status and a reason a person can read, or hands it back to
the queue; none leaves it Queued or Running with nobody working on it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from mlstudio.errors import UserError
from mlstudio.processes import STOPPING_MARK
from runs.models import Run, RunStatus
from runs.services import run_transition

logger = logging.getLogger(__name__)


class BrokerUnavailable(UserError):
    status = 503
    code = "broker_unavailable"


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
        from runs.tasks import run_execute

        try:
            run_execute.apply_async(args=[run.pk], queue=run.definition["queue"])
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


def run_enqueue_or_withdraw(*, run: Run, send) -> None:
    """Send a just-created run's task; when the broker does not take it, remove the run again
    so nothing is stored halfway, and say what to do."""
    try:
        send()
    except Exception as exc:
        Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).delete()
        raise BrokerUnavailable(
            f"The studio's message broker did not take the run ({type(exc).__name__}: {exc}); "
            "nothing was submitted. Check that Redis runs (REDIS_URL, or the studio's private "
            "Redis in the data folder) and submit again."
        ) from None


def container_oom_killed(name: str | None) -> bool:
    """Whether Docker recorded that the run's container was killed for lack of memory."""
    if name is None:
        return False
    from environments import docker as envdocker

    try:
        return envdocker.container_state(name).get("OOMKilled") is True
    except Exception:  # the engine or the container is gone: no record to go by
        return False
