"""The rest of v1's surface a notebook touches, ported by its import lines, against a live
studio: Workspace's Azure placeholders and dictionaries, run names and descriptions, Run.list,
logs and snapshots, fail() of a submitted run, estimators, compute scale settings and VM
sizes, curated names, TensorBoard export and the RunDetails widget."""

import socket
import textwrap
import time
import urllib.request
import zipfile

import pytest

from compute.services import node_heartbeat
from mlstudio.sdk import Environment, Experiment, Run, ScriptRunConfig, Workspace
from mlstudio.sdk.compute import AmlCompute, ComputeInstance, ComputeTarget, DockerCompute
from mlstudio.sdk.exceptions import NotFoundException, UserErrorException
from mlstudio.sdk.runconfig import DockerConfiguration, RunConfiguration
from mlstudio.sdk.tensorboard import Tensorboard
from mlstudio.sdk.tensorboard.export import export_to_tensorboard
from mlstudio.sdk.train.estimator import Estimator
from mlstudio.sdk.widgets import RunDetails
from tests.processes import wait_until
from workspaces import services


@pytest.fixture
def token(owner, workspace):
    return services.api_token_create(user=owner, name="sdk")[1]


@pytest.fixture
def ws(live_server, token):
    return Workspace(name="lab", url=live_server.url, token=token)


def test_it_describes_the_workspace_as_v1_did(ws, live_server, token, monkeypatch):
    Experiment(ws, "first")
    assert (ws.subscription_id, ws.resource_group, ws.location) == ("local", "local", "local")
    details = ws.get_details()
    assert details["name"] == "lab" and details["location"] == "local"
    assert details["role"] == "owner"
    assert isinstance(ws.experiments["first"], Experiment)
    assert {"MLStudio-Minimal", "MLStudio-SKLearn"} <= set(ws.environments)
    assert ws.compute_targets["local"].type == "local"
    monkeypatch.setenv("MLSTUDIO_URL", live_server.url)
    monkeypatch.setenv("MLSTUDIO_TOKEN", token)
    assert Workspace("subscription", "group", "lab").name == "lab"  # v1's positional form
    assert Workspace.get(name="lab", subscription_id="s", resource_group="g").name == "lab"


def test_it_lists_the_latest_version_of_each_model_by_name(ws, tmp_path):
    from mlstudio.sdk import Model

    (tmp_path / "model.pkl").write_bytes(b"weights v1")
    Model.register(ws, model_path=str(tmp_path / "model.pkl"), model_name="iris")
    (tmp_path / "model.pkl").write_bytes(b"weights v2")
    Model.register(ws, model_path=str(tmp_path / "model.pkl"), model_name="iris")
    Model.register(ws, model_path=str(tmp_path / "model.pkl"), model_name="digits")
    models = ws.models
    assert sorted(models) == ["digits", "iris"]
    assert isinstance(models["iris"], Model) and models["iris"].version == 2


def test_it_sets_a_runs_display_name_and_description(ws):
    experiment = Experiment(ws, "named")
    run = experiment.start_logging()
    run.display_name = "baseline"
    run.description = "first try, default settings"
    run.tag("phase", "explore")
    run.add_properties({"dataset": "v2"})
    assert run.tags == {"phase": "explore"} and run.properties["dataset"] == "v2"
    run.flush()  # tags and properties travel with the metric records
    again = Run(experiment, run.id)
    assert (again.display_name, again.description) == ("baseline", "first try, default settings")
    assert again.tags == {"phase": "explore"} and again.properties["dataset"] == "v2"
    with pytest.raises(UserErrorException, match="at most 255"):
        run.display_name = "x" * 256
    assert Run(experiment, run.id).display_name == "baseline"  # nothing stored halfway


def test_it_lists_runs_filtered_by_tags_and_status(ws):
    experiment = Experiment(ws, "listed")
    runs = [experiment.start_logging() for _ in range(3)]
    runs[0].tag("kind", "a")
    runs[1].tag("kind", "b")
    runs[0].complete()
    runs[1].complete()
    runs[2].start()  # accepted: it has been Running since start_logging()
    assert [r.id for r in Run.list(experiment, tags={"kind": "a"})] == [runs[0].id]
    assert {r.id for r in Run.list(experiment, tags="kind")} == {runs[0].id, runs[1].id}
    assert [r.id for r in Run.list(experiment, status="Running")] == [runs[2].id]
    assert ws.get_run(runs[1].id).get_tags()["kind"] == "b"


SLOW_TRAIN = """
    import sys, time
    print("training started", flush=True)
    for step in range(600):
        print(f"step {step}", flush=True)
        time.sleep(0.1)
"""


@pytest.mark.slow
def test_fail_on_a_submitted_run_stops_it_and_its_logs_and_snapshot_stay(ws, local_worker,
                                                                         tmp_path):  # fmt: skip
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(SLOW_TRAIN))
    estimator = Estimator(source_directory=folder, entry_script="train.py",
                          script_params={"--unused": ""}, user_managed=True)  # fmt: skip
    estimator._config.arguments = []  # the script takes no arguments
    run = Experiment(ws, "to-fail").submit(estimator)
    wait_until(lambda: "training started" in _log(run), 60, "the script to start")
    run.fail(error_details="diverged")
    assert run.get_status() == "Failed"
    wait_until(_stops_growing(run), 30, "the script to be stopped")
    last_step = int(_log(run).rstrip().splitlines()[-1].split()[-1])
    assert last_step < 300, "the script ran on after fail()"  # it would print 600 steps
    details = run.get_details_with_logs()
    assert "training started" in details["logFiles"]["user_logs/std_log.txt"]
    assert details["error"]["error"]["message"] == "diverged"
    assert run.get_environment().name == "estimator-estimator"
    archive = run.restore_snapshot(path=tmp_path / "restored")
    assert zipfile.ZipFile(archive).namelist() == ["train.py"]
    assert run.get_snapshot_id() in archive
    written = run.get_all_logs(destination=tmp_path / "logs")
    assert str(tmp_path / "logs" / "user_logs" / "std_log.txt") in written


def _stops_growing(run):
    seen = {"log": None, "since": time.monotonic()}

    def check() -> bool:
        log = _log(run)
        if log != seen["log"]:
            seen.update(log=log, since=time.monotonic())
        return time.monotonic() - seen["since"] > 2.0

    return check


def _log(run) -> str:
    return run.get_details_with_logs()["logFiles"].get("user_logs/std_log.txt", "")


def test_it_updates_a_clusters_scale_settings_and_tells_cloud_only_settings(ws, capsys):
    config = AmlCompute.provisioning_configuration(
        vm_size="STANDARD_D2", max_nodes=2, vm_priority="lowpriority", vnet_name="net",
        admin_username="azureuser",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "admin_username, vm_priority, vnet_name" in out
    assert config.cloud_settings["vnet_name"] == "net"
    cluster = ComputeTarget.create(ws, "cpu", config)
    cluster.update(min_nodes=1, max_nodes=3, idle_seconds_before_scaledown=60)
    status = ComputeTarget(ws, "cpu").get_status().serialize()["scaleSettings"]
    assert status == {"minNodeCount": 1, "maxNodeCount": 3, "nodeIdleTimeBeforeScaleDown": "PT60S"}
    with pytest.raises(Exception, match="min_nodes must be a whole number from 0 to 3"):
        cluster.update(min_nodes=5)


def test_a_compute_instance_is_a_one_node_cluster_and_says_where_it_starts(ws, capsys):
    config = ComputeInstance.provisioning_configuration(
        vm_size="STANDARD_DS3_V2", ssh_public_access=True, admin_user_ssh_public_key="ssh-rsa AA"
    )
    assert "admin_user_ssh_public_key, ssh_public_access: Azure-only" in capsys.readouterr().out
    instance = ComputeTarget.create(ws, "my-instance", config)
    assert isinstance(instance, ComputeInstance)
    instance.wait_for_completion(show_output=False)
    found = ComputeInstance(workspace=ws, name="my-instance")
    assert isinstance(found, ComputeInstance) and found.vm_size == "STANDARD_DS3_V2"
    assert found.get_status().serialize()["scaleSettings"]["maxNodeCount"] == 1
    capsys.readouterr()
    found.stop()
    found.start()
    said = capsys.readouterr().out
    assert "ComputeInstance.stop(): nothing to do here" in said
    assert "python manage.py worker --target my-instance" in said
    with pytest.raises(Exception, match="is a docker target, not ComputeInstance"):
        ComputeTarget.create(ws, "engine", DockerCompute.provisioning_configuration())
        ComputeInstance(workspace=ws, name="engine")


def test_it_lists_the_vm_sizes_the_registered_nodes_offer(ws):
    cluster = ComputeTarget.create(ws, "gpu", AmlCompute.provisioning_configuration(max_nodes=2))
    for name, gpus in (("big@a", 1), ("big@b", 1), ("small@c", 0)):
        node_heartbeat(name=name, queues=[cluster._data["queue"]], pid=1,
                       concurrency=1, cpu_count=8 if gpus else 2, gpu_count=gpus,
                       memory_bytes=16 * 2**30)  # fmt: skip
    sizes = AmlCompute.supported_vmsizes(ws)
    assert [(s["name"], s["vCPUs"], s["gpus"], s["memoryGB"], s["nodes"]) for s in sizes] == [
        ("local-2cpu-0gpu", 2, 0, 16.0, 1),
        ("local-8cpu-1gpu", 8, 1, 16.0, 2),
    ]


def test_v1_curated_names_resolve_and_unknown_ones_list_what_exists(ws):
    assert Environment.get(ws, "AzureML-Tutorial").name == "MLStudio-SKLearn"
    assert (
        Environment.get(ws, "azureml-sklearn-0.24-ubuntu18.04-py37-cpu").name == "MLStudio-SKLearn"
    )
    assert Environment.get(ws, "AzureML-PyTorch-1.6-CPU").name == "MLStudio-PyTorch-CPU"
    assert Environment.get(ws, "AZUREML-MINIMAL").name == "MLStudio-Minimal"
    with pytest.raises(NotFoundException, match=r"Available: .*MLStudio-Minimal"):
        Environment.get(ws, "AzureML-TensorFlow-2.3-GPU")


def test_docker_runtime_config_runs_the_environment_as_an_image():
    env = Environment("fastai")
    env.python.user_managed_dependencies = True
    docker_config = DockerConfiguration(shm_size="2g", arguments=["--ipc=host"])
    src = ScriptRunConfig(".", "train.py", environment=env, docker_runtime_config=docker_config)
    docker = src.to_dict()["environment"]["docker"]
    assert (docker["enabled"], docker["shm_size"], docker["arguments"]) == (
        True,
        "2g",
        ["--ipc=host"],
    )
    assert env.docker.enabled is False  # the caller's Environment is left as it was
    config = RunConfiguration()
    config.environment.python.user_managed_dependencies = True
    config.environment_variables["A"] = "1"
    config.node_count = 1
    sent = ScriptRunConfig(".", "train.py", run_config=config).to_dict()
    assert sent["environment"]["python"]["user_managed_dependencies"] is True
    assert sent["environment_variables"] == {"A": "1"}
    assert (
        ScriptRunConfig(".", command=["python", "-c", "print(1)"]).to_dict()["environment"] is None
    )
    assert Environment.DEFAULT_CPU_IMAGE == "mlstudio/python:bookworm"


def test_it_exports_metrics_as_tensorboard_event_files(ws, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = Experiment(ws, "tb").start_logging()
    for value in (0.9, 0.5, 0.25):
        run.log("loss", value)
    run.log("accuracy", 0.75)
    run.complete()
    export_to_tensorboard(run, tmp_path / "tb")
    events = EventAccumulator(str(tmp_path / "tb" / run.id))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["accuracy", "loss"]
    scalars = events.Scalars("loss")
    assert [e.step for e in scalars] == [0, 1, 2]
    assert [e.value for e in scalars] == pytest.approx([0.9, 0.5, 0.25], rel=1e-6)  # float32


@pytest.mark.slow
def test_it_serves_a_local_folder_with_tensorboard(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    board = Tensorboard([], local_root=str(tmp_path), port=port)
    url = board.start()
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
    finally:
        board.stop()
    with pytest.raises(UserErrorException, match="local_root"):
        Tensorboard([])


def test_run_details_shows_at_once_and_follows_the_run_until_it_ends(ws):
    run = Experiment(ws, "widget").start_logging()
    view = RunDetails(run)
    started = time.monotonic()
    view.show()
    assert time.monotonic() - started < 2
    run.log("loss", 0.5)
    run.flush()
    logged = time.monotonic()
    wait_until(lambda: view.state["metrics"].get("loss") == 0.5, 5, "the widget to see the metric")
    assert time.monotonic() - logged < 1.5
    run.complete()
    view.wait(5)
    assert view.state["status"] == "Completed"
    assert not view._thread.is_alive()
    from mlstudio.sdk._widget_html import render

    html = render(view.state)
    assert "Completed" in html and "<svg" in html and "loss" in html
