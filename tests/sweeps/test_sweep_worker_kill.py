"""The controller is Celery tasks over the sweep's stored state, so a control worker killed
mid-sweep (kill -9), together with every controller message it held, loses nothing: a new
worker and the reconcile beat carry the sweep on to an honest end. Real workers, a real
beat, a real SIGKILL."""

import os
import signal
import subprocess
import sys

import pytest

from mlstudio.sdk import Experiment, ScriptRunConfig, Workspace
from mlstudio.sdk.train.hyperdrive import GridParameterSampling, HyperDriveConfig, choice
from runs.models import Metric, Run
from sweeps.models import Sweep, Trial
from tests import processes
from tests.sweeps.children import acc_child
from workspaces import services

pytestmark = pytest.mark.slow

TRAIN = acc_child("args.quality * (epoch + 1) / 3", pause=0.5)
QUALITIES = (0.3, 0.9, 0.5, 0.7, 0.2, 0.6)


def _status(run_id: str) -> str | None:
    return Run.objects.filter(pk=run_id).values_list("status", flat=True).first()


def test_a_killed_control_worker_loses_nothing(live_server, owner, workspace, local_worker,
                                               tmp_path):  # fmt: skip
    token = services.api_token_create(user=owner, name="sdk")[1]
    ws = Workspace(name="lab", url=live_server.url, token=token)
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(TRAIN)
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=folder, script="train.py"),
        hyperparameter_sampling=GridParameterSampling({"quality": choice(*QUALITIES)}),
        primary_metric_name="acc", primary_metric_goal="MAXIMIZE",
        max_total_runs=len(QUALITIES), max_concurrent_runs=2,
    )  # fmt: skip
    _, controller = processes.start_worker(["control"], log=tmp_path / "control-1.log")
    run = Experiment(ws, "tune").submit(config)
    first = [f"{run.id}_1", f"{run.id}_2"]
    processes.wait_until(lambda: _status(first[0]) == "Running" and _status(first[1]), 120,
                         "the first child to run and the second to be queued")  # fmt: skip

    os.killpg(controller.pid, signal.SIGKILL)  # the controller dies, mid-sweep
    controller.wait()
    processes.wait_until(lambda: all(_status(c) == "Completed" for c in first), 60,
                         "the children to end without a controller")  # fmt: skip
    assert Run.objects.filter(parent_id=run.id).count() == 2  # nobody launched more
    # What the killed worker held is gone with it: drop every controller message in flight,
    # so only the stored state and the reconcile beat can carry the sweep on.
    purge = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "mlstudio.celery", "purge", "-f", "-Q", "control"],
        cwd=processes.REPO, env={**os.environ, "DATABASE_URL": processes.test_database_url()},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert purge.returncode == 0, purge.stderr

    _, controller = processes.start_worker(["control"], log=tmp_path / "control-2.log")
    beat = _start_beat(tmp_path)
    try:
        processes.wait_until(lambda: _status(run.id) in ("Completed", "Failed", "Canceled"),
                             180, "the sweep to end")  # fmt: skip
    finally:
        processes.stop(beat)
        processes.stop(controller)

    run.get_details()
    assert run.get_status() == "Completed", run.get_details()
    children = list(Run.objects.filter(parent_id=run.id).order_by("number"))
    assert [c.pk for c in children] == [f"{run.id}_{n}" for n in range(1, 7)]  # no gap, no twin
    assert {c.status for c in children} == {"Completed"}
    trials = Trial.objects.filter(sweep_id=run.id).order_by("number")
    assert [t.hyperparameters["--quality"] for t in trials] == list(QUALITIES)
    assert Metric.objects.filter(run__parent_id=run.id, name="acc", count=3).count() == 6
    best = run.get_best_run_by_primary_metric()
    assert best.id == f"{run.id}_2"  # quality 0.9
    assert Run.objects.get(pk=run.id).status_detail.startswith(f"best {run.id}_2: acc 0.9")
    assert Sweep.objects.get(pk=run.id).state == Sweep.State.ENDED


def _start_beat(tmp_path):
    env = {**os.environ, "DATABASE_URL": processes.test_database_url()}
    with open(tmp_path / "beat.log", "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mlstudio.celery", "beat",
             "-s", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"],
            cwd=processes.REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
