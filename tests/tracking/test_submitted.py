"""A submitted script that logs with MLflow: `mlflow.start_run()` attaches to its own run,
and what it logs reaches the run, live."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from mlstudio.asgi import application
from runs import services as runs_services
from runs import store
from runs.models import RunStatus
from tests.conftest import local_worker_process
from tests.runs.helpers import submit_script, wait_for_status
from tests.tracking.conftest import QUIET, token_for

pytestmark = pytest.mark.slow

TRAIN = """
import mlflow
with mlflow.start_run() as run:
    mlflow.log_param("depth", 4)
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.set_tag("via", "mlflow")
    print("ATTACHED", run.info.run_id, mlflow.get_experiment(run.info.experiment_id).name)
"""


@pytest.fixture
def mlflow_worker(live_server, tmp_path):
    """A worker whose runs know the studio's address (as `manage.py studio` sets it)."""
    log = tmp_path / "mlflow-worker.log"
    with local_worker_process(log, MLSTUDIO_PUBLIC_URL=live_server.url, **QUIET) as process:
        yield process


def test_it_attaches_mlflow_start_run_to_the_submitted_run(owner, workspace, api_as,
                                                           mlflow_worker):  # fmt: skip
    experiment = runs_services.experiment_create(workspace=workspace, name="mlf", user=owner)
    run_id = submit_script(api_as(owner), experiment, {"train.py": TRAIN})
    run = wait_for_status(run_id, RunStatus.COMPLETED, RunStatus.FAILED, timeout=120)
    log = store.run_file(run_id, store.USER_LOG).read_text()
    assert run.status == RunStatus.COMPLETED, log
    assert f"ATTACHED {run_id} mlf" in log
    assert run.mlflow.params == {"depth": "4"} and run.tags["via"] == "mlflow"
    assert run.metrics.get(name="loss").count == 3
    assert not run.children.exists() and experiment.runs.count() == 1


def test_it_says_in_the_system_log_when_mlflow_cannot_reach_the_studio(owner, workspace, api_as,
                                                                       local_worker):  # fmt: skip
    experiment = runs_services.experiment_create(workspace=workspace, name="off", user=owner)
    run_id = submit_script(api_as(owner), experiment, {"train.py": "print('hi')"})
    wait_for_status(run_id, RunStatus.COMPLETED, timeout=60)
    system = store.run_file(run_id, store.SYSTEM_LOG).read_text()
    assert "MLflow logging needs the studio reachable" in system


@pytest.mark.django_db(transaction=True)
async def test_it_pushes_mlflow_metrics_and_params_to_open_pages(tracking_uri, owner):
    """What a run page's websocket receives when a client logs: persisted, then pushed."""
    import mlflow

    # MLflow keeps the active run per thread: every fluent call goes through one thread, or
    # log_param lands in a pool thread with no active run and starts a run nobody watches.
    loop = asyncio.get_running_loop()
    client_thread = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    await loop.run_in_executor(client_thread, mlflow.set_experiment, "live")
    run = await loop.run_in_executor(client_thread, mlflow.start_run)
    token = await database_sync_to_async(token_for)(owner)
    socket = WebsocketCommunicator(
        application, f"/ws/runs/{run.info.run_id}/",
        headers=[(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())],
    )  # fmt: skip
    connected, _ = await socket.connect()
    assert connected

    def log_some():
        mlflow.log_param("lr", "0.1")
        mlflow.log_metric("loss", 0.25, step=7)

    await loop.run_in_executor(client_thread, log_some)
    events = {}
    while len(events) < 2:
        event = await socket.receive_json_from(timeout=30)
        if event["kind"] in ("params", "metric"):
            events[event["kind"]] = event
    await socket.disconnect()
    await loop.run_in_executor(client_thread, mlflow.end_run)
    client_thread.shutdown()
    assert events["params"]["params"] == {"lr": "0.1"}
    assert events["metric"]["metrics"]["loss"]["steps"] == [7.0]
    assert events["metric"]["metrics"]["loss"]["values"] == [0.25]
