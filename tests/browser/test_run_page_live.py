"""The run page as a user keeps it open while the run goes on: every tab stays live."""

import pytest

from runs import services as run_services
from tests.processes import wait_until
from tests.runs.helpers import submit_script, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SHOTS = "/tmp/dailyui_shots"

GROWING = """
    import time
    from mlstudio.sdk import Run
    run = Run.get_context()
    time.sleep(2)  # time for the page to open before it starts
    for i in range(120):
        print(f"line {i:03d} " + "x" * 60, flush=True)
        if i == 60:
            run.tag("phase", "second half")
        time.sleep(0.05)
"""

LONG = """
    import time
    print("started", flush=True)
    time.sleep(120)
"""

AT_BOTTOM = """(() => {
  const log = document.getElementById('log');
  return log.scrollHeight - log.scrollTop - log.clientHeight < 30;
})()"""
BUILD_LOG = "system_logs/environment_build_log.txt"
NONE = "\N{EN DASH}"  # what the overview shows for what has not happened yet


def test_it_follows_the_log_after_tab_switches_and_fills_the_overview_live(
    signed_in, server, owner, experiment, api_as
):
    page = signed_in
    run_id = submit_script(api_as(owner), experiment, {"train.py": GROWING})
    page.goto(f"{server}/w/lab/runs/{run_id}/")
    assert page.inner_text("#overview tr:has-text('Script') td") == "train.py"
    assert page.inner_text("#ov-started") == NONE
    # The datasets come in the page: shown once it has loaded, with no request after it.
    assert page.inner_text("#run-datasets") == "This run used no registered dataset."
    page.click("#tab-outputs")
    page.wait_for_selector("#log:has-text('line 010')")
    page.click("#tab-metrics")
    page.click("#tab-outputs")
    page.wait_for_selector("#log:has-text('line 080')")
    assert page.evaluate(AT_BOTTOM), "the log stopped following after a tab switch"
    page.screenshot(path=f"{SHOTS}/run-outputs.png")

    page.click("#tab-overview")
    page.wait_for_selector("#run-status:has-text('Completed')", timeout=60_000)
    page.wait_for_selector("#ov-exit:text-is('0')")
    assert page.inner_text("#ov-started") != NONE and page.inner_text("#ended") != NONE
    assert page.inner_text("#ov-tags") == "Tag phase\tsecond half"
    assert page.inner_text("#ov-node") != NONE
    page.click("#tab-outputs")
    size = page.get_attribute("#files a[data-file='user_logs/std_log.txt']", "data-size")
    wait_until(
        lambda: (
            int(page.get_attribute("#files a[data-file='user_logs/std_log.txt']", "data-size"))
            >= 120 * 70
        ),
        10,
        f"the log's size in the file list to grow past {size}",
    )
    options = page.eval_on_selector_all("#log-choice option", "os => os.map(o => o.value)")
    assert {"user_logs/std_log.txt", "system_logs/executor.txt"} <= set(options)
    page.click("#tab-snapshot")
    assert page.is_hidden("#snapshot-view") and page.is_visible("#snapshot-empty")
    page.screenshot(path=f"{SHOTS}/run-snapshot-empty.png")
    page.click("#snapshot-files a[data-view-file]")
    page.wait_for_selector("#snapshot-view:has-text('Run.get_context')")
    page.click("#tab-overview")
    page.screenshot(path=f"{SHOTS}/run-overview.png", full_page=True)


def test_it_shows_a_cancel_as_canceled_by_whom_and_when(
    signed_in, server, owner, experiment, api_as
):
    from runs.models import Run

    page = signed_in
    run_id = submit_script(api_as(owner), experiment, {"train.py": LONG})
    wait_for_status(run_id, "Running")
    page.goto(f"{server}/w/lab/runs/{run_id}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel")
    page.wait_for_selector("#run-status:has-text('Canceled')", timeout=60_000)
    page.wait_for_selector("#error-heading:text-is('Canceled')")
    assert page.inner_text("#error-message") == "Canceled by the user alice."
    assert Run.objects.get(pk=run_id).status == "Canceled"
    assert page.inner_text("#error-when").startswith("Canceled at ")
    assert "canceled-box" in page.get_attribute("#error-box", "class")
    page.screenshot(path=f"{SHOTS}/run-canceled.png")
    page.reload()
    assert page.inner_text("#error-heading") == "Canceled"
    # not in the error's red, whether the page or the live script drew it
    assert "error" not in (page.get_attribute("#error-message", "class") or "")


def test_it_edits_the_name_and_description_in_place(signed_in, server, owner, experiment):
    from runs.models import Run

    page = signed_in
    run = run_services.run_start_interactive(experiment=experiment, user=owner)
    page.goto(f"{server}/w/lab/runs/{run.pk}/")
    page.fill("#display-name", "baseline")
    page.fill("#description", "lr 0.1, no warm-up")
    page.click("#describe button")
    page.wait_for_selector("#describe-note:text-is('Saved.')")
    run = Run.objects.get(pk=run.pk)
    assert (run.display_name, run.description) == ("baseline", "lr 0.1, no warm-up")
    page.fill("#display-name", "x" * 256)
    page.eval_on_selector("#display-name", "input => input.removeAttribute('maxlength')")
    page.fill("#display-name", "x" * 256)
    page.click("#describe button")
    page.wait_for_selector("#describe-note:has-text('at most 255 characters')")
    page.reload()
    assert page.input_value("#display-name") == "baseline"


def test_it_offers_the_environment_build_log_as_it_starts_and_shows_it(
    signed_in, server, owner, experiment, api_as, tmp_path
):
    from tests.browser.test_environments_compute import GatedWheels

    wheels = GatedWheels(tmp_path / "wheels")
    try:
        pip = ["--no-index", f"--find-links {wheels.url}", "tinypkg"]
        spec = {"name": "tiny", "python": {"conda_dependencies": {"pip_packages": pip}}}
        script = "import tinypkg\nprint(tinypkg.GREETING, flush=True)\n"
        client = api_as(owner)
        # The local node has one slot: the run waits behind this one, with no build log yet.
        submit_script(client, experiment, {"train.py": "import time\ntime.sleep(5)\n"})
        run_id = submit_script(client, experiment, {"train.py": script}, environment=spec)
        page = signed_in
        page.goto(f"{server}/w/lab/runs/{run_id}/#outputs")
        build_log = f"#log-choice option[value='{BUILD_LOG}']"
        assert page.inner_text("#run-status") == "Queued" and not page.query_selector(build_log)
        page.wait_for_selector(build_log, state="attached", timeout=60_000)
        page.select_option("#log-choice", BUILD_LOG)
        page.wait_for_selector(f"#log:has-text('{wheels.url}')")  # the build, under way
        page.screenshot(path=f"{SHOTS}/run-build-log.png")
        wheels.gate.set()
        page.wait_for_selector("#log:has-text('tinypkg==1.0')", timeout=60_000)
        page.wait_for_selector("#run-status:text-is('Completed')", timeout=60_000)
        page.select_option("#log-choice", "user_logs/std_log.txt")
        page.wait_for_selector("#log:has-text('hello from tinypkg')")
    finally:
        wheels.close()
