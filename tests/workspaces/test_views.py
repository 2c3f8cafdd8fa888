import json

from django.test import Client

from workspaces import services
from workspaces.models import ApiToken


def test_it_logs_in_once_through_a_login_link(owner):
    raw = services.login_link_create(user=owner)
    client = Client()
    response = client.get(f"/login/link/{raw}/", follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "alice" in response.content.decode()
    second = Client().get(f"/login/link/{raw}/")
    assert second.status_code == 400
    assert "already used" in second.content.decode()


def test_it_refuses_an_expired_login_link(owner, settings):
    raw = services.login_link_create(user=owner)
    owner.login_links.update(expires_at="2000-01-01T00:00:00Z")
    assert Client().get(f"/login/link/{raw}/").status_code == 400


def test_it_logs_in_with_a_password(owner):
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": "alice-pw-1234"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_it_logs_out_on_post(owner, logged_in):
    client = logged_in(owner)
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_it_lists_my_workspaces_on_home(owner, workspace, logged_in):
    page = logged_in(owner).get("/").content.decode()
    assert 'href="/w/lab/"' in page


def test_it_hides_a_workspace_page_from_a_stranger(stranger, workspace, logged_in):
    assert logged_in(stranger).get("/w/lab/").status_code == 404


def test_it_downloads_a_working_config_json(owner, workspace, logged_in):
    response = logged_in(owner).post("/w/lab/config.json")
    assert response["Content-Disposition"] == 'attachment; filename="config.json"'
    config = json.loads(response.content)
    assert config["workspace_name"] == "lab"
    assert config["url"].startswith("http://")
    api = Client(headers={"authorization": f"Bearer {config['token']}"})
    assert api.get("/api/workspaces/lab").status_code == 200
    assert ApiToken.objects.get(user=owner).workspace == workspace


def test_it_shows_a_new_token_once_and_revokes_it(owner, workspace, logged_in):
    client = logged_in(owner)
    page = client.post("/tokens/", {"name": "laptop", "workspace": "lab"}).content.decode()
    token = ApiToken.objects.get(user=owner)
    raw = page.split('id="new-token">')[1].split("<")[0]
    assert services.digest(raw) == token.digest
    assert raw not in client.get("/tokens/").content.decode()
    client.post(f"/tokens/{token.pk}/revoke/")
    api = Client(headers={"authorization": f"Bearer {raw}"})
    assert api.get("/api/workspaces/lab").status_code == 401


def test_it_refuses_a_token_for_a_workspace_i_am_not_in(stranger, workspace, logged_in):
    page = logged_in(stranger).post("/tokens/", {"name": "x", "workspace": "lab"})
    assert "not found" in page.content.decode()
    assert not ApiToken.objects.filter(user=stranger).exists()


def test_it_cannot_revoke_someone_elses_token(owner, stranger, logged_in):
    token, _ = services.api_token_create(user=owner, name="mine")
    assert logged_in(stranger).post(f"/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.is_active
