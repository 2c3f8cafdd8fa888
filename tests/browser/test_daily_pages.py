"""Pages a team uses every day, as a person sees them in Chromium: laid out, with an icon,
members managed on Settings, a workspace made from the home page, dark when asked, and nodes
and slots counted the same way on every page."""

import pytest

from runs import services as run_services
from workspaces import services
from workspaces.models import Membership

pytestmark = [pytest.mark.slow, pytest.mark.browser]
pytest_plugins = ["tests.cluster_fixtures"]

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


def test_it_counts_nodes_and_slots_alike_on_the_compute_page_and_home(
    signed_in, server, owner, workspace, start_node
):
    from compute import services as compute_services

    compute_services.target_create(
        workspace=workspace, user=owner, name="big", type="cluster", max_nodes=4
    )
    start_node("--target", "big", "--workspace", "lab", "--slots", "4")
    page = signed_in
    page.goto(f"{server}/w/lab/compute/")
    page.wait_for_selector("#nodes tbody tr:has-text('lab.big@') .node-idle", timeout=60_000)
    page.wait_for_selector("#targets tr[data-target=big] [data-field=nodes_online]:text-is('1')")
    for target in ("local", "big"):
        row = f"#targets tr[data-target={target}]"
        of_target = page.locator(f"td:nth-child(2):text-is('{target}')")
        nodes = page.locator("#nodes tbody tr", has=of_target)
        slots = sum(int(n) for n in nodes.locator("td:nth-child(5)").all_inner_texts())
        assert page.inner_text(f"{row} [data-field=nodes_online]") == str(nodes.count()) == "1"
        assert page.inner_text(f"{row} [data-field=current_node_count]") == str(slots)
    assert page.inner_text("#targets tr[data-target=big] [data-field=idle_node_count]") == "4"
    page.screenshot(path=f"{SHOTS}/compute.png", full_page=True)
    page.goto(f"{server}/w/lab/")
    assert page.get_by_text("big (cluster) · 1 node, 4 slots: 4 idle, 0 busy").is_visible()
    page.screenshot(path=f"{SHOTS}/home-compute.png", full_page=True)


def test_it_reads_the_git_facts_in_one_line_with_a_link_to_the_commit(
    signed_in, server, owner, workspace
):
    from runs.models import Run

    experiment = run_services.experiment_create(workspace=workspace, name="exp", user=owner)
    run = run_services.run_start_interactive(experiment=experiment, user=owner)
    facts = {"repository_uri": "git@github.com:team/vision.git", "branch": "main",
             "commit": "0123456789abcdef", "dirty": "True"}  # fmt: skip
    properties = {f"azureml.git.{key}": value for key, value in facts.items()}
    properties |= {"mlflow.source.git.repoURL": facts["repository_uri"],
                   "mlflow.source.git.commit": facts["commit"], "dataset": "v2"}  # fmt: skip
    Run.objects.filter(pk=run.pk).update(properties=properties)
    page = signed_in
    page.goto(f"{server}/w/lab/runs/{run.pk}/")
    assert page.inner_text("#ov-git") == (
        "git@github.com:team/vision.git · branch main · commit 0123456789ab dirty"
    )
    link = page.get_attribute("#ov-git a", "href")
    assert link == "https://github.com/team/vision/commit/0123456789abcdef"
    assert page.inner_text("#ov-properties") == "dataset\tv2"  # no raw azureml.* or mlflow.*
    page.screenshot(path=f"{SHOTS}/run-git.png", full_page=True)
