"""Sending runs' Celery tasks by name, so no module of `runs` imports `runs.tasks`: the tasks
sit on top of the services and the executor they call, and nothing below knows Celery."""

from __future__ import annotations

from celery import current_app
from celery.utils.nodenames import worker_direct

from mlstudio.errors import UserError
from runs.definition import RunDefinition
from runs.models import Run, RunStatus

CONTROL_QUEUE = "control"


class BrokerUnavailable(UserError):
    status = 503
    code = "broker_unavailable"


def run_enqueue(run: Run) -> None:
    """Send a just-created run's task; when the broker does not take it, remove the run again
    so nothing is stored halfway, and say what to do."""
    try:
        send_run_execute(run_id=run.pk, queue=RunDefinition.of(run.definition).queue)
    except Exception as exc:
        Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).delete()
        raise BrokerUnavailable(
            f"The studio's message broker did not take the run ({type(exc).__name__}: {exc}); "
            "nothing was submitted. Check that Redis runs (REDIS_URL, or the studio's private "
            "Redis in the data folder) and submit again."
        ) from None


def send_run_execute(*, run_id: str, queue: str) -> None:
    current_app.send_task("runs.tasks.run_execute", args=[run_id], queue=queue)


def send_run_execute_node(*, run_id: str, rank: int, master: tuple[str, int], node: str) -> None:
    """One node's part of a multi-node run, on that node's own queue (worker_direct), so every
    rank runs on a distinct node."""
    current_app.send_task(
        "runs.tasks.run_execute_node",
        args=[run_id, rank, master[0], master[1]],
        queue=worker_direct(node),
    )


def send_experiment_purge(*, run_ids: list[str], snapshot_ids: list[str]) -> None:
    current_app.send_task(
        "runs.tasks.experiment_purge",
        kwargs={"run_ids": run_ids, "snapshot_ids": snapshot_ids},
        queue=CONTROL_QUEUE,
    )
