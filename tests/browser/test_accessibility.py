"""axe-core (the axe.min.js that the axe-playwright-python package ships, installed with the
test extras, never fetched at run time) finds no serious or critical accessibility problem on
the pages a team works in, in light and dark mode, and the run page's tabs and the runs table
work from the keyboard."""

from importlib.resources import files

import pytest

from runs import services as run_services

pytestmark = [pytest.mark.slow, pytest.mark.browser]

AXE = files("axe_playwright_python") / "axe.min.js"
PROBLEMS = """async () => {
  const found = await axe.run(document, { resultTypes: ["violations"] });
  return found.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""


def serious_problems(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(PROBLEMS)


@pytest.fixture
def run(owner, workspace):
    experiment = run_services.experiment_create(workspace=workspace, name="exp", user=owner)
    return run_services.run_start_interactive(
        experiment=experiment, user=owner, display_name="first", tags={"lr": "0.1"}
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_it_has_no_serious_accessibility_problem(signed_in, server, run, scheme):
    page = signed_in
    page.emulate_media(color_scheme=scheme)
    problems = {}
    for path in ["/", "/w/lab/", f"/w/lab/experiments/{run.experiment_id}/",
                 f"/w/lab/runs/{run.pk}/", "/w/lab/submit/", "/w/lab/settings/",
                 "/w/lab/compute/", "/w/lab/environments/", "/tokens/"]:  # fmt: skip
        page.goto(f"{server}{path}")
        page.wait_for_load_state("networkidle")
        problems[path] = serious_problems(page)
    assert problems == {path: [] for path in problems}
    page.set_content('<html lang="en"><title>t</title><main><img src="x.png"></main></html>')
    assert any(p.startswith("image-alt") for p in serious_problems(page)), "axe did not run"


def test_it_works_the_run_page_and_runs_table_from_the_keyboard(signed_in, server, run):
    page = signed_in
    page.goto(f"{server}/w/lab/runs/{run.pk}/")
    page.focus("#tab-overview")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-metrics"
    assert page.is_visible("#panel-metrics") and page.is_hidden("#panel-overview")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "log-choice"
    page.goto(f"{server}/w/lab/experiments/{run.experiment_id}/")
    page.focus(f"tr[data-run='{run.pk}'] input[type=checkbox]")
    page.keyboard.press("Space")
    assert page.is_checked(f"tr[data-run='{run.pk}'] input[type=checkbox]")
    page.focus("#runs button[data-sort=name]")
    page.keyboard.press("Enter")
    assert page.get_attribute("#runs th:has(button[data-sort=name])", "aria-sort") == "ascending"
