"""RunDetails(sweep_run).show() on a real sweep (live studio, real control and local
workers): the view follows the sweep to its end and shows every child with its
hyperparameters and best primary metric, the best child marked."""

import pytest

from mlstudio.sdk import Experiment, ScriptRunConfig, Workspace
from mlstudio.sdk._widget_html import render
from mlstudio.sdk.train.hyperdrive import GridParameterSampling, HyperDriveConfig, choice
from mlstudio.sdk.widgets import RunDetails
from tests.sweeps.children import acc_child
from workspaces import services

pytestmark = pytest.mark.slow

TRAIN = acc_child("args.quality * (1 - epoch / 10)", pause=0.2)  # its best is its first value


def test_run_details_of_a_sweep_shows_its_children_and_the_best(
    live_server, owner, workspace, control_worker, local_worker, tmp_path, capsys
):
    token = services.api_token_create(user=owner, name="sdk")[1]
    ws = Workspace(name="lab", url=live_server.url, token=token)
    (tmp_path / "train.py").write_text(TRAIN)
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=tmp_path, script="train.py"),
        hyperparameter_sampling=GridParameterSampling({"quality": choice(0.4, 0.8, 0.6)}),
        primary_metric_name="acc", primary_metric_goal="MAXIMIZE",
        max_total_runs=3, max_concurrent_runs=1,
    )  # fmt: skip
    run = Experiment(ws, "tune").submit(config)
    view = RunDetails(run)
    view.show()  # outside IPython: it prints the status as it changes
    view.wait(timeout=180)
    assert view.state["status"] == "Completed"
    assert view.updates > 1  # it followed the sweep, not one look at the start
    data = view.get_widget_data()
    ids = [f"{run.id}_{n}" for n in (1, 2, 3)]
    assert [c["id"] for c in data["children"]] == ids
    assert [c["tags"] for c in data["children"]] == [{"--quality": q} for q in (0.4, 0.8, 0.6)]
    assert [c["metrics"] for c in data["children"]] == [{"acc": q} for q in (0.4, 0.8, 0.6)]
    assert data["best"] == {"run_id": ids[1], "metric": "acc", "value": 0.8}

    html = render(view.state)
    assert f"Best: {ids[1]} · acc 0.8" in html
    assert f'<tr class="best"><td>{ids[1]} ★</td><td>Completed</td><td>0.8</td><td>0.8</td>' in html
    assert html.count('<tr class="best">') == 1
    assert '<svg class="parallel"' in html  # --quality against acc
    assert f"RunDetails {run.id}: Completed" in capsys.readouterr().out
