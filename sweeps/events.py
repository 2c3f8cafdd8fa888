"""How sweeps ask for their controller steps: Celery tasks sent by name to the control queue,
after the transaction that caused them commits. Services call these, never Celery itself."""

from __future__ import annotations

from django.db import transaction

from mlstudio import live


def _send(name: str, parent_id: str) -> None:
    from mlstudio.celery import app

    app.send_task(name, args=[parent_id], queue="control")


def advance_later(parent_id: str) -> None:
    """Launch, end or stop children of the sweep as its state says."""
    transaction.on_commit(lambda: _send("sweeps.tasks.sweep_advance", parent_id))


def judge_later(parent_id: str) -> None:
    """Apply the early termination policy to the sweep's running children."""
    transaction.on_commit(lambda: _send("sweeps.tasks.sweep_judge", parent_id))


def changed(parent_id: str, child_id: str) -> None:
    """Tell the sweep's open pages that a child moved or logged; they read the new state."""
    live.publish(live.run_group(parent_id), live.sweep_event(run_id=parent_id, child=child_id))
