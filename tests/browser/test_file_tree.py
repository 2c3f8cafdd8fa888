"""The Outputs + logs tab shows a run's files as a tree of folders, usable from the keyboard."""

from pathlib import Path

import pytest

from tests.runs.helpers import submit_script, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WRITES_FILES = """
    import os, time
    os.makedirs("outputs/a/b", exist_ok=True)
    with open("outputs/a/b/c.txt", "w") as deep:
        deep.write("deep inside\\n")
    os.makedirs("logs", exist_ok=True)
    with open("logs/x.txt", "w") as log:
        log.write("a log of its own\\n")
    print("files written", flush=True)
    time.sleep({pause})
"""


def folder(page, path: str):
    return page.locator(f"#files details[data-folder='{path}']")


def summary(page, path: str):
    return folder(page, path).locator(":scope > summary")


@pytest.fixture
def outputs_tab(signed_in, server, owner, experiment, api_as):
    """The Outputs + logs tab of a completed run that wrote nested folders and a log."""
    page = signed_in
    run_id = submit_script(api_as(owner), experiment, {"train.py": WRITES_FILES.format(pause=0)})
    assert wait_for_status(run_id, "Completed", "Failed").status == "Completed"
    page.goto(f"{server}/w/lab/runs/{run_id}/#outputs")
    return page


def test_it_shows_nested_folders_and_downloads_a_file_from_the_keyboard(outputs_tab):
    page = outputs_tab
    outputs, deeper = folder(page, "outputs"), folder(page, "outputs/a")
    assert outputs.get_attribute("open") is not None  # top-level folders start open
    assert deeper.get_attribute("open") is None
    assert summary(page, "outputs").inner_text() == "outputs"
    assert folder(page, "logs").locator("a").inner_text() == "x.txt"
    summary(page, "outputs/a").focus()
    page.keyboard.press("Enter")
    summary(page, "outputs/a/b").focus()
    page.keyboard.press("ArrowRight")
    link = folder(page, "outputs/a/b").locator("a", has_text="c.txt")
    assert link.is_visible()
    link.focus()
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == "c.txt"
    assert Path(download.value.path()).read_text() == "deep inside\n"
    summary(page, "outputs/a").focus()
    page.keyboard.press("ArrowLeft")
    assert link.is_hidden()


def test_it_opens_a_log_from_the_tree_in_the_log_viewer(outputs_tab):
    page = outputs_tab
    page.wait_for_selector("#log:has-text('files written')")
    folder(page, "system_logs").locator("a", has_text="executor.txt").click()
    page.wait_for_selector("#log:has-text('Collected ./outputs')")
    assert page.locator("#log-choice").input_value() == "system_logs/executor.txt"
    assert "files written" not in page.inner_text("#log")


def test_it_adds_files_to_the_tree_as_the_run_writes_them(
    signed_in, server, owner, experiment, api_as
):
    page = signed_in
    run_id = submit_script(api_as(owner), experiment, {"train.py": WRITES_FILES.format(pause=8)})
    wait_for_status(run_id, "Running")
    page.goto(f"{server}/w/lab/runs/{run_id}/#outputs")
    page.wait_for_selector("#log:has-text('files written')")
    # ./logs is synced while the run goes on; ./outputs is collected when it ends.
    folder(page, "logs").locator("a", has_text="x.txt").wait_for(timeout=30_000)
    folder(page, "outputs").wait_for(state="attached", timeout=60_000)
    page.wait_for_selector("#run-status:has-text('Completed')", timeout=60_000)
    summary(page, "outputs/a").click()
    summary(page, "outputs/a/b").click()
    assert folder(page, "outputs/a/b").locator("a").inner_text() == "c.txt"
    assert page.locator("#files a", has_text="c.txt").count() == 1
