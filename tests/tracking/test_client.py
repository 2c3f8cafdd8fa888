"""An MLflow script, unchanged, logging into MLStudio through the real `mlflow` client."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import pytest
from mlflow import MlflowClient

from runs import metrics as run_metrics
from runs import store
from runs.models import Experiment, Run, RunStatus
from tests.runs.test_runs_table import table_of
from tests.tracking.conftest import QUIET, token_for

pytestmark = pytest.mark.slow


def test_it_logs_a_whole_run_into_the_same_mlstudio_run(tracking_uri, tmp_path):
    mlflow.set_experiment("mnist")
    with mlflow.start_run(run_name="baseline") as active:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"epochs": 3, "optimizer": "adam"})
        for step in range(3):
            mlflow.log_metric("loss", 1 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.75, "f1": 0.5}, step=2)
        mlflow.set_tag("team", "vision")
        (tmp_path / "notes.txt").write_text("hello")
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "a.csv").write_text("x,y\n1,2\n")
        mlflow.log_artifacts(str(tmp_path / "data"), artifact_path="tables")
        mlflow.log_dict({"layers": [64, 10]}, "config/model.json")
        figure, axes = plt.subplots()
        axes.plot([0, 1], [1, 0])
        mlflow.log_figure(figure, "plots/curve.png")
    run = Run.objects.get(pk=active.info.run_id)
    assert run.experiment.name == "mnist" and run.display_name == "baseline"
    assert run.status == RunStatus.COMPLETED
    assert run.tags["team"] == "vision"
    assert run.mlflow.params == {"lr": "0.01", "epochs": "3", "optimizer": "adam"}
    loss = run_metrics.series_read(run.metrics.get(name="loss"))
    assert loss[:, :2].tolist() == [[0, 1.0], [1, 0.5], [2, 1 / 3]]
    assert run.metrics.get(name="acc").last_step == 2
    names = {f["name"] for f in store.list_files(run.pk)}
    assert {"outputs/notes.txt", "outputs/tables/a.csv", "outputs/config/model.json",
            "outputs/plots/curve.png"} <= names  # fmt: skip
    assert store.run_file(run.pk, "outputs/plots/curve.png").read_bytes()[:4] == b"\x89PNG"


def test_it_reads_runs_back_like_an_mlflow_server(tracking_uri, tmp_path):
    mlflow.set_experiment("search")
    for lr, acc in ((0.1, 0.6), (0.01, 0.9)):
        with mlflow.start_run():
            mlflow.log_param("lr", lr)
            mlflow.log_metric("acc", acc)
            mlflow.log_dict({"lr": lr}, "conf.json")
    client = MlflowClient()
    best = mlflow.search_runs(
        experiment_names=["search"], filter_string="metrics.acc > 0.8", output_format="list"
    )
    assert [r.data.params["lr"] for r in best] == ["0.01"]
    ordered = mlflow.search_runs(experiment_names=["search"], order_by=["metrics.acc DESC"])
    assert list(ordered["params.lr"]) == ["0.01", "0.1"]
    run_id = best[0].info.run_id
    history = client.get_metric_history(run_id, "acc")
    assert [(m.value, m.step) for m in history] == [(0.9, 0)]
    downloaded = client.download_artifacts(run_id, "conf.json", str(tmp_path))
    with open(downloaded) as handle:
        assert json.load(handle) == {"lr": 0.01}
    assert [f.path for f in client.list_artifacts(run_id)] == ["conf.json"]
    assert mlflow.get_experiment_by_name("nothing-here") is None


def test_it_pages_through_a_long_metric_history(tracking_uri):
    client = MlflowClient()
    experiment_id = client.create_experiment("long")
    run_id = client.create_run(experiment_id).info.run_id
    from mlflow.entities import Metric

    points = [Metric("loss", i / 1000, 1_700_000_000_000 + i, i) for i in range(30_000)]
    for start in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=points[start : start + 1000])
    history = client.get_metric_history(run_id, "loss")  # two pages of 25,000
    assert len(history) == 30_000
    assert (history[-1].step, history[-1].timestamp, history[-1].value) == (
        29_999, 1_700_000_029_999, 29.999,
    )  # fmt: skip


def test_non_finite_values_and_two_keys_in_one_batch_come_back_as_logged(tracking_uri):
    from mlflow.entities import Metric

    client = MlflowClient()
    run_id = client.create_run(client.create_experiment("odd")).info.run_id
    values = [0.5, math.nan, math.inf, -math.inf, 2]
    client.log_batch(run_id, metrics=[
        *(Metric("loss", v, 1_000 + i, 10 * i) for i, v in enumerate(values)),
        Metric("acc", 0.9, 5_000, 3),
    ])  # fmt: skip
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 10, 20, 30, 40]
    assert [m.timestamp for m in history] == [1_000, 1_001, 1_002, 1_003, 1_004]
    got = [m.value for m in history]
    assert got[0] == 0.5 and math.isnan(got[1]) and got[2:] == [math.inf, -math.inf, 2.0]
    (acc,) = client.get_metric_history(run_id, "acc")
    assert (acc.value, acc.step, acc.timestamp) == (0.9, 3, 5_000)


def test_it_makes_a_nested_run_a_child_run(tracking_uri):
    mlflow.set_experiment("sweep")
    with mlflow.start_run() as parent, mlflow.start_run(run_name="fold-1", nested=True) as child:
        mlflow.log_metric("loss", 0.5)
    stored = Run.objects.get(pk=child.info.run_id)
    assert stored.parent_id == parent.info.run_id
    assert stored.display_name == "fold-1" and stored.status == RunStatus.COMPLETED
    assert mlflow.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_it_maps_failed_and_killed_runs(tracking_uri):
    mlflow.set_experiment("ends")
    with pytest.raises(ZeroDivisionError), mlflow.start_run() as failed:
        1 / 0  # noqa: B018
    killed = mlflow.start_run()
    mlflow.end_run(status="KILLED")
    assert Run.objects.get(pk=failed.info.run_id).status == RunStatus.FAILED
    assert Run.objects.get(pk=killed.info.run_id).status == RunStatus.CANCELED
    assert mlflow.get_run(killed.info.run_id).info.status == "KILLED"


def test_it_archives_and_restores_experiments(tracking_uri):
    client = MlflowClient()
    experiment_id = client.create_experiment("old", tags={"owner": "me"})
    client.delete_experiment(experiment_id)
    assert Experiment.objects.get(pk=experiment_id).is_archived
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert [e.name for e in client.search_experiments()] == []
    client.restore_experiment(experiment_id)
    client.rename_experiment(experiment_id, "renamed")
    assert [e.name for e in client.search_experiments()] == ["renamed"]
    assert client.get_experiment(experiment_id).tags == {"owner": "me"}


SCRIPT = """
import mlflow
mlflow.set_experiment("portable")
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
    for step in range(3):
        mlflow.log_metric("rmse", 1.0 - step / 10, step=step)
print("RUN", run.info.run_id)
"""


def test_it_runs_the_same_script_offline_then_against_mlstudio(tracking_uri, tmp_path):
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT))
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    env = {**base, **QUIET, "PYTHONPATH": os.getcwd()}
    offline = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    assert not Run.objects.exists()
    online_env = {**env, "MLFLOW_TRACKING_URI": tracking_uri,
                  "MLFLOW_TRACKING_TOKEN": os.environ["MLFLOW_TRACKING_TOKEN"]}  # fmt: skip
    online = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=online_env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert online.returncode == 0, online.stderr
    run_id = online.stdout.split("RUN ")[-1].strip()
    run = Run.objects.get(pk=run_id)
    assert run.experiment.name == "portable" and run.mlflow.params == {"alpha": "0.5"}
    assert run.metrics.get(name="rmse").count == 3


def test_it_accepts_basic_auth_with_the_token_as_password(mlflow_env, tracking_uri, owner):
    mlflow_env.delenv("MLFLOW_TRACKING_TOKEN")
    mlflow_env.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    mlflow_env.setenv("MLFLOW_TRACKING_PASSWORD", token_for(owner))
    assert MlflowClient().create_experiment("basic")
    mlflow_env.setenv("MLFLOW_TRACKING_PASSWORD", "mls_wrong")
    with pytest.raises(mlflow.exceptions.MlflowException, match=r"UNAUTHENTICATED|refused"):
        MlflowClient().create_experiment("refused")


def test_its_params_reach_the_runs_table_beside_the_arguments(tracking_uri, owner, logged_in):
    mlflow.set_experiment("table")
    with mlflow.start_run() as active:
        mlflow.log_params({"batch_size": 32, "optimizer": "adamw"})
    run = Run.objects.get(pk=active.info.run_id)
    client = logged_in(owner)
    url = f"/api/workspaces/lab/experiments/{run.experiment_id}/table?run={run.pk}"
    (row,) = client.get(url).json()["runs"]
    assert row["mlflow_params"] == {"batch_size": "32", "optimizer": "adamw"}
    (shown,) = table_of(client, run.experiment)["runs"]  # what the page hands its script
    assert shown["mlflow_params"] == {"batch_size": "32", "optimizer": "adamw"}
