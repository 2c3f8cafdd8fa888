"""The runs table as a team keeps it open all day: cells that follow the runs as they go,
names and descriptions edited where they are shown, and the columns a user adds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runs import services as run_services
from runs.models import Run
from tests.runs.helpers import submit_script, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.browser]
pytest_plugins = ["tests.docker_fixtures"]

SHOTS = "/tmp/dailyui_shots"

GOING = """
    import time
    from mlstudio.sdk import Run
    run = Run.get_context()
    run.add_properties({"dataset": "v2"})
    time.sleep(3)  # the table is open before the first value
    run.log("loss", 0.75)
    run.tag("phase", "warm-up")
    run.flush()
    time.sleep(12)  # the cells show the values while the run goes on
    run.log("loss", 0.125)
"""


def cell(page, run_id: str, what: str) -> str:
    return page.inner_text(f"tr[data-run='{run_id}'] {what}")


def test_it_follows_a_running_runs_metrics_and_tags_then_its_end(
    signed_in, server, owner, experiment, api_as
):
    page = signed_in
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    page.wait_for_selector("#runs tbody:has-text('No runs yet.')")
    run_id = submit_script(api_as(owner), experiment, {"train.py": GOING})
    row = f"tr[data-run='{run_id}']"
    page.wait_for_selector(f"{row} [data-status]:text-matches('Queued|Preparing|Starting|Running')")
    # a metric the experiment never had becomes the metric column as the run logs it
    page.wait_for_selector(f"{row} [data-metric-cell]:text-is('0.75000')", timeout=30_000)
    assert page.inner_text("#metric-header") == "loss (last)"
    assert cell(page, run_id, "[data-tags-cell]") == "phase=warm-up"
    assert cell(page, run_id, "[data-status]") == "Running"
    page.screenshot(path=f"{SHOTS}/runs-table-live.png")
    page.wait_for_selector(f"{row} [data-status]:text-is('Completed')", timeout=60_000)
    page.wait_for_selector(f"{row} [data-metric-cell]:text-is('0.12500')", timeout=10_000)

    # columns the run's properties and environment give, kept over a reload
    page.reload()
    page.select_option("#add-column", label="property dataset")
    page.select_option("#add-column", label="environment")
    assert cell(page, run_id, "td[data-column='r|dataset']") == "v2"
    assert cell(page, run_id, "td[data-column='f|environment']") == "user-managed"
    page.select_option("#add-column", label="loss (min)")
    assert cell(page, run_id, "td[data-column='m|loss|min_value']") == "0.12500"


def test_it_edits_names_and_descriptions_in_the_table(signed_in, server, owner, experiment):
    page = signed_in
    first = run_services.run_start_interactive(experiment=experiment, user=owner)
    run_services.run_start_interactive(experiment=experiment, user=owner, display_name="other")
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    row = f"tr[data-run='{first.pk}']"
    page.click(f"{row} button[data-edit=name]")
    page.keyboard.type("baseline")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{row} a[data-name]:text-is('baseline')")
    assert Run.objects.get(pk=first.pk).display_name == "baseline"

    page.select_option("#add-column", label="description")
    page.click(f"{row} td[data-column='f|description'] button[data-edit]")
    page.keyboard.type("lr 0.1, no warm-up")
    page.keyboard.press("Tab")  # leaving the field saves it too
    page.wait_for_selector(f"{row} td[data-column='f|description']:has-text('lr 0.1, no warm-up')")
    assert Run.objects.get(pk=first.pk).description == "lr 0.1, no warm-up"
    page.fill("#search", "WARM-UP")
    assert page.eval_on_selector_all("#runs tbody tr[data-run]", "rs => rs.length") == 1

    # a refused name says why and keeps the field; Escape gives up
    page.fill("#search", "")
    page.click(f"{row} button[data-edit=name]")
    page.keyboard.press("Control+A")
    page.keyboard.type("x" * 256)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{row} [role=alert]:has-text('at most 255 characters')")
    page.screenshot(path=f"{SHOTS}/runs-table-edit-refused.png")
    page.keyboard.press("Escape")
    page.wait_for_selector(f"{row} a[data-name]:text-is('baseline')")
    page.reload()
    assert cell(page, first.pk, "a[data-name]") == "baseline"


def test_a_reader_sees_no_pencil(server, chromium, owner, teammate, experiment, page):
    from workspaces import services

    run_services.run_start_interactive(experiment=experiment, user=owner, display_name="one")
    page.goto(f"{server}/login/link/{services.login_link_create(user=teammate)}/")
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    page.wait_for_selector("#runs a[data-name]:text-is('one')")
    assert page.locator("#runs button[data-edit]").count() == 0


def test_it_shows_the_image_a_docker_run_ran_in(
    signed_in, server, owner, experiment, api_as, docker_engine
):
    page = signed_in
    spec = {
        "name": "boxed",
        "python": {"user_managed_dependencies": True, "interpreter_path": "python3"},
        "docker": {"enabled": True},
    }
    files = {"train.py": "print('in a box')\n"}
    run_id = submit_script(api_as(owner), experiment, files, environment=spec)
    page.goto(f"{server}/w/lab/runs/{run_id}/")
    page.wait_for_selector("#run-status:text-is('Completed')", timeout=180_000)
    page.wait_for_selector("#ov-image:text-matches('^mlstudio/env:')")
    image = page.inner_text("#ov-image")
    page.screenshot(path=f"{SHOTS}/run-docker-overview.png")
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    where = cell(page, run_id, "[data-where-cell]")
    assert where.startswith("local · ") and where.endswith(image)
    wait_for_status(run_id, "Completed")


def test_it_draws_charts_in_the_pages_colours_dark_or_light(signed_in, server, owner, experiment):
    from tests.runs.test_runs_table import add_runs

    page = signed_in
    add_runs(experiment, owner, range(1, 4))
    page.emulate_media(color_scheme="dark")
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    chart = "#charts-panel [data-metric=loss]"
    page.wait_for_selector(f"{chart} .main-svg")
    background = f"document.querySelector('{chart}').layout.paper_bgcolor"
    card = "getComputedStyle(document.documentElement).getPropertyValue('--card').trim()"
    assert page.evaluate(background) == page.evaluate(card) == "#1d2129"
    assert page.evaluate(f"document.querySelector('{chart}').layout.font.color") == "#e3e7ee"
    page.screenshot(path=f"{SHOTS}/runs-table-dark.png")
    page.emulate_media(color_scheme="light")  # the system switches while the page is open
    page.wait_for_function(f"{background} === '#fff'")


def test_it_compares_environment_image_git_commit_duration_and_node(
    signed_in, server, owner, experiment
):
    from tests.runs.test_runs_table import add_runs

    page = signed_in
    runs = add_runs(experiment, owner, range(1, 3))
    started = timezone.now() - timedelta(hours=1)
    for run, version, dirty in ((runs[0], "1", "false"), (runs[1], "2", "true")):
        minutes = int(version)
        Run.objects.filter(pk=run.pk).update(
            started_at=started, ended_at=started + timedelta(minutes=minutes), worker="lab.box@vm",
            definition={"compute_target": "docker", "script": "train.py",
                        "environment": {"id": 1, "name": "torch", "version": version}},
            properties={"azureml.git.commit": "0123456789abcdef", "azureml.git.dirty": dirty,
                        "mlstudio.image": "mlstudio/env:abc"},
        )  # fmt: skip
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    for run in runs:
        page.check(f"tr[data-run='{run.pk}'] input[type=checkbox]")
    page.click("#compare")
    page.wait_for_selector("#compare-table")

    def row(label: str) -> tuple[list[str], str | None]:
        selector = f"#compare-table tr:has(th:text-is('{label}'))"
        return page.inner_text(selector).split("\t")[1:], page.get_attribute(selector, "class")

    assert row("environment") == (["torch:1", "torch:2"], "diff")
    assert row("git commit") == (["0123456789ab", "0123456789ab (dirty)"], "diff")
    assert row("image") == (["mlstudio/env:abc", "mlstudio/env:abc"], None)
    assert row("duration") == (["1m 0s", "2m 0s"], "diff")
    assert row("where") == (["docker · lab.box@vm", "docker · lab.box@vm"], None)
    page.emulate_media(color_scheme="dark")
    page.wait_for_selector("#compare-parallel .main-svg")
    page.screenshot(path=f"{SHOTS}/compare-dark.png", full_page=True)
