"""Sending runs' Celery tasks by name, so no module of `runs` imports `runs.tasks`: the tasks
sit on top of the services and the executor they call, and nothing below knows Celery."""

from __future__ import annotations

from celery import current_app
from celery.utils.nodenames import worker_direct

CONTROL_QUEUE = "control"


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
