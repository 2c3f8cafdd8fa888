"""MLSTUDIO_WORKSPACE_CREATORS: who may create a workspace (and so become its owner)."""

import pytest

from mlstudio.errors import Forbidden
from workspaces import services
from workspaces.models import Workspace


@pytest.fixture
def staff_policy(settings):
    settings.MLSTUDIO_WORKSPACE_CREATORS = "STAFF"


def test_it_refuses_an_ordinary_account_under_the_default_policy(staff_policy, stranger, api_as):
    response = api_as(stranger).post(
        "/api/workspaces", {"name": "mine"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "MLSTUDIO_WORKSPACE_CREATORS=staff" in response.json()["detail"]
    assert not Workspace.objects.filter(name="mine").exists()


def test_the_service_itself_refuses(staff_policy, stranger):
    with pytest.raises(Forbidden):
        services.workspace_create(name="mine", owner=stranger)
    assert not Workspace.objects.exists()


def test_a_staff_member_creates_one(staff_policy, stranger, api_as):
    stranger.is_staff = True
    stranger.save()
    response = api_as(stranger).post(
        "/api/workspaces", {"name": "mine"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["role"] == "owner"


def test_everyone_lets_any_account_create_one(settings, stranger, api_as):
    settings.MLSTUDIO_WORKSPACE_CREATORS = "EVERYONE"
    response = api_as(stranger).post(
        "/api/workspaces", {"name": "mine"}, content_type="application/json"
    )
    assert response.status_code == 201


def test_the_default_is_staff():
    import mlstudio.settings as studio_settings

    assert studio_settings.MLSTUDIO_WORKSPACE_CREATORS == "STAFF"
