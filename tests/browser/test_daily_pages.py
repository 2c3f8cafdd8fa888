"""Pages a team uses every day, as a person sees them in Chromium: laid out, with an icon,
members managed on Settings, a workspace made from the home page, dark when asked."""

import pytest

from runs import services as run_services
from workspaces import services
from workspaces.models import Membership

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SHOTS = "/tmp/dailyui_shots"


def test_it_has_a_favicon_and_lays_out_forms_and_cards(signed_in, server, owner, workspace):
    page = signed_in
    experiment = run_services.experiment_create(workspace=workspace, name="exp", user=owner)
    run_services.run_start_interactive(experiment=experiment, user=owner, display_name="a run")
    icon = page.request.get(f"{server}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/")
    page.goto(f"{server}/w/lab/")
    table = page.locator("#recent-runs")
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth"), "Recent runs cut off"
    assert page.is_visible("#recent-runs th:has-text('Created')")
    page.screenshot(path=f"{SHOTS}/home.png", full_page=True)
    page.goto(f"{server}/w/lab/environments/")
    label = page.locator("label[for=env-pip]").bounding_box()
    field = page.locator("#env-pip").bounding_box()
    assert label["y"] + label["height"] <= field["y"], "the label runs into its text area"
    page.screenshot(path=f"{SHOTS}/environments.png", full_page=True)


def test_it_lets_an_owner_manage_members_and_make_a_workspace(
    signed_in, server, owner, stranger, workspace
):
    page = signed_in
    page.goto(f"{server}/w/lab/settings/")
    page.fill("#member-username", "charlie")
    page.select_option("#member-role", "reader")
    page.click("#add-member button")
    page.wait_for_selector("text=charlie is now reader of lab.")
    row = "#members tr[data-member=charlie]"
    page.select_option(f"{row} select", "contributor")
    page.click(f"{row} button:has-text('Change role')")
    page.wait_for_selector("text=charlie is now contributor of lab.")
    assert Membership.objects.get(workspace=workspace, user=stranger).role == "contributor"
    page.screenshot(path=f"{SHOTS}/settings.png", full_page=True)
    page.click(f"{row} button:has-text('Remove')")
    page.wait_for_selector("text=charlie is no longer a member of lab.")
    assert not page.is_visible(row)
    owner.is_staff = True  # who may create workspaces (MLSTUDIO_WORKSPACE_CREATORS=staff)
    owner.save()
    page.goto(f"{server}/")
    page.fill("#ws-name", "vision")
    page.click("#new-workspace button")
    page.wait_for_selector("text=Workspace vision is created; you are its owner.")
    assert page.url.endswith("/w/vision/")


def test_it_shows_only_the_users_own_tokens_and_turns_dark_on_request(
    signed_in, server, owner, workspace
):
    page = signed_in
    services.api_token_create(user=owner, name="laptop SDK")
    services.api_token_create(user=owner, name="run exp_1", workspace_name="lab", for_run=True)
    page.goto(f"{server}/tokens/")
    assert page.is_visible("td:text-is('laptop SDK')")
    assert not page.is_visible("td:text-is('run exp_1')")
    page.emulate_media(color_scheme="dark")
    page.goto(f"{server}/w/lab/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 23, 29)"
    page.screenshot(path=f"{SHOTS}/home-dark.png", full_page=True)
