"""Registering, reading and deleting compute targets through the REST API."""

from __future__ import annotations

import pytest

from compute.models import ComputeTarget, SlotLease
from compute.selectors import target_for_run, target_queue_for
from mlstudio.errors import NotFound, UserError
from runs import services as run_services
from runs.submission import RunConfig
from workspaces import services as workspace_services

API = "/api/workspaces/lab/compute"


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_it_gives_every_workspace_a_local_target_listed_first(owner, workspace, api_as, cluster):
    other = workspace_services.workspace_create(name="other", owner=owner)
    assert ComputeTarget.objects.filter(workspace=other, name="local", type="local").exists()

    listed = api_as(owner).get(API).json()
    assert [t["name"] for t in listed] == ["local", "gpu"]
    assert listed[0]["queue"] == "target-local"
    assert listed[1]["queue"] == "target-lab.gpu"


def test_it_registers_a_cluster_and_reads_it_back(owner, workspace, api_as):
    client = api_as(owner)
    body = {"name": "cpu-cluster", "type": "cluster", "vm_size": "STANDARD_D2_V2", "min_nodes": 1,
            "max_nodes": 4, "idle_seconds_before_scaledown": 120}  # fmt: skip
    created = post(client, API, body)
    assert created.status_code == 201, created.content

    got = client.get(f"{API}/cpu-cluster").json()
    assert got["type"] == "cluster"
    assert got["vm_size"] == "STANDARD_D2_V2"
    assert (got["min_nodes"], got["max_nodes"], got["idle_seconds_before_scaledown"]) == (1, 4, 120)
    assert got["provisioning_state"] == "Succeeded"
    assert got["created_by"] == "alice"
    assert got["status"]["current_node_count"] == 0
    hint = got["status"]["hints"][0]
    assert "python manage.py worker --target cpu-cluster --workspace lab" in hint


def test_it_defaults_a_cluster_as_azureml_did(owner, workspace, api_as):
    got = post(api_as(owner), API, {"name": "gpu-cluster"}).json()
    assert (got["type"], got["min_nodes"], got["max_nodes"]) == ("cluster", 0, 4)
    assert got["idle_seconds_before_scaledown"] == 1800


def test_it_says_compute_target_not_found_with_what_exists(owner, workspace, api_as, cluster):
    response = api_as(owner).get(f"{API}/nope")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert detail.startswith("ComputeTargetNotFound: Unknown compute target 'nope'")
    assert "Available: local, gpu" in detail


@pytest.mark.parametrize(
    "name", ["a", "toolongnameforatarget", "9lives", "gpu_cluster", "gpu-", "gpu cluster", "ümlaut"]
)
def test_it_refuses_bad_names_and_stores_nothing(owner, workspace, api_as, name):
    response = post(api_as(owner), API, {"name": name, "type": "cluster"})
    assert response.status_code == 400
    assert "Invalid compute target name" in response.json()["detail"]
    assert list(ComputeTarget.objects.values_list("name", flat=True)) == ["local"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "gpu"}, "Unknown compute target type 'gpu'"),
        ({"type": "local"}, "Unknown compute target type 'local'"),
        ({"max_nodes": 0}, "max_nodes must be a whole number from 1 to 1000"),
        ({"min_nodes": 3, "max_nodes": 2}, "min_nodes must be a whole number from 0 to 2"),
        ({"idle_seconds_before_scaledown": 0}, "idle_seconds_before_scaledown"),
        ({"type": "docker", "docker_host": "ftp://box"}, "not a Docker Engine address"),
    ],
)
def test_it_refuses_bad_settings_and_stores_nothing(owner, workspace, api_as, body, message):
    response = post(api_as(owner), API, {"name": "gpu", **body})
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert ComputeTarget.objects.count() == 1


def test_it_refuses_a_second_target_of_the_same_name(owner, workspace, api_as, cluster):
    response = post(api_as(owner), API, {"name": "gpu"})
    assert response.status_code == 409
    assert "already exists in workspace 'lab'" in response.json()["detail"]
    local = post(api_as(owner), API, {"name": "local"})
    assert local.status_code == 409
    assert "exists in every workspace" in local.json()["detail"]


def test_it_keeps_same_named_targets_of_two_workspaces_apart(owner, workspace, cluster):
    other = workspace_services.workspace_create(name="other", owner=owner)
    twin = ComputeTarget.objects.create(workspace=other, name="gpu", type="cluster", max_nodes=1)
    assert cluster.queue != twin.queue
    assert target_queue_for(workspace=workspace, name="gpu") == "target-lab.gpu"
    assert target_queue_for(workspace=other, name="gpu") == "target-other.gpu"
    assert target_queue_for(workspace=other, name=None) == "target-local"


def test_it_refuses_a_run_for_an_unknown_target_or_too_many_nodes(workspace, cluster):
    with pytest.raises(NotFound, match="Unknown compute target 'nope'"):
        target_for_run(workspace=workspace, name="nope")
    with pytest.raises(UserError, match=r"node_count 3 is more than .* max_nodes is 2"):
        target_for_run(workspace=workspace, name="gpu", node_count=3)
    assert target_for_run(workspace=workspace, name="gpu", node_count=2) == cluster


def test_it_lets_readers_read_and_contributors_change(owner, teammate, workspace, api_as, cluster):
    reader = api_as(teammate)
    assert reader.get(API).status_code == 200
    assert reader.get(f"{API}/gpu/status").status_code == 200
    assert post(reader, API, {"name": "mine"}).status_code == 403
    assert reader.delete(f"{API}/gpu").status_code == 403
    assert ComputeTarget.objects.filter(name="gpu").exists()


def test_it_hides_targets_from_strangers(stranger, workspace, api_as, cluster):
    client = api_as(stranger)
    assert client.get(API).status_code == 404
    assert client.get(f"{API}/gpu").status_code == 404
    assert client.delete(f"{API}/gpu").status_code == 404


def test_it_deletes_a_target_nothing_runs_on(owner, workspace, api_as, cluster):
    assert api_as(owner).delete(f"{API}/gpu").status_code == 204
    assert api_as(owner).get(f"{API}/gpu").status_code == 404


def test_it_never_deletes_local(owner, workspace, api_as):
    response = api_as(owner).delete(f"{API}/local")
    assert response.status_code == 403
    assert "cannot be deleted" in response.json()["detail"]


def test_it_refuses_to_delete_a_target_with_a_queued_run(owner, workspace, api_as, cluster):
    experiment = run_services.experiment_create(workspace=workspace, name="exp", user=owner)
    run = run_services.run_submit(
        experiment=experiment,
        user=owner,
        snapshot=None,
        config=RunConfig(command=["true"], compute_target="gpu"),
    )
    assert run.definition["queue"] == cluster.queue

    response = api_as(owner).delete(f"{API}/gpu")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert f"has 1 active run ({run.pk})" in detail
    assert "Cancel them or wait for them to finish" in detail
    assert ComputeTarget.objects.filter(name="gpu").exists()

    run_services.run_cancel(run=run)
    assert api_as(owner).delete(f"{API}/gpu").status_code == 204


def test_it_refuses_to_delete_a_target_a_live_node_executes_on(owner, workspace, api_as, cluster):
    from compute.services import node_heartbeat

    node_heartbeat(name="n1@box", queues=[cluster.queue], pid=1, concurrency=2)
    now = cluster.created_at
    SlotLease.objects.create(
        target=cluster, holder="exp_1_abc", node="n1@box", requested_at=now, granted_at=now
    )
    response = api_as(owner).delete(f"{API}/gpu")
    assert response.status_code == 409
    assert "exp_1_abc" in response.json()["detail"]


def test_it_records_an_unreachable_docker_engine_as_a_failed_state(owner, workspace, api_as):
    response = post(api_as(owner), API, {"name": "box", "type": "docker",
                                         "docker_host": "tcp://127.0.0.1:9"})  # fmt: skip
    assert response.status_code == 201
    box = response.json()
    assert box["docker_host"] == "tcp://127.0.0.1:9"
    assert box["provisioning_state"] == "Failed"
    assert "Docker engine at tcp://127.0.0.1:9 is unreachable" in box["status"]["errors"][0]


def test_it_defaults_a_docker_target_to_the_local_socket(owner, workspace, api_as):
    box = post(api_as(owner), API, {"name": "box", "type": "docker"}).json()
    assert box["docker_host"] == "unix:///var/run/docker.sock"
    assert box["max_nodes"] == 4
