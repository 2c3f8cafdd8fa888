"""A submit while the broker is down is refused with a reason and stores nothing; a run whose
task dies before it claims the run does not stay Queued."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from mlstudio.celery import app
from runs import faults, services
from runs.models import Run, RunStatus
from tests.faults.studio import fault_table_add

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker_down():
    """The Celery app's broker pointed at a port where nothing listens."""
    kept = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    _forget_connections()
    yield
    app.conf.broker_url = kept
    _forget_connections()


def _forget_connections() -> None:
    app._pool = None
    app.amqp._producer_pool = None


def test_it_refuses_a_submit_the_broker_does_not_take_and_stores_nothing(
    owner, workspace, api_as, broker_down
):
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    submitted = time.monotonic()
    response = api_as(owner).post(
        f"/api/workspaces/lab/experiments/{experiment.pk}/runs",
        {"config": {"command": ["python", "-c", "print(1)"]}},
        content_type="application/json",
    )
    assert response.status_code == 503, response.content
    assert "nothing was submitted" in response.json()["detail"]
    assert "Redis" in response.json()["detail"]
    assert not Run.objects.exists()
    fault_table_add("broker down at submit (503, nothing stored)", since=submitted)


def test_it_fails_a_run_whose_task_died_before_claiming_it(owner, workspace):
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    queued = {"status": RunStatus.QUEUED, "definition": {"queue": "target-local"}}
    run = Run.objects.create(id="exp_1", experiment=experiment, number=1, **queued)
    faults.run_unclaimed(run_id=run.pk, error=RuntimeError("database is gone"))
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "failed before the run started (RuntimeError: database is gone)" in run.error["message"]


def test_it_sends_again_the_task_of_a_run_no_free_node_ever_took(owner, workspace):
    from compute.services import node_heartbeat

    node_heartbeat(name="local@here", queues=["target-local"], pid=1, concurrency=2, slots=2)
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    queued = {"status": RunStatus.QUEUED, "definition": {"queue": "target-local"}}
    lost = Run.objects.create(id="exp_1", experiment=experiment, number=1, **queued)
    fresh = Run.objects.create(id="exp_2", experiment=experiment, number=2, **queued)
    Run.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert faults.runs_requeue_lost() == [lost.pk]
    assert faults.runs_requeue_lost() == []  # not again before another wait
    assert Run.objects.get(pk=fresh.pk).heartbeat_at is None
