"""`python -m mlstudio.sdk.port`: the port rule applied to files, the report of what MLStudio
does not support, and the inventory of v1's surface."""

import json
import subprocess
import sys
import textwrap

import pytest

import mlstudio.sdk
from mlstudio.sdk.port import PortError, rewrite
from mlstudio.sdk.port.table import totals
from tests.processes import REPO

V1_SCRIPT = """\
import azureml.core
from azureml.core import Workspace, Experiment
from azureml.core.compute import AmlCompute
from azureml.train.hyperdrive import HyperDriveConfig
print(azureml.core.VERSION)
ws = Workspace.from_config()
ws.list_keys()
run = Experiment(ws, "x").submit(config)
run.take_snapshot("folder")
commit = run.get_properties()["azureml.git.commit"]  # azureml.core in a comment
"""

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# azureml.core stays prose"]},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {"tags": ["setup"]},
            "outputs": [
                {"name": "stdout", "output_type": "stream", "text": ["import azureml.core\n"]}
            ],
            "source": ["%pip install scikit-learn\n", "import azureml.core\n",
                       "print(azureml.core.VERSION)"],
        },
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}  # fmt: skip


def port(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "mlstudio.sdk.port", *map(str, args)],
        capture_output=True, text=True, timeout=60, cwd=cwd or REPO,
    )  # fmt: skip


def test_it_applies_the_rule_to_code_and_leaves_strings_and_comments():
    ported = rewrite(V1_SCRIPT)
    assert "import mlstudio.sdk\n" in ported
    assert "from mlstudio.sdk import Workspace, Experiment" in ported
    assert "from mlstudio.sdk.compute import AmlCompute" in ported
    assert "from mlstudio.sdk.train.hyperdrive import HyperDriveConfig" in ported
    assert "print(mlstudio.sdk.VERSION)" in ported
    assert '["azureml.git.commit"]' in ported
    assert "# azureml.core in a comment" in ported


def test_it_rewrites_in_place_and_reports_each_unsupported_call_by_line(tmp_path):
    script = tmp_path / "train_notebook.py"
    script.write_text(V1_SCRIPT)
    result = port(script)
    assert result.returncode == 1
    assert f"{script}:7: Workspace.list_keys: not in MLStudio's SDK" in result.stdout
    assert f"{script}:9: Run.take_snapshot: not in MLStudio's SDK" in result.stdout
    assert script.read_text() == rewrite(V1_SCRIPT)


def test_it_exits_zero_when_nothing_unsupported_remains(tmp_path):
    script = tmp_path / "ok.py"
    script.write_text("from azureml.core import Workspace\nws = Workspace.from_config()\n")
    result = port(tmp_path)
    assert result.returncode == 0, result.stdout
    assert script.read_text().startswith("from mlstudio.sdk import Workspace")


def test_it_keeps_a_notebooks_json_and_outputs(tmp_path):
    notebook = tmp_path / "train.ipynb"
    original = json.dumps(NOTEBOOK, indent=1, sort_keys=True) + "\n"
    notebook.write_text(original)
    assert port(tmp_path).returncode == 0
    ported = notebook.read_text()
    expected = original.replace('"import azureml.core\\n",\n', '"import mlstudio.sdk\\n",\n', 1)
    expected = expected.replace("print(azureml.core.VERSION)", "print(mlstudio.sdk.VERSION)")
    assert ported == expected
    cells = json.loads(ported)["cells"]
    assert cells[1]["outputs"][0]["text"] == ["import azureml.core\n"]  # outputs untouched
    assert cells[0]["source"] == ["# azureml.core stays prose"]


def test_it_prints_a_diff_and_changes_nothing_with_dry_run(tmp_path):
    script = tmp_path / "a.py"
    script.write_text("from azureml.core import Run\n")
    result = port("--dry-run", script)
    assert "-from azureml.core import Run" in result.stdout
    assert "+from mlstudio.sdk import Run" in result.stdout
    assert script.read_text() == "from azureml.core import Run\n"


def test_it_names_the_file_and_line_it_cannot_parse_and_leaves_it(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("from azureml.core import Run\n\ndef f(:\n")
    notebook = tmp_path / "broken.ipynb"
    bad = {**NOTEBOOK, "cells": [{**NOTEBOOK["cells"][1], "source": ["import azureml.core\n",
                                                                        "x = (\n"]}]}  # fmt: skip
    notebook.write_text(json.dumps(bad, indent=1))
    before = notebook.read_text()
    result = port(tmp_path)
    assert result.returncode == 1
    assert f"{broken}:3: cannot parse" in result.stdout
    assert f"{notebook}:" in result.stdout and "cell 1" in result.stdout
    assert broken.read_text() == "from azureml.core import Run\n\ndef f(:\n"
    assert notebook.read_text() == before


def test_it_raises_not_implemented_naming_the_call_and_the_way_out():
    with pytest.raises(NotImplementedError, match=r"Workspace\.create .*Workspace\.from_config"):
        mlstudio.sdk.Workspace.create("ws", subscription_id="s")
    with pytest.raises(NotImplementedError, match=r"azureml\.core\.compute\.RemoteCompute"):
        from mlstudio.sdk.compute import RemoteCompute  # noqa: F401
    with pytest.raises(NotImplementedError, match=r"Environment\.build_local .*env\.build\(ws"):
        mlstudio.sdk.Environment("e").build_local(None)
    assert not hasattr(mlstudio.sdk.Environment("e"), "no_such_thing")  # not a v1 name


def test_it_prints_the_inventory_with_totals():
    result = port("--inventory")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["v1", "class", "/", "function", "module"]
    run_row = next(line for line in lines if line.startswith("Run "))
    assert "take_snapshot" in run_row
    total = totals()
    assert lines[-1].split() == ["TOTAL", *map(str, total.values())]
    assert total["supported"] > total["missing"] > 0
    report = json.loads(port("--inventory", "--json").stdout)
    assert report["totals"] == total
    assert report["classes"]["InteractiveLoginAuthentication"]["members"]["__init__"]["status"] \
        == "accepted-and-ignored"  # fmt: skip


def test_every_module_path_of_the_port_rule_imports():
    code = textwrap.dedent("""
        import mlstudio.sdk, mlstudio.sdk.workspace, mlstudio.sdk.experiment, mlstudio.sdk.run
        import mlstudio.sdk.environment, mlstudio.sdk.conda_dependencies, mlstudio.sdk.compute
        import mlstudio.sdk.compute_target, mlstudio.sdk.runconfig, mlstudio.sdk.exceptions
        import mlstudio.sdk.script_run_config, mlstudio.sdk.authentication
        from mlstudio.sdk.train.estimator import Estimator
        from mlstudio.sdk.train.sklearn import SKLearn
        from mlstudio.sdk.train.dnn import PyTorch, TensorFlow, Mpi, Gloo, Nccl, ParameterServer
        from mlstudio.sdk.widgets import RunDetails
        from mlstudio.sdk.telemetry import set_diagnostics_collection
        from mlstudio.sdk.tensorboard import Tensorboard
        from mlstudio.sdk.tensorboard.export import export_to_tensorboard
        from mlstudio.sdk.runconfig import DockerConfiguration, RunConfiguration
        from mlstudio.sdk.exceptions import ActivityFailedException, ComputeTargetException
        from mlstudio.sdk.authentication import (InteractiveLoginAuthentication,
            ServicePrincipalAuthentication, AzureCliAuthentication)
        set_diagnostics_collection(send_diagnostics=True)
        InteractiveLoginAuthentication(tenant_id="t")
        ServicePrincipalAuthentication("t", "id", "secret")
        print(mlstudio.sdk.VERSION)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("django", "celery", "IPython")))
    """)
    prelude = f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", prelude + code],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [mlstudio.sdk.VERSION, "[]"]
    # said once, however many credentials are made
    assert result.stderr.count("MLStudio uses its API token") == 1


def test_it_reports_a_keyword_the_sdk_does_not_take():
    from mlstudio.sdk.port.check import unsupported_calls

    found = unsupported_calls(
        "from mlstudio.sdk import Environment\nEnvironment.get(ws, 'x', label='latest')\n"
    )
    assert [(f.line, f.call) for f in found] == [(2, "Environment.get(label=...)")]


def test_a_port_error_carries_the_line():
    with pytest.raises(PortError) as caught:
        rewrite("a = 1\nb = (\n")
    assert caught.value.line == 2
