"""Run lifecycle edges: cancel, lost workers, child runs, the metric transport's limits."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mlstudio.errors import UserError
from runs import executor, heartbeat, services, store
from runs.metric_pump import RunTreeIngestor
from runs.models import Run
from runs.submission import RunConfig
from runs.transport import TransportReader
from tests.processes import wait_until
from workspaces.services import api_token_authenticate, api_token_create


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="exp", user=owner)


@pytest.fixture
def started(owner, experiment):
    """A submitted run its executor has started: Running, with a run token."""
    run = services.run_submit(
        experiment=experiment, user=owner, snapshot=None,
        config=RunConfig.parse({"command": ["true"]}),
    )  # fmt: skip
    for status in ("Queued", "Preparing", "Starting", "Running"):
        services.run_transition(run_id=run.pk, to=status)
    token, raw = api_token_create(user=owner, name=f"run {run.pk}", workspace_name="lab")
    Run.objects.filter(pk=run.pk).update(api_token=token)
    run.refresh_from_db()
    run.raw_token = raw
    return run


def test_it_takes_a_second_cancel_calmly(started):
    first = services.run_cancel(run=started)
    second = services.run_cancel(run=started)
    assert first.status == second.status == "CancelRequested"


def test_it_cancels_an_interactive_run_and_its_children_at_once(owner, experiment):
    parent = services.run_start_interactive(experiment=experiment, user=owner)
    child = services.run_create_child(parent=parent)
    assert services.run_cancel(run=parent).status == "Canceled"
    child.refresh_from_db()
    assert child.status == "Failed" and "Parent run ended Canceled" in child.error["message"]
    assert services.run_cancel(run=parent).status == "Canceled"


def test_it_revokes_the_token_of_a_run_whose_worker_was_lost(started):
    Run.objects.filter(pk=started.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert services.runs_fail_lost(stale_after=timedelta(minutes=1)) == [started.pk]
    with pytest.raises(UserError, match="revoked"):
        api_token_authenticate(raw=started.raw_token)


@pytest.mark.parametrize("suffix", ["../escape", "a/b", ".hidden", "", "x y"])
def test_it_refuses_child_run_ids_that_are_not_plain_names(owner, experiment, suffix):
    parent = services.run_start_interactive(experiment=experiment, user=owner)
    with pytest.raises(UserError, match="followed by letters, digits"):
        services.run_create_child(parent=parent, run_id=f"{parent.pk}_{suffix}")
    assert not parent.children.exists()


def test_it_never_lets_a_script_upload_over_the_logs(started, tmp_path):
    store.AppendLog(started.pk, store.USER_LOG).append(b"the real log\n")
    (tmp_path / "abc123").write_text("forged")
    tree = RunTreeIngestor(started, staging=tmp_path).ingest(
        [{"op": "file", "name": store.USER_LOG, "staged": "abc123"}]
    )
    assert "written by the executor only" in tree.problems[0]
    assert store.read_log(started.pk, store.USER_LOG, 0)[0] == "the real log\n"


def test_it_skips_a_record_line_longer_than_a_read(tmp_path, monkeypatch):
    monkeypatch.setattr("runs.transport.READ_LIMIT", 1024)
    path = tmp_path / "metrics-1.jsonl"
    path.write_bytes(b'{"n": "a", "v": 1}\n' + b"x" * 5000 + b'\n{"n": "b", "v": 2}\n')
    reader = TransportReader(tmp_path, max_line=100)
    records = []
    while batch := reader.read():
        records += batch
    assert [r["n"] for r in records] == ["a", "b"]
    assert reader.malformed == 1


@pytest.mark.django_db(transaction=True)
def test_it_heartbeats_while_the_executor_is_busy_elsewhere(started, monkeypatch):
    monkeypatch.setattr(heartbeat, "HEARTBEAT_SECONDS", 0.05)
    Run.objects.filter(pk=started.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    beat = executor.Heartbeat(started.pk)
    beat.start()
    try:
        wait_until(
            lambda: (
                Run.objects.get(pk=started.pk).heartbeat_at > timezone.now() - timedelta(seconds=5)
            ),
            10,
            "a heartbeat",
        )
    finally:
        beat.stop()
