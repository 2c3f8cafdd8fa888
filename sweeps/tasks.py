"""Short controller steps. Each takes the sweep's parent run id, re-reads the database and is
safe to repeat; none waits for children."""

from celery import shared_task

from sweeps import services


@shared_task(ignore_result=True, acks_late=True)
def sweep_advance(parent_id: str) -> None:
    services.sweep_advance(parent_id=parent_id)


@shared_task(ignore_result=True, acks_late=True)
def sweep_judge(parent_id: str) -> None:
    services.sweep_judge(parent_id=parent_id)


@shared_task(ignore_result=True)
def sweeps_reconcile() -> int:
    """Beat: carry on every unfinished sweep, so a lost task or a restart loses nothing."""
    return services.sweeps_reconcile()
