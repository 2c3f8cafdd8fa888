import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model

from workspaces import services

OUR_APPS = {"workspaces", "compute", "environments", "runs"}


def test_it_registers_every_model_in_admin():
    ours = [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]
    missing = [m.__name__ for m in ours if m not in admin.site._registry]
    assert not missing


@pytest.fixture
def superuser_client(client, db):
    user = get_user_model().objects.create_superuser("root", password="root-pw-1234")
    services.workspace_create(name="lab", owner=user)
    services.api_token_create(user=user, name="laptop")
    client.force_login(user)
    return client


def test_it_lists_searches_and_filters_every_model(superuser_client):
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert superuser_client.get(url).status_code == 200, url
        assert superuser_client.get(url, {"q": "lab"}).status_code == 200, url


def test_it_never_shows_a_token_digest(superuser_client):
    token = get_user_model().objects.get(username="root").api_tokens.get()
    page = superuser_client.get(f"/admin/workspaces/apitoken/{token.pk}/change/")
    assert token.digest not in page.content.decode()
