"""Run.get_context() as a v1 training script uses it: offline, and inside a submitted run."""

import subprocess
import sys
import textwrap

import pytest

from mlstudio.sdk import Run, UserErrorException
from mlstudio.sdk._sinks import FileSink
from mlstudio.sdk.run import _SubmittedRun
from runs import services
from tests.processes import REPO
from tests.runs.helpers import submit_script, wait_for_status


def run_offline(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_it_prints_what_it_would_log_outside_mlstudio():
    out = run_offline(
        """
        from mlstudio.sdk import Run
        run = Run.get_context()
        print(run.id)
        run.log("loss", 0.5)
        run.tag("k", "v")
        run.upload_file("name", "path")
        run.log_list("acc", (x for x in [1, 2]))
        run.complete()
        """
    )
    lines = out.splitlines()
    assert lines[0].startswith("OfflineRun_")
    assert "Attempted to log scalar metric loss:\n0.5" in out
    assert "Attempted to add tag k with value v" in out
    assert "Attempted to track file name at path" in out
    assert "Attempted to log list metric acc:\n[1, 2]" in out


@pytest.fixture
def inside_run(tmp_path, monkeypatch):
    """A submitted-run context writing to a folder we read back, as the executor would."""
    monkeypatch.setenv("MLSTUDIO_RUN_ID", "exp_1_abcdef12")
    monkeypatch.setenv("MLSTUDIO_RUN_DIR", str(tmp_path))
    run = Run.get_context()
    assert isinstance(run, _SubmittedRun) and isinstance(run._sink, FileSink)
    return run


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda r: r.log("loss", [1, 2]), "use log_list"),
        (lambda r: r.log_table("t", {"a": [1, 2], "b": [1]}), "equal lengths; got a=2, b=1"),
        (lambda r: r.log_row("r", a=[1, 2]), "Use log_table"),
        (lambda r: r.log("x" * 300, 1), "the limit is 255"),
        (lambda r: r.log("loss", object()), "Cannot log a object"),
        (lambda r: r.log("note", "x" * (2 * 1024 * 1024)), "the limit for one value"),
        (lambda r: r.log_list("acc", "abc"), "needs a list of values"),
        (lambda r: r.log_image("pic", path=__file__), "is not an image"),
    ],
)
def test_it_refuses_bad_calls_before_sending_anything(inside_run, tmp_path, call, says):
    with pytest.raises(UserErrorException, match=says):
        call(inside_run)
    inside_run.flush()
    assert not any(p.stat().st_size for p in tmp_path.glob("metrics-*.jsonl"))


def test_it_refuses_changing_a_property(inside_run):
    inside_run.add_properties({"seed": 1})
    inside_run.add_properties({"seed": "1"})
    with pytest.raises(UserErrorException, match="cannot change"):
        inside_run.add_properties({"seed": 2})


def test_it_refuses_text_in_a_numeric_metric(inside_run):
    inside_run.log("loss", 1.0)
    with pytest.raises(UserErrorException, match="holds numbers"):
        inside_run.log("loss", "high")


SCRIPT = """
    import numpy as np
    from mlstudio.sdk import Run
    run = Run.get_context()
    run.log("lr", 0.01, description="learning rate")
    for i in range(1000):
        run.log("loss", 1.0 / (i + 1))
    run.log("loss", float("nan"))
    run.log("loss", float("inf"))
    run.log("count", np.int64(7))
    run.log("half", np.float16(0.5))
    run.log("step_metric", 3.0, step=10)
    run.log_list("acc", (x / 10 for x in range(5)))
    run.log_row("roc", fpr=0.1, tpr=0.8)
    run.log_row("roc", fpr=0.2, tpr=0.9)
    run.log_table("tbl", {"a": [1, 2], "b": ["x", "y"]})
    run.log_confusion_matrix("cm", {"schema_type": "confusion_matrix", "data": [[1, 0], [0, 1]]})
    run.tag("team", "vision")
    run.add_properties({"seed": "42"})
    run.complete()
    with open(run._sink.folder / f"metrics-{__import__('os').getpid()}.jsonl", "a") as f:
        f.write('{"n": "broken", "v": 1\\n')  # a line cut short, as by a crash
    print("done")
"""


@pytest.mark.slow
def test_it_stores_every_call_of_a_submitted_script(owner, workspace, api_as, local_worker):
    from mlstudio.sdk.run import _decode_numbers

    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    client = api_as(owner)
    run_id = submit_script(client, experiment, {"train.py": SCRIPT})
    run = wait_for_status(run_id, "Completed", "Failed")
    assert run.status == "Completed"
    answer = client.get(f"/api/workspaces/lab/runs/{run_id}/metrics").json()
    got = _decode_numbers(answer["metrics"], set(answer["numeric"]))
    assert got["lr"] == 0.01
    assert len(got["loss"]) == 1002 and got["loss"][0] == 1.0
    assert got["loss"][1000] != got["loss"][1000] and got["loss"][1001] == float("inf")
    assert got["count"] == 7 and isinstance(got["count"], float | int)
    assert got["half"] == 0.5
    assert got["acc"] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert got["roc"] == {"fpr": [0.1, 0.2], "tpr": [0.8, 0.9]}
    assert got["tbl"] == {"a": [1, 2], "b": ["x", "y"]}
    assert got["cm"]["data"] == [[1, 0], [0, 1]]
    run.refresh_from_db()
    assert run.tags["team"] == "vision" and run.properties["seed"] == "42"
    assert run.metrics.get(name="step_metric").last_step == 10
    system = client.get(f"/api/workspaces/lab/runs/{run_id}/logs/system_logs/executor.txt")
    assert "1 malformed record(s) skipped" in system.content.decode()


CHILDREN = """
    from mlstudio.sdk import Run
    run = Run.get_context()
    for i, child in enumerate(run.create_children(2)):
        child.log("fold_acc", 0.8 + i / 100)
        if i == 0:
            child.complete()
    open("weights.bin", "wb").write(b"\\x00\\x01")
    run.upload_file("outputs/uploaded/weights.bin", "weights.bin")
    open("pic.png", "wb").write(bytes.fromhex("89504e470d0a1a0a") + b"rest")
    run.log_image("sample", path="pic.png")
    run.upload_file("../escape.txt", "weights.bin")
"""


@pytest.mark.slow
def test_it_handles_children_and_files_from_inside_a_run(owner, workspace, api_as, local_worker):
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    client = api_as(owner)
    run_id = submit_script(client, experiment, {"train.py": CHILDREN})
    run = wait_for_status(run_id, "Completed", "Failed")
    assert run.status == "Completed"
    children = list(run.children.order_by("number"))
    assert [c.status for c in children] == ["Completed", "Completed"]
    assert [c.metrics.get().last_value for c in children] == [0.8, 0.81]
    files = [f["name"] for f in client.get(f"/api/workspaces/lab/runs/{run_id}/files").json()]
    assert "outputs/uploaded/weights.bin" in files and "images/sample_1.png" in files
    assert not any("escape" in f for f in files)
    system = client.get(f"/api/workspaces/lab/runs/{run_id}/logs/system_logs/executor.txt")
    assert "'..'" in system.content.decode()
    got = client.get(f"/api/workspaces/lab/runs/{run_id}/metrics").json()["metrics"]
    assert got["sample"] == "images/sample_1.png"


CRASH = """
    import os
    from mlstudio.sdk import Run
    run = Run.get_context()
    run.log_list("big", range(100_000))
    for i in range(1000):
        run.log("loss", i)
    run.tag("a", "1")
    run.tag("b", "2")
    run.remove_tags(["b"])
    os.makedirs("folder/sub", exist_ok=True)
    open("folder/sub/x.txt", "w").write("x")
    run.upload_folder("outputs/copied", "folder")
    run.fail(error_details="about to crash")
    raise RuntimeError("crashed after logging")
"""


@pytest.mark.slow
def test_it_keeps_every_record_written_before_a_crash(owner, workspace, api_as, local_worker):
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    client = api_as(owner)
    run_id = submit_script(client, experiment, {"train.py": CRASH})
    run = wait_for_status(run_id, "Completed", "Failed")
    assert run.status == "Failed" and "RuntimeError: crashed after logging" in run.error["message"]
    assert run.metrics.get(name="big").count == 100_000
    assert run.metrics.get(name="loss").count == 1000
    run.refresh_from_db()
    assert run.tags == {"a": "1"}
    files = [f["name"] for f in client.get(f"/api/workspaces/lab/runs/{run_id}/files").json()]
    assert "outputs/copied/sub/x.txt" in files
    got = client.get(f"/api/workspaces/lab/runs/{run_id}/metrics", {"name": "big"}).json()
    assert got["metrics"]["big"][:3] == [0, 1, 2] and len(got["metrics"]["big"]) == 100_000
