"""Run.get_context() as a v1 training script uses it: offline, and inside a submitted run."""

import json
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from mlstudio.sdk import Run, UserErrorException
from mlstudio.sdk._sinks import FileSink
from mlstudio.sdk.run import _decode_numbers, _SubmittedRun
from runs import services
from runs.models import Run as RunRow
from tests.processes import REPO, wait_until
from tests.runs.helpers import submit_script, wait_for_status


def run_offline(code: str, **env_vars: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env_vars}
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
    monkeypatch.delenv("MLSTUDIO_URL", raising=False)
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


def submitted(owner, workspace, api_as, script: str) -> tuple:
    """Alice's client, and the id of the run of `script` (as train.py) in her experiment."""
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    client = api_as(owner)
    return client, submit_script(client, experiment, {"train.py": script})


@pytest.mark.slow
def test_it_stores_every_call_of_a_submitted_script(owner, workspace, api_as, local_worker):
    client, run_id = submitted(owner, workspace, api_as, SCRIPT)
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
    client, run_id = submitted(owner, workspace, api_as, CHILDREN)
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
    client, run_id = submitted(owner, workspace, api_as, CRASH)
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


FORKING = """
    import os, sys
    from mlstudio.sdk import Run
    first, second = Run.get_context(), Run.get_context()
    for i in range(5000):  # more than a buffer holds: a second handle would cut lines
        first.log("a", i)
        second.log("b", i)
    first.log("before_fork", 1)  # not written yet when the process forks
    pid = os.fork()
    if pid == 0:
        Run.get_context().log("in_child", 1)
        first.log("in_child", 2)
        sys.exit(0)
    os.waitpid(pid, 0)
    second.log("after_fork", 3)
    print(os.getpid(), pid)
"""


def test_it_writes_every_record_once_from_two_contexts_and_a_fork(tmp_path):
    out = run_offline(FORKING, MLSTUDIO_RUN_ID="exp_1_abcdef12", MLSTUDIO_RUN_DIR=str(tmp_path))
    pids = out.split()
    assert sorted(p.name for p in tmp_path.glob("metrics-*.jsonl")) == sorted(
        f"metrics-{pid}.jsonl" for pid in pids
    ), "one file per process"
    parent, child = (
        [json.loads(line) for line in (tmp_path / f"metrics-{pid}.jsonl").read_text().splitlines()]
        for pid in pids
    )
    assert Counter(r["n"] for r in parent) == {"a": 5000, "b": 5000, "before_fork": 1,
                                                "after_fork": 1}  # fmt: skip
    assert [r["v"] for r in parent if r["n"] == "a"] == list(range(5000))
    assert [(r["n"], r["v"]) for r in child] == [("in_child", 1), ("in_child", 2)]


QUIET = """
    import time
    from mlstudio.sdk import Run
    run = Run.get_context()
    run.log("loss", 1.0)
    run.log("loss", 0.5)  # no later call writes this one
    time.sleep(120)
"""


@pytest.mark.slow
def test_it_shows_what_a_script_logged_before_it_went_quiet(owner, workspace, api_as, local_worker):
    client, run_id = submitted(owner, workspace, api_as, QUIET)
    url = f"/api/workspaces/lab/runs/{run_id}/metrics"

    def both_shown():
        return client.get(url).json()["metrics"].get("loss") == [1.0, 0.5]

    wait_until(both_shown, 20, "both values of loss")
    assert RunRow.objects.get(pk=run_id).status == "Running"
    client.post(f"/api/workspaces/lab/runs/{run_id}/cancel")
    wait_for_status(run_id, "Canceled")


READ_BACK = """
    import json, os
    from mlstudio.sdk import Run
    print("CONNECTED", json.dumps("MLSTUDIO_URL" in os.environ))
    run = Run.get_context()
    run.log("loss", 1.0)
    run.log("loss", 0.5)
    run.log("loss", float("nan"))
    run.log_row("roc", fpr=0.1, tpr=0.9)
    run.log_list("acc", [0.5])
    run.log("note", "warm")
    run.log_confusion_matrix("cm", {"data": [[1, 0], [0, 1]]})
    child = run.child_run("fold")
    child.log("fold_acc", 0.8)
    print("METRICS", json.dumps(run.get_metrics()), flush=True)
    print("LOSS", json.dumps(run.get_metrics(name="loss")), flush=True)
    print("TREE", json.dumps(run.get_metrics(recursive=True)), flush=True)
    print("CHILD", json.dumps(child.get_metrics()), flush=True)
"""


def read_back(client, run_id: str) -> dict:
    """What the script printed of its own get_metrics() calls, by label."""
    log = client.get(f"/api/workspaces/lab/runs/{run_id}/logs/user_logs/std_log.txt")
    lines = [line.partition(" ") for line in log.content.decode().splitlines()]
    return {label: json.loads(body) for label, _, body in lines if label.isupper()}


def assert_it_read_back_what_it_logged(client, run_id: str) -> dict:
    run = wait_for_status(run_id, "Completed", "Failed")
    assert run.status == "Completed", run.error
    got = read_back(client, run_id)
    metrics = got["METRICS"]
    assert metrics["loss"][:2] == [1.0, 0.5] and metrics["loss"][2] != metrics["loss"][2]
    assert metrics["roc"] == {"fpr": [0.1], "tpr": [0.9]}
    assert metrics["acc"] == [0.5] and metrics["note"] == "warm"
    assert metrics["cm"] == {"data": [[1, 0], [0, 1]]}
    assert list(got["LOSS"]) == ["loss"]
    child_id = next(r for r in got["TREE"] if r != run_id)
    assert child_id.startswith(run_id + "_")
    tree = {run_id: metrics, child_id: {"fold_acc": 0.8}}
    assert same(got["TREE"], tree)  # NaN is not equal to itself: compare as JSON
    assert got["CHILD"] == {"fold_acc": 0.8}
    answer = client.get(f"/api/workspaces/lab/runs/{run_id}/metrics").json()
    assert same(_decode_numbers(answer["metrics"], set(answer["numeric"])), metrics)
    return got


def same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the worker, picked below, reads committed rows
@pytest.mark.parametrize(
    ("worker", "connected"), [("local_worker", False), ("connected_worker", True)],
    ids=["without_a_studio_connection", "through_the_studio"],
)  # fmt: skip
def test_it_reads_back_what_it_logged(owner, workspace, api_as, request, worker, connected):
    request.getfixturevalue(worker)
    client, run_id = submitted(owner, workspace, api_as, READ_BACK)
    assert assert_it_read_back_what_it_logged(client, run_id)["CONNECTED"] is connected


def test_it_keeps_records_logged_before_a_hard_exit(tmp_path):
    run_offline(
        """
        import os, time
        from mlstudio.sdk import Run
        run = Run.get_context()
        for i in range(10):
            run.log("loss", i)
        time.sleep(0.6)  # the sink writes within 0.2 s; os._exit skips every exit handler
        os._exit(0)
        """,
        MLSTUDIO_RUN_ID="exp_1_abcdef12",
        MLSTUDIO_RUN_DIR=str(tmp_path),
    )
    records = [
        json.loads(line)
        for path in tmp_path.glob("metrics-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert [r["v"] for r in records if r.get("n") == "loss"] == list(range(10))


def test_it_splits_a_long_list_of_long_values_to_fit_the_limit(inside_run, tmp_path):
    inside_run.log_list("s", ["a" * 200] * 20_000)
    inside_run.flush()
    pieces = [
        json.loads(line)
        for path in tmp_path.glob("metrics-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert sum(len(p["v"]) for p in pieces if p.get("n") == "s") == 20_000
    assert len(pieces) > 2


def test_it_stores_numpy_long_doubles_as_numbers(inside_run):
    import numpy as np

    from mlstudio.sdk._metrics import plain

    assert plain(np.longdouble(1.5)) == 1.5 and type(plain(np.longdouble(1.5))) is float
    assert plain([np.longdouble(2), np.uint64(3)]) == [2.0, 3]
    inside_run.log("ld", np.longdouble(0.25))


def test_it_gives_offline_scripts_children_and_statuses():
    out = run_offline(
        """
        from mlstudio.sdk import Run
        run = Run.get_context()
        child = run.child_run("fold-1")
        child.log("loss", 1)
        child.complete()
        kids = run.create_children(tag_key="fold", tag_values=["a", "b"])
        print(len(list(run.get_children())), child.get_status(), run.get_details()["status"])
        print(run.get_detailed_status()["status"], kids[1].get_tags())
        with run:
            pass
        print(run.get_status())
        """
    )
    assert "3 Completed Running\nRunning {'fold': 'b'}\nCompleted" in out
