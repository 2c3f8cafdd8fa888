"""Deleting an experiment (#8): only an archived one, only by an owner; the name is free at
once, and a task on the control queue purges its runs' files and the snapshots and blobs
nothing else uses."""

import hashlib
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin.sites import site
from django.test import RequestFactory

from mlstudio.sdk import Experiment as SdkExperiment
from mlstudio.sdk import UserErrorException, Workspace
from runs import services, store
from runs.admin import ExperimentAdmin
from runs.models import Blob, Experiment, Run, Snapshot
from runs.snapshots import blob_name
from tests.processes import wait_until
from tests.runs.helpers import submit_script, wait_for_status
from workspaces import services as workspace_services
from workspaces.models import Membership, Role

API = "/api/workspaces/lab"


@pytest.fixture
def archived(owner, workspace):
    experiment = services.experiment_create(workspace=workspace, name="old", user=owner)
    return services.experiment_archive(experiment=experiment)


@pytest.fixture
def contributor(teammate, workspace):
    Membership.objects.filter(user=teammate).update(role=Role.CONTRIBUTOR)
    return teammate


def delete(client, experiment):
    return client.delete(f"{API}/experiments/{experiment.pk}")


@pytest.fixture
def queued(owner, workspace, api_as):
    """Alice's client, her experiment `exp`, and its one run, which nobody executes here: it
    stays Queued until canceled."""
    client = api_as(owner)
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    return client, experiment, submit_script(client, experiment, {"train.py": "print('hi')\n"})


def test_it_refuses_to_delete_an_active_experiment_and_changes_nothing(queued):
    client, experiment, run_id = queued
    client.post(f"{API}/runs/{run_id}/cancel")
    response = delete(client, experiment)
    assert response.status_code == 409
    assert "is active; archive it first" in response.json()["detail"]
    assert [e["name"] for e in client.get(f"{API}/experiments").json()] == ["exp"]
    assert client.get(f"{API}/runs/{run_id}").json()["status"] == "Canceled"


def test_it_refuses_while_runs_have_not_ended(queued):
    client, experiment, run_id = queued
    client.post(f"{API}/experiments/{experiment.pk}/archive")
    response = delete(client, experiment)
    assert response.status_code == 409
    assert f"{run_id} (Queued)" in response.json()["detail"]
    assert "Cancel them first" in response.json()["detail"]
    assert client.get(f"{API}/runs/{run_id}").status_code == 200
    client.post(f"{API}/runs/{run_id}/cancel")
    assert delete(client, experiment).status_code == 204


@pytest.mark.parametrize("role", [Role.READER, Role.CONTRIBUTOR])
def test_it_lets_only_owners_delete(teammate, archived, api_as, role):
    Membership.objects.filter(user=teammate).update(role=role)
    response = delete(api_as(teammate), archived)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"Only an owner of workspace 'lab' can delete an experiment; your role is {role}. "
        "Ask an owner to delete it, or to make you one."
    )
    assert Experiment.objects.filter(pk=archived.pk).exists()


def test_it_hides_the_experiment_from_a_stranger(stranger, archived, api_as):
    assert delete(api_as(stranger), archived).status_code == 404
    assert Experiment.objects.filter(pk=archived.pk).exists()


def test_it_frees_the_name_at_once_and_hides_the_runs(queued):
    client, experiment, run_id = queued
    client.post(f"{API}/runs/{run_id}/cancel")
    client.post(f"{API}/experiments/{experiment.pk}/archive")

    assert delete(client, experiment).status_code == 204

    assert client.get(f"{API}/experiments/{experiment.pk}").status_code == 404
    assert client.get(f"{API}/experiments?view_type=All").json() == []
    for path in ("", "/files", "/metrics", "/logs/user_logs/std_log.txt"):
        assert client.get(f"{API}/runs/{run_id}{path}").status_code == 404, path
    resolved = client.post(f"{API}/experiments/resolve", {"name": "exp"}, "application/json")
    assert resolved.json()["id"] != experiment.pk and resolved.json()["status"] == "Active"
    assert delete(client, experiment).status_code == 404


def test_it_lets_a_new_experiment_take_the_name_straight_after(owner, archived, api_as):
    client = api_as(owner)
    assert delete(client, archived).status_code == 204
    created = client.post(f"{API}/experiments", {"name": "old"}, "application/json")
    assert created.status_code == 201
    assert created.json()["status"] == "Active"


def admin_request(user):
    request = RequestFactory().post("/")
    request.user = user
    request.said = []
    request._messages = type("Messages", (), {"add": lambda _, *a, **k: request.said.append(a)})()
    return request


def test_it_deletes_from_the_admin_through_the_service(owner, workspace, archived):
    services.experiment_create(workspace=workspace, name="active", user=owner)
    admin = ExperimentAdmin(Experiment, site)
    request = admin_request(owner)
    admin.delete(request, Experiment.objects.all())
    assert list(Experiment.objects.values_list("name", flat=True)) == ["active"]
    said = [message for _, message, _ in request.said]
    assert "Experiment 'active' is active; archive it first" in said[0]
    assert said[1] == "Deleted 1 experiment(s); their files are being purged."
    assert "delete_selected" not in admin.get_actions(request)


def test_it_refuses_an_admin_who_is_not_an_owner(teammate, archived):
    request = admin_request(teammate)
    ExperimentAdmin(Experiment, site).delete(request, Experiment.objects.all())
    assert Experiment.objects.filter(pk=archived.pk).exists()
    assert "Only an owner of workspace 'lab'" in request.said[0][1]


# --- the pages -----------------------------------------------------------------------------


def row_of(page: str, name: str) -> str:
    match = re.search(rf'<tr data-id="\d+" data-name="{name}">(.*?)</tr>', page, re.DOTALL)
    assert match, f"no row for {name!r}"
    return match.group(1)


def test_it_offers_delete_for_archived_experiments_to_owners_only(
    owner, contributor, workspace, archived, logged_in
):
    services.experiment_create(workspace=workspace, name="active", user=owner)
    page = logged_in(owner).get("/w/lab/experiments/?view=all").content.decode()
    assert ">Delete</button>" in row_of(page, "old")
    assert ">Delete</button>" not in row_of(page, "active")
    assert 'id="delete-experiment"' in page and "to confirm" in page

    page = logged_in(contributor).get("/w/lab/experiments/?view=all").content.decode()
    assert ">Reactivate</button>" in row_of(page, "old")
    assert ">Delete</button>" not in row_of(page, "old")
    assert 'id="delete-experiment"' not in page


def test_it_offers_delete_on_the_page_of_an_archived_experiment_to_owners_only(
    owner, contributor, workspace, archived, logged_in
):
    active = services.experiment_create(workspace=workspace, name="active", user=owner)
    page = logged_in(owner).get(f"/w/lab/experiments/{archived.pk}/").content.decode()
    assert 'id="delete-experiment-button"' in page and ">Delete</button>" in page
    assert f'data-api="{API}/experiments/{archived.pk}"' in page
    assert 'data-list="/w/lab/experiments/?view=archived"' in page
    assert 'id="delete-experiment-confirm"' in page
    page = logged_in(owner).get(f"/w/lab/experiments/{active.pk}/").content.decode()
    assert "delete-experiment" not in page
    page = logged_in(contributor).get(f"/w/lab/experiments/{archived.pk}/").content.decode()
    assert "delete-experiment" not in page


# --- the purge, by a real worker -----------------------------------------------------------

TRAIN = """
    import os
    from mlstudio.sdk import Run
    Run.get_context().log("loss", 0.5)
    os.makedirs("outputs", exist_ok=True)
    open("outputs/model.txt", "w").write("weights")
    print("trained")
"""


def sha_of(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def blob_on_disk(body: str) -> Path:
    return Path(settings.MEDIA_ROOT) / blob_name(sha256=sha_of(body))


def series_dir(run_id: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "series" / run_id


@pytest.mark.slow
def test_the_purge_removes_run_files_and_unshared_blobs_only(
    owner, workspace, api_as, local_worker, control_worker
):
    client = api_as(owner)
    old = services.experiment_create(workspace=workspace, name="old", user=owner)
    kept = services.experiment_create(workspace=workspace, name="kept", user=owner)
    shared = f"SHARED = '{uuid.uuid4()}'\n"
    only_old = f"OLD = '{uuid.uuid4()}'\n"
    both = {"train.py": TRAIN, "shared.py": shared}
    old_runs = [
        submit_script(client, old, {**both, "only_old.py": only_old}),
        submit_script(client, old, both),  # the same folder as kept's run: one snapshot
    ]
    kept_run = submit_script(client, kept, both)
    for run_id in [*old_runs, kept_run]:
        assert wait_for_status(run_id, "Completed", "Failed").status == "Completed"
    old_snapshot, same_snapshot = (Run.objects.get(pk=r).snapshot_id for r in old_runs)
    assert same_snapshot == Run.objects.get(pk=kept_run).snapshot_id
    for run_id in old_runs:
        assert (store.run_dir(run_id) / "outputs" / "model.txt").is_file()
        assert (store.run_dir(run_id) / store.USER_LOG).is_file()
        assert any(series_dir(run_id).iterdir())
    assert blob_on_disk(only_old).is_file() and blob_on_disk(shared).is_file()

    client.post(f"{API}/experiments/{old.pk}/archive")
    assert delete(client, old).status_code == 204

    wait_until(lambda: not blob_on_disk(only_old).exists(), 30, "the purge task")
    for run_id in old_runs:
        assert not store.run_dir(run_id).exists()
        assert not series_dir(run_id).exists()
    assert not Snapshot.objects.filter(pk=old_snapshot).exists()
    assert not Blob.objects.filter(sha256=sha_of(only_old)).exists()
    assert Blob.objects.filter(sha256=sha_of(shared)).exists()
    assert blob_on_disk(shared).is_file()
    assert Snapshot.objects.filter(pk=same_snapshot).exists()
    snapshot = client.get(f"{API}/snapshots/{same_snapshot}/files/shared.py")
    assert b"".join(snapshot.streaming_content).decode() == shared
    assert client.get(f"{API}/runs/{kept_run}/files/outputs/model.txt").status_code == 200
    assert client.get(f"{API}/runs/{kept_run}/metrics").json()["metrics"] == {"loss": 0.5}


# --- the SDK, over the REST API of a live server -------------------------------------------


@pytest.mark.slow
def test_the_sdk_deletes_an_archived_experiment(live_server, owner, teammate, workspace):
    def connect(user) -> Workspace:
        token = workspace_services.api_token_create(user=user, name="sdk")[1]
        return Workspace(name="lab", url=live_server.url, token=token)

    ws = connect(owner)
    experiment = SdkExperiment(workspace=ws, name="sdk_exp")
    with pytest.raises(UserErrorException, match="is active; archive it first"):
        SdkExperiment.delete(ws, experiment.id)
    experiment.archive()
    with pytest.raises(UserErrorException, match="Only an owner of workspace 'lab'"):
        SdkExperiment.delete(connect(teammate), experiment.id)
    with pytest.raises(UserErrorException, match=r"as experiment\.id gives it"):
        SdkExperiment.delete(ws, "sdk_exp")

    SdkExperiment.delete(ws, experiment.id)

    assert [e.name for e in SdkExperiment.list(ws, view_type="All")] == []
    again = SdkExperiment(workspace=ws, name="sdk_exp")
    assert again.id != experiment.id and again.archived_time is None
