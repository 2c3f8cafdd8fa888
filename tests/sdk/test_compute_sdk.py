"""The seed's compute snippet and the rest of azureml's ComputeTarget API, ported by changing the
import line, against a live studio."""

import pytest

from mlstudio.sdk import (
    AmlCompute,
    ComputeTarget,
    ComputeTargetException,
    DockerCompute,
    Experiment,
    ScriptRunConfig,
)
from mlstudio.sdk.compute import LocalCompute
from tests.cluster_fixtures import start_node  # noqa: F401 - a fixture
from tests.processes import wait_until


def test_it_runs_the_seed_snippet(ws, capsys):
    cluster_name = "gpu-cluster"
    try:
        compute_target = ComputeTarget(workspace=ws, name=cluster_name)
        print("Found existing compute target.")
    except ComputeTargetException:
        print("Creating a new compute target...")
        compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=4)
        compute_target = ComputeTarget.create(ws, cluster_name, compute_config)
        compute_target.wait_for_completion(show_output=True)
    print(compute_target.get_status().serialize())

    out = capsys.readouterr().out
    assert "Creating a new compute target..." in out
    assert "Succeeded" in out
    assert "Minimum number of nodes requested have been provisioned" in out
    assert isinstance(compute_target, AmlCompute)
    assert compute_target.vm_size == "STANDARD_NC6"
    serialized = compute_target.get_status().serialize()
    assert serialized["currentNodeCount"] == 0
    assert serialized["nodeStateCounts"] == {
        "idleNodeCount": 0, "leavingNodeCount": 0, "preemptedNodeCount": 0,
        "preparingNodeCount": 0, "runningNodeCount": 0, "unusableNodeCount": 0,
    }  # fmt: skip
    assert serialized["scaleSettings"] == {
        "minNodeCount": 0, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT1800S"
    }  # fmt: skip
    assert serialized["provisioningState"] == "Succeeded"
    assert serialized["vmSize"] == "STANDARD_NC6"

    again = ComputeTarget(workspace=ws, name=cluster_name)
    assert isinstance(again, AmlCompute)
    assert again.scale_settings.maximum_node_count == 4


def test_it_raises_compute_target_not_found(ws):
    with pytest.raises(ComputeTargetException, match="ComputeTargetNotFound") as caught:
        ComputeTarget(workspace=ws, name="nope")
    assert "Available: local" in str(caught.value)


def test_it_lists_gets_and_deletes_targets(ws):
    ComputeTarget.create(ws, "cpu", AmlCompute.provisioning_configuration(max_nodes=2))
    box = ComputeTarget.create(ws, "box", DockerCompute.provisioning_configuration())
    assert isinstance(box, DockerCompute)
    assert box.docker_host == "unix:///var/run/docker.sock"
    assert [(t.name, type(t).__name__) for t in ComputeTarget.list(ws)] == [
        ("local", "LocalCompute"), ("box", "DockerCompute"), ("cpu", "AmlCompute"),
    ]  # fmt: skip

    local = ComputeTarget(ws, "local")
    assert isinstance(local, LocalCompute)
    with pytest.raises(ComputeTargetException, match="cannot be deleted"):
        local.delete()
    with pytest.raises(ComputeTargetException, match="is a local target, not AmlCompute"):
        AmlCompute(ws, "local")

    ComputeTarget(ws, "cpu").delete()
    assert [t.name for t in ComputeTarget.list(ws)] == ["local", "box"]


def test_it_refuses_bad_configurations(ws):
    with pytest.raises(ComputeTargetException, match="Invalid compute target name"):
        ComputeTarget.create(ws, "x", AmlCompute.provisioning_configuration())
    with pytest.raises(ComputeTargetException, match="max nodes count must be greater"):
        AmlCompute.provisioning_configuration(min_nodes=3, max_nodes=2)
    with pytest.raises(ComputeTargetException, match="Pass a configuration"):
        ComputeTarget.create(ws, "cpu", {"max_nodes": 2})


def test_it_is_accepted_as_a_script_run_configs_target(ws, tmp_path):
    target = ComputeTarget.create(ws, "cpu", AmlCompute.provisioning_configuration(max_nodes=2))
    src = ScriptRunConfig(source_directory=tmp_path, script="train.py", compute_target=target)
    assert src.to_dict()["compute_target"] == "cpu"
    src.run_config.target = target
    assert src.to_dict()["compute_target"] == "cpu"


def test_it_reports_an_unreachable_docker_engine(ws, capsys):
    config = DockerCompute.provisioning_configuration(docker_host="tcp://127.0.0.1:9")
    box = ComputeTarget.create(ws, "box", config)
    box.wait_for_completion(show_output=True)
    assert box.provisioning_state == "Failed"
    assert "Docker engine at tcp://127.0.0.1:9 is unreachable" in box.get_status().errors[0]
    assert "There were errors reported" in capsys.readouterr().out


@pytest.mark.slow
def test_it_waits_until_min_nodes_are_online(ws, start_node, capsys):  # noqa: F811
    config = AmlCompute.provisioning_configuration(min_nodes=1, max_nodes=2)
    cluster = ComputeTarget.create(ws, "cpu", config)
    cluster.wait_for_completion(show_output=False, timeout_in_minutes=0)  # nothing online yet
    assert cluster.get_status().current_node_count == 0
    assert "manage.py worker --target cpu" in cluster.get_status().hints[0]

    start_node("--target", "cpu", "--workspace", "lab", "--autoscale")
    cluster.wait_for_completion(show_output=True, timeout_in_minutes=1)
    assert "Minimum number of nodes requested have been provisioned" in capsys.readouterr().out
    status = cluster.get_status()
    assert status.current_node_count == 1
    assert status.node_state_counts.idle_node_count == 1
    nodes = wait_until(cluster.list_nodes, 10, "the node list")
    assert [(n["state"], n["slots"]) for n in nodes] == [("idle", 2)]


def test_it_lists_the_runs_still_going_on_a_cluster(ws, tmp_path):
    (tmp_path / "train.py").write_text("print('hi')\n")
    cluster = ComputeTarget.create(ws, "cpu", AmlCompute.provisioning_configuration(max_nodes=2))
    experiment = Experiment(ws, "queued")
    on_cluster = [
        experiment.submit(ScriptRunConfig(tmp_path, "train.py", compute_target=cluster),
                          tags={"kind": kind})
        for kind in ("a", "b")
    ]  # fmt: skip
    experiment.submit(ScriptRunConfig(tmp_path, "train.py", compute_target="local"))
    interactive = experiment.start_logging()  # not on the cluster either
    assert {r.id for r in cluster.get_active_runs()} == {r.id for r in on_cluster}
    assert [r.id for r in cluster.get_active_runs(tags={"kind": "b"})] == [on_cluster[1].id]
    assert [r.id for r in cluster.get_active_runs(status="Running")] == []
    on_cluster[0].cancel()
    assert [r.id for r in cluster.get_active_runs()] == [on_cluster[1].id]
    interactive.complete()
