from django.test import Client

from workspaces import services
from workspaces.models import Membership, Role


def test_it_refuses_anonymous_api_calls_with_a_way_out(workspace):
    response = Client().get("/api/workspaces/lab")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]


def test_it_refuses_a_wrong_token(workspace):
    response = Client(headers={"authorization": "Bearer mls_wrong"}).get("/api/workspaces/lab")
    assert response.status_code == 401
    assert "refused" in response.json()["detail"]


def test_it_refuses_a_revoked_token(owner, workspace, api_as):
    client = api_as(owner)
    assert client.get("/api/workspaces/lab").status_code == 200
    token = owner.api_tokens.get()
    services.api_token_revoke(user=owner, token_id=token.pk)
    response = client.get("/api/workspaces/lab")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_it_shows_a_member_their_workspace_and_role(teammate, workspace, api_as):
    response = api_as(teammate).get("/api/workspaces/lab")
    assert response.status_code == 200
    assert response.json()["role"] == "reader"


def test_it_gives_a_stranger_404_not_403(stranger, workspace, api_as):
    response = api_as(stranger).get("/api/workspaces/lab")
    assert response.status_code == 404
    assert api_as(stranger).get("/api/workspaces/lab/members").status_code == 404


def test_it_answers_the_same_404_for_a_missing_workspace(owner, api_as):
    response = api_as(owner).get("/api/workspaces/nope")
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


def test_it_lets_a_reader_read_but_not_change(teammate, stranger, workspace, api_as):
    client = api_as(teammate)
    assert [m["username"] for m in client.get("/api/workspaces/lab/members").json()] == [
        "alice",
        "bob",
    ]
    response = client.put(
        "/api/workspaces/lab/members/charlie", {"role": "owner"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "reader" in response.json()["detail"]
    assert not Membership.objects.filter(user=stranger).exists()


def test_it_lets_an_owner_add_and_remove_members(owner, stranger, workspace, api_as):
    client = api_as(owner)
    response = client.put(
        "/api/workspaces/lab/members/charlie",
        {"role": "contributor"},
        content_type="application/json",
    )
    assert response.json() == {"username": "charlie", "role": "contributor"}
    assert client.delete("/api/workspaces/lab/members/charlie").status_code == 204
    assert not Membership.objects.filter(user=stranger).exists()


def test_it_keeps_at_least_one_owner(owner, workspace, api_as):
    response = api_as(owner).put(
        "/api/workspaces/lab/members/alice", {"role": "reader"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert Membership.objects.get(user=owner).role == Role.OWNER


def test_it_limits_a_scoped_token_to_its_workspace(owner, workspace, api_as):
    services.workspace_create(name="other", owner=owner)
    client = api_as(owner, "lab")
    assert client.get("/api/workspaces/other").status_code == 404
    assert [w["name"] for w in client.get("/api/workspaces").json()] == ["lab"]
    assert client.get("/api/me").json()["token_workspace"] == "lab"


def test_it_creates_a_workspace_with_the_creator_as_owner(stranger, api_as):
    response = api_as(stranger).post(
        "/api/workspaces", {"name": "mine"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["role"] == "owner"


def test_it_rejects_a_bad_workspace_name_and_stores_nothing(stranger, api_as):
    response = api_as(stranger).post(
        "/api/workspaces", {"name": "-bad name"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "Invalid workspace name" in response.json()["detail"]
    assert not Membership.objects.filter(user=stranger).exists()


def test_it_lists_tokens_without_their_secret(owner, api_as):
    client = api_as(owner)
    tokens = client.get("/api/tokens").json()
    assert len(tokens) == 1
    assert client.raw_token not in str(tokens)
    assert tokens[0]["prefix"] == client.raw_token[:10]


def test_it_serves_the_openapi_schema_to_members(owner, api_as):
    schema = api_as(owner).get("/api/openapi.json").json()
    assert "/api/workspaces/{name}" in schema["paths"]
