"""The Settings page's members table and the home page's create-workspace form."""

from workspaces import services
from workspaces.models import Membership, Role, Workspace

MEMBERS = "/w/lab/settings/members/"


def role_of(username: str) -> str | None:
    found = Membership.objects.filter(workspace__name="lab", user__username=username).first()
    return found.role if found else None


def test_it_lets_an_owner_add_change_and_remove_members(owner, workspace, stranger, logged_in):
    client = logged_in(owner)
    page = client.post(MEMBERS, {"username": "charlie", "role": "contributor"}, follow=True)
    assert "charlie is now contributor of lab." in page.content.decode()
    assert role_of("charlie") == Role.CONTRIBUTOR
    client.post(MEMBERS, {"username": "charlie", "role": "owner"})
    assert role_of("charlie") == Role.OWNER
    page = client.post(MEMBERS, {"username": "charlie", "action": "remove"}, follow=True)
    assert "charlie is no longer a member of lab." in page.content.decode()
    assert role_of("charlie") is None


def test_it_shows_owners_the_member_forms_and_readers_only_the_list(
    owner, teammate, workspace, logged_in
):
    assert 'id="add-member"' in logged_in(owner).get("/w/lab/settings/").content.decode()
    page = logged_in(teammate).get("/w/lab/settings/").content.decode()
    assert 'id="add-member"' not in page and "<td>Reader</td>" in page


def test_it_refuses_members_changes_from_a_reader_and_a_stranger(
    teammate, stranger, workspace, logged_in
):
    page = logged_in(teammate).post(MEMBERS, {"username": "bob", "role": "owner"}, follow=True)
    assert role_of("bob") == Role.READER
    assert "owner" in page.content.decode().lower()
    assert (
        logged_in(stranger).post(MEMBERS, {"username": "charlie", "role": "owner"}).status_code
        == 404
    )
    assert role_of("charlie") is None


def test_it_says_what_is_wrong_with_an_unknown_user_and_the_last_owner(owner, workspace, logged_in):
    client = logged_in(owner)
    page = client.post(
        MEMBERS, {"username": "ghost", "role": "reader"}, follow=True
    ).content.decode()
    assert "No user named &#x27;ghost&#x27;" in page
    page = client.post(
        MEMBERS, {"username": "alice", "action": "remove"}, follow=True
    ).content.decode()
    assert "last owner" in page and role_of("alice") == Role.OWNER


def test_it_creates_a_workspace_its_creator_owns(stranger, logged_in):
    client = logged_in(stranger)
    assert 'id="new-workspace"' in client.get("/").content.decode()
    response = client.post("/workspaces/new/", {"name": "vision", "description": "cameras"})
    assert response.status_code == 302 and response["Location"] == "/w/vision/"
    assert Workspace.objects.get(name="vision").memberships.get().user == stranger
    page = client.post("/workspaces/new/", {"name": "bad name!"}, follow=True).content.decode()
    assert (
        "Invalid workspace name" in page and not Workspace.objects.filter(name="bad name!").exists()
    )


def test_it_lists_only_the_users_own_tokens_not_those_of_runs(owner, workspace, logged_in):
    services.api_token_create(user=owner, name="laptop SDK")
    services.api_token_create(user=owner, name="run exp_1", workspace_name="lab", for_run=True)
    page = logged_in(owner).get("/tokens/").content.decode()
    assert "laptop SDK" in page and "run exp_1" not in page


def test_it_gzips_pages_but_not_those_that_show_a_secret(owner, workspace, logged_in):
    client = logged_in(owner)
    page = client.get("/w/lab/settings/", headers={"accept-encoding": "gzip, br"})
    assert page["Content-Encoding"] == "gzip"
    tokens = client.get("/tokens/", headers={"accept-encoding": "gzip"})
    assert not tokens.has_header("Content-Encoding") and tokens["Cache-Control"] == "no-store"


def test_it_leaves_the_form_out_for_those_the_policy_refuses(stranger, logged_in, settings):
    settings.MLSTUDIO_WORKSPACE_CREATORS = "STAFF"
    client = logged_in(stranger)
    assert 'id="new-workspace"' not in client.get("/").content.decode()
    page = client.post("/workspaces/new/", {"name": "vision"}, follow=True).content.decode()
    assert "Only staff members may create workspaces" in page
    assert not Workspace.objects.filter(name="vision").exists()
