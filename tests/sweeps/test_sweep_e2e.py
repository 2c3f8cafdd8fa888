"""A v1 HyperDrive notebook, ported by its import lines, against a live studio, a real control
worker (the sweep's controller steps) and a real local worker (the children)."""

import json
import time

import pytest

from mlstudio.sdk import Experiment, ScriptRunConfig
from mlstudio.sdk.train.hyperdrive import (
    BanditPolicy,
    GridParameterSampling,
    HyperDriveConfig,
    PrimaryMetricGoal,
    RandomParameterSampling,
    choice,
    uniform,
)
from runs.models import Run as RunRow
from tests.sweeps.children import child_script

pytestmark = pytest.mark.slow

TRAIN = child_script("""
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fail", default="")
    args = parser.parse_args()
    if args.fail:
        raise SystemExit(f"cannot train: {args.fail}")
    for epoch in range(args.epochs):
        run.log("acc", args.quality * (epoch + 1) / args.epochs)
        run.log("loss", 1 - args.quality)
        run.flush()
        time.sleep(0.3)
""")


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(TRAIN)
    return ScriptRunConfig(
        source_directory=folder, script="train.py", arguments=["--epochs", 3, "--quality", 0.1]
    )


def _random_quality(src, metric: str, **limits) -> HyperDriveConfig:
    """A sweep of `src` over --quality drawn from uniform(0.1, 0.9) that maximizes `metric`."""
    return HyperDriveConfig(
        run_config=src,
        hyperparameter_sampling=RandomParameterSampling({"--quality": uniform(0.1, 0.9)}),
        primary_metric_name=metric,
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        **limits,
    )


def test_it_runs_a_sweep_and_stops_a_bad_child_saying_why(
    ws, src, control_worker, local_worker, capsys
):
    config = HyperDriveConfig(
        run_config=src,
        hyperparameter_sampling=GridParameterSampling({"quality": choice(0.9, 0.2, 0.8)}),
        policy=BanditPolicy(evaluation_interval=1, slack_factor=0.1),
        primary_metric_name="acc",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=3,
        max_concurrent_runs=2,
    )
    run = Experiment(ws, "tune").submit(config)
    run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert run.get_status() == "Completed"
    ids = [f"{run.id}_{n}" for n in (1, 2, 3)]
    assert f"{ids[0]} ended Completed; best acc: 0.9" in out

    first = RunRow.objects.get(pk=ids[0])
    # The sampled value replaced the base argument of the same name; `--` was added.
    assert first.definition["arguments"] == ["--epochs", "3", "--quality", "0.9"]
    assert json.loads(first.properties["hyperparameters"]) == {"--quality": 0.9}
    stopped = RunRow.objects.get(pk=ids[1])
    assert stopped.status == "Canceled"
    assert stopped.status_detail.startswith("canceled by BanditPolicy: best 0.06667 is below")

    best = run.get_best_run_by_primary_metric()
    assert best.id == ids[0]
    assert best.get_details()["runDefinition"]["arguments"][-2:] == ["--quality", "0.9"]
    rows = run.get_children_sorted_by_primary_metric()
    assert [r["run_id"] for r in rows] == [ids[0], ids[2], ids[1]]
    assert rows[0] == {"run_id": ids[0], "hyperparameters": '{"--quality": 0.9}',
                       "best_primary_metric": 0.9, "status": "Completed"}  # fmt: skip
    assert len(run.get_children_sorted_by_primary_metric(top=1, reverse=True)) == 1
    assert set(run.get_metrics()) == set(ids)
    assert run.get_metrics()[ids[0]]["acc"][-1] == pytest.approx(0.9)
    assert run.get_hyperparameters()[ids[2]] == '{"--quality": 0.8}'
    assert run.get_details()["statusDetail"].startswith(f"best {ids[0]}: acc 0.9")


def test_it_names_what_children_logged_when_none_logged_the_metric(ws, src, control_worker,
                                                                   local_worker):  # fmt: skip
    run = Experiment(ws, "tune").submit(_random_quality(src, "Accuracy", max_total_runs=1))
    run.wait_for_completion(show_output=False)
    assert run.get_best_run_by_primary_metric() is None
    assert run.get_details()["statusDetail"] == (
        "no child logged 'Accuracy'; children logged: acc, loss"
    )


def test_it_stops_when_the_first_batch_all_fails(ws, src, control_worker, local_worker):
    config = HyperDriveConfig(
        run_config=src,
        hyperparameter_sampling=RandomParameterSampling({"--fail": choice("typo")}),
        primary_metric_name="acc",
        primary_metric_goal="MAXIMIZE",
        max_total_runs=20,
        max_concurrent_runs=2,
    )
    run = Experiment(ws, "tune").submit(config)
    started = time.monotonic()
    run.wait_for_completion(show_output=False, raise_on_error=False)
    details = run.get_details()
    assert details["status"] == "Failed"
    assert "The first 2 children all failed" in details["statusDetail"]
    assert "cannot train: typo" in details["error"]["error"]["message"]
    assert RunRow.objects.filter(parent_id=run.id).count() == 2  # not 20
    assert time.monotonic() - started < 60


def test_cancel_cancels_every_child(ws, src, control_worker, local_worker):
    src.arguments = ["--epochs", 100]
    config = _random_quality(src, "acc", max_total_runs=4, max_concurrent_runs=2)
    run = Experiment(ws, "tune").submit(config)
    deadline = time.monotonic() + 60
    while RunRow.objects.filter(parent_id=run.id, status="Running").count() < 1:
        assert time.monotonic() < deadline, "no child started"
        time.sleep(0.2)
    run.cancel()
    run.wait_for_completion(show_output=False, raise_on_error=False)
    assert run.get_status() == "Canceled"
    children = RunRow.objects.filter(parent_id=run.id)
    assert children.count() == 2
    assert {c.status for c in children} == {"Canceled"}
