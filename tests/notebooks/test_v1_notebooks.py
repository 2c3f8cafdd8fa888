"""v1 notebooks, written with azureml imports, ported with `python -m mlstudio.sdk.port` and
run cell by cell in a real Jupyter kernel against a live studio and a real worker. A cell
that errors fails the test, naming the cell."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.processes import REPO
from workspaces import services

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


@pytest.fixture
def notebook_folder(tmp_path, live_server, owner, workspace):
    """A copy of this folder, ported, with the config.json a user downloads."""
    folder = tmp_path / "notebooks"
    skip = shutil.ignore_patterns("*.py[co]", "__pycache__", "test_*.py", "__init__.py")
    shutil.copytree(HERE, folder, ignore=skip)
    token = services.api_token_create(user=owner, name="notebook")[1]
    config = {"url": live_server.url, "workspace_name": "lab", "token": token}
    (folder / "config.json").write_text(json.dumps(config))
    ported = subprocess.run(
        [sys.executable, "-m", "mlstudio.sdk.port", str(folder)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert ported.returncode == 0, ported.stdout + ported.stderr
    return folder


def run_cell_by_cell(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    assert "azureml" not in "".join(c.source for c in notebook.cells if c.cell_type == "code")
    client = NotebookClient(notebook, kernel_name="python3", timeout=180,
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    with client.setup_kernel(cwd=str(path.parent)):
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                first_line = cell.source.splitlines()[0]
                pytest.fail(f"{path.name} cell {index} ({first_line!r}) failed:\n{exc}")
    return notebook


@pytest.fixture
def kernel_env(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the kernel imports mlstudio.sdk from here
    for name in ("MLSTUDIO_URL", "MLSTUDIO_TOKEN", "MLSTUDIO_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)  # config.json, as a user has it


def outputs_of(notebook) -> str:
    return "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )


def test_the_v1_environments_notebook_runs_whole(notebook_folder, local_worker, kernel_env):
    notebook = run_cell_by_cell(notebook_folder / "v1_environments.ipynb")
    outputs = outputs_of(notebook)
    assert "Build status: Succeeded" in outputs
    assert "Image build Succeeded: myenv version 1" in outputs
    assert outputs.count("MLStudio uses its API token") == 1  # said once, on stderr
    assert "Environment(name='myenv', version='1')" in outputs


def test_the_v1_training_notebook_runs_whole(notebook_folder, local_worker, kernel_env):
    notebook = run_cell_by_cell(notebook_folder / "v1_training.ipynb")
    outputs = outputs_of(notebook)
    assert "SDK version:" in outputs and "Azure region: local" in outputs
    shown = [
        output["data"] for cell in notebook.cells for output in cell.get("outputs", [])
        if output.get("output_type") == "display_data"
    ]  # fmt: skip
    # RunDetails drew itself: an ipywidgets view where installed, else live HTML
    assert any(
        "application/vnd.jupyter.widget-view+json" in data
        or "mlstudio-run-details" in data.get("text/html", "")
        or "RunDetails" in data.get("text/html", "")
        for data in shown
    ), shown
    assert "epoch 2 loss 0.333" in outputs  # the run's log streamed into the notebook
    assert "MLStudio-SKLearn" in outputs
    assert os.path.isdir(notebook_folder / "tensorboard_logs")
    assert "from mlstudio.sdk import Run" in (notebook_folder / "project" / "train.py").read_text()


def test_a_cell_that_errors_fails_the_test_naming_the_cell(tmp_path, kernel_env):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# broken"),
                      nbformat.v4.new_code_cell("x = 1"),
                      nbformat.v4.new_code_cell("print(x / 0)")]  # fmt: skip
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    with pytest.raises(pytest.fail.Exception, match=r"broken\.ipynb cell 2 \('print\(x / 0\)'\)"):
        run_cell_by_cell(tmp_path / "broken.ipynb")


def test_run_details_without_ipywidgets_draws_html_it_updates_in_place(
    tmp_path, live_server, owner, workspace, kernel_env
):
    token = services.api_token_create(user=owner, name="notebook")[1]
    config = {"url": live_server.url, "workspace_name": "lab", "token": token}
    (tmp_path / "config.json").write_text(json.dumps(config))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        # a fake absence: ipywidgets is installed here, the kernel is told it is not
        nbformat.v4.new_code_cell("import sys\nsys.modules['ipywidgets'] = None"),
        nbformat.v4.new_code_cell(
            "from mlstudio.sdk import Experiment, Workspace\n"
            "from mlstudio.sdk.widgets import RunDetails\n"
            "run = Experiment(Workspace.from_config(), 'html-widget').start_logging()\n"
            "view = RunDetails(run)\nview.show()"
        ),
        nbformat.v4.new_code_cell(
            "run.log('loss', 0.5)\nrun.complete()\nview.wait(10)\nprint(view.state['status'])"
        ),
    ]
    nbformat.write(notebook, tmp_path / "html.ipynb")
    ran = run_cell_by_cell(tmp_path / "html.ipynb")
    (shown,) = ran.cells[1].outputs  # one display, updated in place
    assert shown["output_type"] == "display_data"
    assert "application/vnd.jupyter.widget-view+json" not in shown["data"]
    html = shown["data"]["text/html"]
    assert "Completed" in html and "loss" in html and "<svg" in html
    assert ran.cells[2].outputs[0]["text"] == "Completed\n"
