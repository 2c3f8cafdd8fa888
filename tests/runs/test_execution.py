"""The executor's lifecycle in this process, without a Celery worker: the claim, the
transitions a run goes through, and a cancel noticed while the script runs."""

import sys
import threading
import time

import pytest

from compute.models import SlotLease
from compute.services import node_heartbeat, slot_claim, target_create
from runs import executor, heartbeat, services, store
from runs.models import Run
from runs.submission import RunConfig
from tests.runs.helpers import wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="exp", user=owner)


def submitted(owner, experiment, code: str) -> Run:
    config = RunConfig.parse({"command": [sys.executable, "-c", code]})
    return services.run_submit(experiment=experiment, user=owner, snapshot=None, config=config)


def statuses(run_id: str) -> list[str]:
    return [entry["status"] for entry in Run.objects.get(pk=run_id).status_history]


def test_it_takes_a_run_from_queued_to_completed(owner, experiment):
    run = submitted(owner, experiment, "print('hello from the script')")
    executor.execute(run.pk, worker="in-process@test")
    assert statuses(run.pk)[-5:] == ["Preparing", "Starting", "Running", "Finalizing", "Completed"]
    assert "hello from the script" in store.read_log(run.pk, store.USER_LOG, 0)[0]
    assert Run.objects.get(pk=run.pk).exit_code == 0


def test_a_failing_script_fails_the_run_with_its_traceback(owner, experiment):
    run = submitted(owner, experiment, "raise ValueError('bad value')")
    executor.execute(run.pk, worker="in-process@test")
    ended = Run.objects.get(pk=run.pk)
    assert ended.status == "Failed" and "ValueError: bad value" in ended.error["message"]


def test_a_second_delivery_loses_the_claim_and_leaves_the_winners_slot(
    owner, workspace, experiment
):
    target = target_create(workspace=workspace, user=owner, name="gpu", type="cluster",
                           vm_size="STANDARD_NC6", max_nodes=1)  # fmt: skip
    node_heartbeat(name="winner@live", queues=[target.queue], pid=1, concurrency=1)
    run = submitted(owner, experiment, "print(1)")
    # The first delivery claimed the run and holds its slot, still waiting to start it.
    assert executor.run_claim(run_id=run.pk, worker="winner@live")
    assert slot_claim(target=target, holder=run.pk, node="winner@live",
                      requested_at=run.created_at)  # fmt: skip
    executor.execute(run.pk, worker="loser@other")
    assert Run.objects.get(pk=run.pk).status == "Queued"
    assert SlotLease.objects.get(holder=run.pk).node == "winner@live"


def test_it_stops_the_script_when_the_run_is_canceled(owner, experiment):
    run = submitted(owner, experiment, "import time; print('up', flush=True); time.sleep(60)")
    worker = threading.Thread(target=executor.execute, args=(run.pk,),
                              kwargs={"worker": "in-process@test"})  # fmt: skip
    worker.start()
    wait_for_status(run.pk, "Running")
    services.run_cancel(run=Run.objects.get(pk=run.pk))
    worker.join(30)
    assert not worker.is_alive()
    assert Run.objects.get(pk=run.pk).status == "Canceled"


@pytest.mark.parametrize(
    "period, wake_up_lost",
    [(0.05, True), (60, False)],
    ids=["by-its-own-conditional-update", "by-the-wake-up-long-before-its-next-beat"],
)
def test_the_heartbeat_notices_a_cancel(owner, experiment, monkeypatch, period, wake_up_lost):
    monkeypatch.setattr(heartbeat, "HEARTBEAT_SECONDS", period)
    if wake_up_lost:  # as if Redis lost it: a fake wake that sends nothing
        monkeypatch.setattr("runs.services.wakeups.wake", lambda name: None)
    run = submitted(owner, experiment, "print(1)")
    for status in ("Preparing", "Starting", "Running"):
        services.run_transition(run_id=run.pk, to=status)
    beat = executor.Heartbeat(run.pk)
    beat.start()
    try:
        assert not beat.left_active.wait(0.5)
        canceled_at = time.monotonic()
        services.run_cancel(run=Run.objects.get(pk=run.pk))
        assert beat.left_active.wait(10)
        assert time.monotonic() - canceled_at < 10  # a 60 s period alone would not see it
    finally:
        stopping_at = time.monotonic()
        beat.stop()
    assert time.monotonic() - stopping_at < 5  # its stop does not wait out the period


def test_a_sweep_failing_a_running_trial_stops_its_script_at_once(owner, experiment, monkeypatch):
    monkeypatch.setattr(heartbeat, "HEARTBEAT_SECONDS", 60)
    run = submitted(owner, experiment, "import time; print('up', flush=True); time.sleep(60)")
    worker = threading.Thread(target=executor.execute, args=(run.pk,),
                              kwargs={"worker": "in-process@test"})  # fmt: skip
    worker.start()
    wait_for_status(run.pk, "Running")
    failed_at = time.monotonic()
    services.run_complete(run=Run.objects.get(pk=run.pk), failed=True, error="stopped early")
    worker.join(30)
    assert not worker.is_alive() and time.monotonic() - failed_at < 30
    ended = Run.objects.get(pk=run.pk)
    assert ended.status == "Failed" and ended.error["message"] == "stopped early"
    assert "Cancel requested: stopped early" in store.read_log(run.pk, store.SYSTEM_LOG, 0)[0]


def test_it_reads_the_output_while_the_running_transition_waits(owner, experiment, monkeypatch):
    recorded = threading.Event()
    slow_database = executor.Solo.started

    def started_slowly(self, execution):  # a fake: the database as slow as under a burst
        time.sleep(2)
        slow_database(self, execution)
        recorded.set()

    monkeypatch.setattr(executor.Solo, "started", started_slowly)
    run = submitted(owner, experiment, "import time; print('up', flush=True); time.sleep(3)")
    worker = threading.Thread(target=executor.execute, args=(run.pk,),
                              kwargs={"worker": "in-process@test"})  # fmt: skip
    worker.start()
    deadline = time.monotonic() + 30
    while "up" not in store.read_log(run.pk, store.USER_LOG, 0)[0] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not recorded.is_set()  # the line was stored before Running was
    worker.join(30)
    assert statuses(run.pk)[-3:] == ["Running", "Finalizing", "Completed"]


def test_a_failed_running_transition_stops_the_script(owner, experiment, monkeypatch):
    def started_badly(self, execution):  # a fake: the database refuses the write
        raise RuntimeError("database is gone")

    monkeypatch.setattr(executor.Solo, "started", started_badly)
    run = submitted(owner, experiment, "import time; print('up', flush=True); time.sleep(60)")
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="database is gone"):
        executor.execute(run.pk, worker="in-process@test")
    assert time.monotonic() - began < 30  # not the script's 60 s
    ended = Run.objects.get(pk=run.pk)
    assert ended.status == "Failed" and "database is gone" in ended.error["message"]
