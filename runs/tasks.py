from datetime import timedelta

from celery import shared_task
from django.conf import settings

from runs import deleting, executor, faults, services


@shared_task(bind=True, acks_late=True, ignore_result=True)
def run_execute(self, run_id: str) -> None:
    """Execute one run. Safe to redeliver: the executor claims the run before doing anything."""
    try:
        executor.execute(run_id, worker=self.request.hostname or "unknown")
    except BaseException as exc:
        faults.run_unclaimed(run_id=run_id, error=exc)  # no run stays Queued for a dead task
        raise


@shared_task(bind=True, acks_late=True, ignore_result=True)
def run_execute_node(self, run_id: str, rank: int, master_addr: str, master_port: int) -> None:
    """One node's part of a multi-node run, sent by its leader to this node's own queue."""
    executor.execute_node(run_id, rank=rank, master=(master_addr, master_port),
                 worker=self.request.hostname or "unknown")  # fmt: skip


@shared_task(ignore_result=True)
def runs_fail_lost() -> list[str]:
    faults.runs_requeue_lost()  # and Queued runs whose task is gone get it again
    return services.runs_fail_lost(
        stale_after=timedelta(seconds=settings.MLSTUDIO_RUN_HEARTBEAT_TIMEOUT)
    )


@shared_task(ignore_result=True)
def runs_queue_positions() -> int:
    return services.runs_queue_positions()


@shared_task(ignore_result=True)
def experiment_purge(run_ids: list[str], snapshot_ids: list[str]) -> None:
    """Purge the files of a deleted experiment's runs; experiment_delete queues it on the
    control queue. Safe to redeliver."""
    deleting.experiment_purge(run_ids=run_ids, snapshot_ids=snapshot_ids)
