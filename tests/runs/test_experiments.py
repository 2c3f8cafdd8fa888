import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from runs import services
from runs.admin import ExperimentAdmin
from runs.models import Experiment


def url(path=""):
    return f"/api/workspaces/lab/experiments{path}"


def create(client, name, **extra):
    return client.post(url(), {"name": name, **extra}, content_type="application/json")


def test_it_creates_an_experiment_with_tags(owner, workspace, api_as):
    response = create(api_as(owner), "mnist_v2-1", tags={"team": "vision"})
    assert response.status_code == 201
    assert response.json()["tags"] == {"team": "vision"}
    assert response.json()["status"] == "Active"


@pytest.mark.parametrize("name", ["-lead", "has space", "a" * 256, "dots.no", ""])
def test_it_refuses_an_invalid_name_and_stores_nothing(owner, workspace, api_as, name):
    response = create(api_as(owner), name)
    assert response.status_code == 400
    assert "Invalid experiment name" in response.json()["detail"]
    assert not Experiment.objects.exists()


def test_it_refuses_a_duplicate_active_name(owner, workspace, api_as):
    client = api_as(owner)
    create(client, "exp")
    response = create(client, "exp")
    assert response.status_code == 409


def test_it_lets_a_reader_list_but_not_create(owner, teammate, workspace, api_as):
    create(api_as(owner), "exp")
    reader = api_as(teammate)
    assert [e["name"] for e in reader.get(url()).json()] == ["exp"]
    assert create(reader, "mine").status_code == 403


def test_it_hides_an_experiment_from_a_stranger(owner, stranger, workspace, api_as):
    experiment_id = create(api_as(owner), "exp").json()["id"]
    assert api_as(stranger).get(url(f"/{experiment_id}")).status_code == 404


def test_it_archives_hiding_it_from_default_lists_only(owner, workspace, api_as):
    client = api_as(owner)
    experiment_id = create(client, "exp").json()["id"]
    create(client, "other")
    archived = client.post(url(f"/{experiment_id}/archive")).json()
    assert archived["status"] == "Archived" and archived["archived_time"]
    assert [e["name"] for e in client.get(url()).json()] == ["other"]
    assert [e["name"] for e in client.get(url("?view_type=ArchivedOnly")).json()] == ["exp"]
    assert len(client.get(url("?view_type=All")).json()) == 2
    assert client.get(url(f"/{experiment_id}")).status_code == 200
    assert Experiment.objects.count() == 2


def test_it_refuses_an_unknown_view_type(owner, workspace, api_as):
    response = api_as(owner).get(url("?view_type=Everything"))
    assert response.status_code == 400
    assert "ActiveOnly" in response.json()["detail"]


def test_it_frees_an_archived_name_and_refuses_to_reactivate_over_it(owner, workspace, api_as):
    client = api_as(owner)
    old_id = create(client, "exp").json()["id"]
    client.post(url(f"/{old_id}/archive"))
    assert create(client, "exp").status_code == 201
    response = client.post(url(f"/{old_id}/reactivate"))
    assert response.status_code == 409
    assert "an active experiment with that name exists" in response.json()["detail"]
    assert Experiment.objects.get(pk=old_id).is_archived


def test_it_reactivates(owner, workspace, api_as):
    client = api_as(owner)
    experiment_id = create(client, "exp").json()["id"]
    client.post(url(f"/{experiment_id}/archive"))
    assert client.post(url(f"/{experiment_id}/reactivate")).json()["status"] == "Active"
    assert [e["name"] for e in client.get(url()).json()] == ["exp"]


def test_it_resolves_a_name_to_the_same_experiment(owner, workspace, api_as):
    client = api_as(owner)
    first = client.post(url("/resolve"), {"name": "exp"}, content_type="application/json")
    second = client.post(url("/resolve"), {"name": "exp"}, content_type="application/json")
    assert first.json()["id"] == second.json()["id"]


def test_it_resolves_an_archived_name_to_a_new_active_experiment_as_v1_does(
    owner, workspace, api_as
):
    client = api_as(owner)
    experiment_id = create(client, "exp").json()["id"]
    client.post(url(f"/{experiment_id}/archive"))
    resolved = client.post(url("/resolve"), {"name": "exp"}, content_type="application/json")
    assert resolved.json()["id"] != experiment_id and resolved.json()["status"] == "Active"
    assert Experiment.objects.get(pk=experiment_id).is_archived


def test_it_merges_tags(owner, workspace, api_as):
    client = api_as(owner)
    experiment_id = create(client, "exp", tags={"a": "1"}).json()["id"]
    response = client.post(
        url(f"/{experiment_id}/tags"), {"tags": {"b": 2}}, content_type="application/json"
    )
    assert response.json()["tags"] == {"a": "1", "b": "2"}


def test_it_archives_and_reactivates_from_the_admin_through_the_services(owner, workspace):
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    admin = ExperimentAdmin(Experiment, site)
    request = RequestFactory().post("/")
    request.user = owner
    request._messages = type("Messages", (), {"add": lambda *a, **k: None})()
    admin.archive(request, Experiment.objects.all())
    experiment.refresh_from_db()
    assert experiment.is_archived
    admin.reactivate(request, Experiment.objects.all())
    experiment.refresh_from_db()
    assert not experiment.is_archived
