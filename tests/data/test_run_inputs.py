"""Datasets in submitted runs, on a real Celery worker: as_named_input, as_mount (linked,
read-only, no copy) and as_download in ScriptRunConfig arguments, Run.input_datasets, the
run's recorded inputs, and a deleted version failing the run in Preparing."""

from __future__ import annotations

import textwrap

import pytest

from data.models import DatasetUse
from mlstudio.sdk import Dataset, Experiment, ScriptRunConfig
from registry.models import ModelVersion
from tests import processes

pytest_plugins = ["tests.docker_fixtures"]
pytestmark = pytest.mark.slow

TRAIN = """
    import os, sys
    from mlstudio.sdk import Run
    run = Run.get_context()
    mounted, downloaded = sys.argv[2], sys.argv[4]
    print("MOUNT", sorted(os.listdir(os.path.join(mounted, "train"))))
    print("DOWNLOAD", open(os.path.join(downloaded, "train", "labels.bin"), "rb").read()[:3])
    try:
        open(os.path.join(mounted, "train", "labels.bin"), "ab").write(b"x")
        print("WROTE")
    except OSError as exc:
        print("READONLY", type(exc).__name__)
    open(os.path.join(downloaded, "train", "labels.bin"), "ab").write(b"x")
    inputs = run.input_datasets
    print("INPUTS", sorted(inputs), inputs["mnist"] == mounted)
    table = inputs["iris"]
    print("DIRECT", type(table).__name__, table.name, table.to_pandas_dataframe().shape)
    os.makedirs("outputs", exist_ok=True)
    open("outputs/model.txt", "w").write("weights")
"""


def _log(run, tmp_path) -> str:
    target = tmp_path / f"{run.id}.txt"
    run.download_file("user_logs/std_log.txt", str(target))
    return target.read_text()


def _system_log(run, tmp_path) -> str:
    target = tmp_path / f"{run.id}-system.txt"
    run.download_file("system_logs/executor.txt", str(target))
    return target.read_text()


def test_a_run_mounts_and_downloads_its_datasets(ws, connected_worker, mnist, tmp_path):
    datastore = ws.get_default_datastore()
    datastore.upload(str(mnist), target_path="mnist", show_progress=False)
    folder = tmp_path / "iris"
    folder.mkdir()
    (folder / "iris.csv").write_text("a,b\n1,2\n3,4\n")
    datastore.upload(str(folder), target_path="iris", show_progress=False)
    mnist_ds = Dataset.File.from_files((datastore, "mnist/")).register(ws, "mnist")
    iris = Dataset.Tabular.from_delimited_files((datastore, "iris/iris.csv")).register(ws, "iris")
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(textwrap.dedent(TRAIN))
    config = ScriptRunConfig(
        str(project), "train.py",
        arguments=["--data", mnist_ds.as_named_input("mnist").as_mount(),
                   "--copy", Dataset.File.from_files((datastore, "mnist/")).as_named_input(
                       "copy").as_download(),
                   "--iris", iris.as_named_input("iris")],
    )  # fmt: skip
    run = Experiment(ws, "data").submit(config)
    run.wait_for_completion(show_output=False, raise_on_error=False)
    log = _log(run, tmp_path)
    assert run.get_status() == "Completed", log + _system_log(run, tmp_path)
    assert "MOUNT ['images.bin', 'labels.bin']" in log
    assert "DOWNLOAD b'\\x02\\x02\\x02'" in log
    assert "READONLY PermissionError" in log
    assert "INPUTS ['copy', 'iris', 'mnist'] True" in log
    assert "DIRECT TabularDataset iris (2, 2)" in log
    system = _system_log(run, tmp_path)
    assert "mounted read-only (linked, no copy)" in system
    assert "'copy' (unregistered, 3 files): downloaded (copied)" in system
    # The blob the mount linked was not changed by the script's write attempt.
    again = tmp_path / "again"
    Dataset.get_by_name(ws, "mnist").download(str(again))
    assert (again / "train" / "labels.bin").read_bytes() == b"\x02" * 100
    uses = sorted(DatasetUse.objects.values_list("input_name", "mode", "run_id"))
    assert uses == [("iris", "direct", run.id), ("mnist", "mount", run.id)]
    run.register_model("clf", "outputs/model.txt")  # the model records the run's datasets
    lineage = ModelVersion.objects.get().lineage["datasets"]
    assert sorted((d["name"], d["version"], d["input_name"]) for d in lineage) == [
        ("iris", 1, "iris"), ("mnist", 1, "mnist"),
    ]  # fmt: skip


def test_a_deleted_version_fails_the_run_in_preparing(ws, connected_worker, mnist, tmp_path):
    datastore = ws.get_default_datastore()
    datastore.upload(str(mnist), target_path="mnist", show_progress=False)
    dataset = Dataset.File.from_files((datastore, "mnist/")).register(ws, "gone")
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('never')\n")
    # The worker is paused until the version is deleted: submit, delete, then start it.
    processes.stop(connected_worker)
    run = Experiment(ws, "data").submit(
        ScriptRunConfig(str(project), "train.py", arguments=[dataset.as_mount()])
    )
    dataset.unregister_all_versions()
    _, process = processes.start_worker(["target-local"], log=tmp_path / "worker2.log")
    try:
        run.wait_for_completion(show_output=False, raise_on_error=False)
    finally:
        processes.stop(process)
    details = run.get_details()
    assert details["status"] == "Failed"
    assert "dataset gone:1 was deleted" in str(details["error"]), details


WRITE = """
    import os, sys
    folder = sys.argv[2]
    os.makedirs(os.path.join(folder, "part"), exist_ok=True)
    open(os.path.join(folder, "part", "scores.csv"), "w").write("a,b\\n1,2\\n")
"""


def test_an_output_folder_is_uploaded_and_registered_on_completion(ws, connected_worker, tmp_path):
    from mlstudio.sdk.data import OutputFileDatasetConfig

    datastore = ws.get_default_datastore()
    project = tmp_path / "project"
    project.mkdir()
    (project / "write.py").write_text(textwrap.dedent(WRITE))
    output = OutputFileDatasetConfig(destination=(datastore, "out/{run-id}"))
    config = ScriptRunConfig(
        str(project), "write.py", arguments=["--out", output.register_on_complete("scores")]
    )
    run = Experiment(ws, "data").submit(config)
    run.wait_for_completion(show_output=False, raise_on_error=False)
    assert run.get_status() == "Completed", _system_log(run, tmp_path)
    assert [f["path"] for f in datastore.list_files("out/")] == [f"out/{run.id}/part/scores.csv"]
    scores = Dataset.get_by_name(ws, "scores")
    assert (scores.version, scores.to_path()) == (1, ["/part/scores.csv"])
    assert "registered as dataset scores:1" in _system_log(run, tmp_path)
    roles = list(DatasetUse.objects.values_list("role", "run_id"))
    assert roles == [("output", run.id)]


BOXED = """
    import errno, os, sys
    mounted = sys.argv[2]
    print("IN A CONTAINER", os.path.exists("/.dockerenv"))
    print("MOUNT", sorted(os.listdir(os.path.join(mounted, "train"))))
    try:
        open(os.path.join(mounted, "train", "labels.bin"), "ab").write(b"x")
        print("WROTE")
    except OSError as exc:
        print("REFUSED", errno.errorcode[exc.errno])
    mounts = [line.split() for line in open("/proc/mounts")]
    print("READ-ONLY VOLUME", any(m[1] == mounted and "ro" in m[3].split(",") for m in mounts))
"""


def test_a_mounted_dataset_is_a_read_only_volume_in_a_docker_run(
    ws, connected_worker, docker_engine, mnist, tmp_path
):
    from mlstudio.sdk import Environment

    datastore = ws.get_default_datastore()
    datastore.upload(str(mnist), target_path="mnist", show_progress=False)
    dataset = Dataset.File.from_files((datastore, "mnist/")).register(ws, "mnist")
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(textwrap.dedent(BOXED))
    env = Environment("boxed")
    env.docker.enabled = True
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = "python3"
    mount = dataset.as_named_input("mnist").as_mount()
    config = ScriptRunConfig(str(project), "train.py", environment=env, arguments=["--data", mount])
    run = Experiment(ws, "data").submit(config)
    run.wait_for_completion(show_output=False, raise_on_error=False)
    log, system = _log(run, tmp_path), _system_log(run, tmp_path)
    assert run.get_status() == "Completed", log + system
    assert "IN A CONTAINER True" in log
    assert "MOUNT ['images.bin', 'labels.bin']" in log
    assert "REFUSED E" in log and "WROTE" not in log
    assert "READ-ONLY VOLUME True" in log
    assert "mounted read-only (linked, no copy)" in system
    assert "Read-only volumes in the container (linked dataset files)" in system
    again = tmp_path / "again"
    Dataset.get_by_name(ws, "mnist").download(str(again))
    assert (again / "train" / "labels.bin").read_bytes() == b"\x02" * 100
