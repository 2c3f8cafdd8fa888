"""The submit page from the keyboard alone, as someone who never touches the mouse uses it:
every field in order, the folder chosen through the file chooser, tags, and an archived
experiment's name, which goes to a new active experiment as v1 does."""

import pytest

from runs import services as run_services
from runs.models import Experiment, Run

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SHOTS = "/tmp/dailyui_shots"
FIELDS = ["folder", "script", "arguments", "target", "environment", "display-name",
          "description", "timeout", "timeout-unit", "tags", "submit-button"]  # fmt: skip


def focused(page) -> str:
    return page.evaluate("document.activeElement.id")


def test_it_submits_from_the_keyboard_to_an_archived_name_as_a_new_experiment(
    signed_in, server, owner, workspace, tmp_path
):
    old = run_services.experiment_create(workspace=workspace, name="exp", user=owner)
    run_services.experiment_archive(experiment=old)
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text("import sys\nprint('from the keyboard', sys.argv[1:])\n")
    page = signed_in
    # Playwright turns on its file-chooser interception without waiting for it: a listener
    # set before the page opens is surely in place when the key is pressed.
    page.on("filechooser", lambda chooser: chooser.set_files(str(folder)))
    page.goto(f"{server}/w/lab/submit/")
    page.focus("#experiment")
    page.keyboard.type("exp")
    order = []
    for _ in FIELDS:
        page.keyboard.press("Tab")
        order.append(focused(page))
    assert order == FIELDS, "Tab does not walk the form in its order"

    page.focus("#folder")
    page.keyboard.press("Space")  # opens the file chooser
    page.wait_for_selector("#folder-summary:text-is('1 file, 52 B')")
    page.keyboard.press("Tab")
    assert focused(page) == "script" and page.input_value("#script") == "train.py"
    page.keyboard.press("Tab")
    page.keyboard.type("--lr 0.1")
    for _ in range(3):  # target, environment: their defaults
        page.keyboard.press("Tab")
    page.keyboard.type("keyboard only")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    page.keyboard.press("Home")  # minutes
    page.keyboard.press("Tab")
    page.keyboard.type("team=vision")
    page.keyboard.press("Enter")
    page.keyboard.type("phase=explore")
    page.screenshot(path=f"{SHOTS}/submit-keyboard.png", full_page=True)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    page.wait_for_url("**/runs/**")
    page.wait_for_selector("#log:has-text('from the keyboard')", timeout=60_000)
    assert "['--lr', '0.1']" in page.inner_text("#log")
    run = Run.objects.get()
    assert run.experiment_id != old.pk and not run.experiment.is_archived
    assert run.experiment.name == "exp" and Experiment.objects.get(pk=old.pk).is_archived
    assert run.definition["max_run_duration_seconds"] == 120
    assert run.display_name == "keyboard only"
    page.click("#tab-overview")
    assert page.inner_text("#ov-tags") == "Tag team\tvision\nTag phase\texplore"
    page.screenshot(path=f"{SHOTS}/submit-keyboard-run.png", full_page=True)
