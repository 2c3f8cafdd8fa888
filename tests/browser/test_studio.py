"""What a user sees in the studio, in a real browser, while real runs go on."""

import re
import time

import pytest
from playwright.sync_api import expect

from runs import store
from runs.models import Experiment, Run
from tests.processes import wait_until
from tests.runs.helpers import submit_script, wait_for_status
from workspaces import services

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TICKER = """
    import time
    from mlstudio.sdk import Run
    run = Run.get_context()
    for i in range({count}):
        print(f"line {{i}}", flush=True)
        run.log("loss", 1.0 / (i + 1))
        run.flush()
        time.sleep({pause})
"""


def test_it_signs_in_through_the_login_link(page, server, owner, workspace):
    page.goto(f"{server}/login/link/{services.login_link_create(user=owner)}/")
    page.wait_for_selector("text=alice")
    page.click("text=lab")
    # Retried until it holds: the title was once read mid-navigation (empty).
    expect(page).to_have_title(re.compile(r"^Workspace lab"))
    page.goto(f"{server}/login/link/{services.login_link_create(user=owner)}x/")
    assert "invalid, expired or already used" in page.content()


def test_it_streams_log_lines_and_grows_the_chart_while_the_run_goes_on(
    signed_in, server, owner, experiment, api_as
):
    page = signed_in
    run_id = submit_script(
        api_as(owner), experiment, {"train.py": TICKER.format(count=40, pause=0.25)}
    )
    page.goto(f"{server}/w/lab/runs/{run_id}/#outputs")
    page.wait_for_selector("#log:has-text('line 3')")
    assert Run.objects.get(pk=run_id).status == "Running"
    page.wait_for_selector("#log:has-text('line 8')")
    page.click("#tab-metrics")
    chart = page.wait_for_selector("[data-metric='loss'] .main-svg")
    assert chart
    points = "document.querySelector('[data-metric=loss]').data[0].x.length"
    first = page.evaluate(points)
    wait_until(lambda: page.evaluate(points) > first + 3, 20, "the chart to grow")
    page.wait_for_selector("#run-status:has-text('Completed')", timeout=60_000)
    assert page.locator("#cancel").is_hidden()


def test_it_archives_and_reactivates_an_experiment(signed_in, server, experiment):
    page = signed_in
    page.goto(f"{server}/w/lab/experiments/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"tr[data-id='{experiment.pk}'] button[data-action=archive]")
    page.wait_for_selector(f"tr[data-id='{experiment.pk}']", state="detached")
    assert Experiment.objects.get(pk=experiment.pk).is_archived
    page.goto(f"{server}/w/lab/experiments/?view=archived")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"tr[data-id='{experiment.pk}'] button[data-action=reactivate]")
    page.wait_for_selector(f"tr[data-id='{experiment.pk}']", state="detached")
    assert not Experiment.objects.get(pk=experiment.pk).is_archived


def test_it_compares_two_runs(signed_in, server, owner, experiment, api_as):
    page = signed_in
    client = api_as(owner)
    ids = [
        submit_script(client, experiment, {"train.py": TICKER.format(count=5, pause=0)})
        for _ in range(2)
    ]
    for run_id in ids:
        wait_for_status(run_id, "Completed")
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    for run_id in ids:
        page.check(f"tr[data-run='{run_id}'] input[type=checkbox]")
    page.select_option("#metric-column", "loss")
    page.click("#compare")
    page.wait_for_selector("#compare-charts [data-metric=loss] .main-svg")
    traces = page.evaluate(
        "document.querySelector('#compare-charts [data-metric=loss]').data.length"
    )
    assert traces == 2
    assert page.locator(f"tr[data-run='{ids[0]}'] [data-metric-cell]").inner_text() == "0.20000"


def test_it_submits_a_run_by_uploading_a_folder(signed_in, server, tmp_path):
    page = signed_in
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "train.py").write_text("import sys\nprint('uploaded and running', sys.argv[1:])\n")
    (folder / "helper.py").write_text("X = 1\n")
    (folder / "data" / "huge.bin").write_bytes(b"\0" * 1000)
    (folder / ".amlignore").write_text("data/\n")
    page.goto(f"{server}/w/lab/submit/")
    page.fill("#experiment", "from-browser")
    page.set_input_files("#folder", str(folder))
    page.wait_for_selector("#folder-summary:has-text('3 files')")
    assert "left out by .amlignore" in page.inner_text("#folder-summary")
    page.fill("#arguments", "--name 'two words")
    page.click("#submit-button")
    page.wait_for_selector("#submit-error:has-text('unbalanced')")
    page.fill("#arguments", "--name 'two words' --lr 0.1")
    page.select_option("#script", "")
    page.click("#submit-button")
    page.wait_for_selector("#submit-error:has-text('Choose the script')")
    page.select_option("#script", "train.py")
    page.select_option("#environment", "MLStudio-Minimal:1")
    page.fill("#display-name", "from the browser")
    page.fill("#description", "a first try")
    page.fill("#timeout", "2")
    page.select_option("#timeout-unit", "hours")
    page.click("#submit-button")
    page.wait_for_url("**/runs/**")
    page.wait_for_selector("#log:has-text('uploaded and running')", timeout=60_000)
    assert "['--name', 'two words', '--lr', '0.1']" in page.inner_text("#log")
    run = Run.objects.get()
    assert run.definition["environment"]["name"] == "MLStudio-Minimal"
    assert run.definition["max_run_duration_seconds"] == 7200
    assert (run.display_name, run.description) == ("from the browser", "a first try")
    assert sorted(e["path"] for e in run.snapshot.manifest) == [
        ".amlignore",
        "helper.py",
        "train.py",
    ]


def test_it_says_a_folder_is_too_large_before_sending(signed_in, server, tmp_path):
    page = signed_in
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(2001):  # one over the default limit of 2,000 files
        (folder / f"f{i:04d}.py").write_text("x" * (i % 7))
    page.goto(f"{server}/w/lab/submit/")
    page.set_input_files("#folder", str(folder))
    page.wait_for_selector("#folder-error:has-text('too large to submit')")
    assert "2001 files" in page.inner_text("#folder-error")
    assert ".amlignore" in page.inner_text("#folder-error")
    folder = page.locator("#drop").bounding_box()
    error = page.locator("#folder-error").bounding_box()
    assert 0 <= error["y"] - (folder["y"] + folder["height"]) < 40, "not next to the picker"
    assert not Run.objects.exists()


CHATTY = """
    import sys, time
    for i in range(3000):  # more than the viewer's first read: it starts inside a line
        print(f"line {i:04d} " + "x" * 90)
    sys.stdout.flush()
    for i in range(3000, 3300):
        print(f"line {i:04d} " + "x" * 90, flush=True)
        time.sleep(0.02)
"""


def test_it_shows_every_log_line_once_and_in_order(signed_in, server, owner, experiment, api_as):
    page = signed_in
    run_id = submit_script(api_as(owner), experiment, {"train.py": CHATTY})
    wait_until(lambda: store.log_files(run_id).get(store.USER_LOG, 0) > 300_000, 60, "output")

    def slow_tail(route):
        time.sleep(1.5)  # live lines arrive over the websocket while the tail is on its way
        route.continue_()

    page.route("**/logs/user_logs/**", slow_tail)
    page.goto(f"{server}/w/lab/runs/{run_id}/#outputs")
    page.wait_for_selector("#log:has-text('line 3299')", timeout=60_000)
    page.unroute("**/logs/user_logs/**")
    page.evaluate("document.getElementById('log').scrollTop = 0")  # loads what came before
    page.wait_for_function("document.getElementById('log').textContent.startsWith('line 0000')")
    shown = page.evaluate("document.getElementById('log').textContent").splitlines()
    assert shown == [f"line {i:04d} " + "x" * 90 for i in range(3300)]


def test_it_says_which_http_status_refused_a_submission(signed_in, server, tmp_path):
    page = signed_in
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text("print('through at last')\n")
    page.goto(f"{server}/w/lab/submit/")
    page.fill("#experiment", "behind-a-proxy")
    page.set_input_files("#folder", str(folder))
    page.wait_for_selector("#folder-summary:has-text('1 file,')")

    def proxy_says(status: int, title: str):
        body = f"<html><head><title>{status} {title}</title></head><body>nginx</body></html>"
        return lambda route: route.fulfill(status=status, content_type="text/html", body=body)

    page.route("**/blob-batches", proxy_says(502, "Bad Gateway"))
    page.click("#submit-button")
    page.wait_for_selector("#submit-error:has-text('HTTP 502')")
    assert page.inner_text("#folder-summary") == "Nothing was submitted."
    page.unroute("**/blob-batches")
    page.route("**/snapshots/negotiate", proxy_says(413, "Request Entity Too Large"))
    page.click("#submit-button")
    page.wait_for_selector("#submit-error:has-text('HTTP 413')")
    assert "client_max_body_size" in page.inner_text("#submit-error")
    page.unroute("**/snapshots/negotiate")
    page.click("#submit-button")
    page.wait_for_selector("#log:has-text('through at last')", timeout=60_000)


WRITES_TENSORBOARD = """
    import os, time
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    writer = EventFileWriter("logs")
    for step in range(20):
        value = summary_pb2.Summary.Value(tag="tb_loss", simple_value=1.0 / (step + 1))
        writer.add_event(event_pb2.Event(summary=summary_pb2.Summary(value=[value]), step=step))
    writer.close()
"""


def test_it_opens_tensorboard_for_the_selected_runs(signed_in, server, owner, experiment, api_as):
    from runs import tensorboards

    page = signed_in
    client = api_as(owner)
    ids = [submit_script(client, experiment, {"train.py": WRITES_TENSORBOARD}) for _ in range(2)]
    for run_id in ids:
        wait_for_status(run_id, "Completed")
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    for run_id in ids:
        page.check(f"tr[data-run='{run_id}'] input[type=checkbox]")
    try:
        with page.expect_popup() as opened:
            page.click("#tensorboard")
        board = opened.value
        board.wait_for_load_state()
        assert "/w/lab/tensorboard/" in board.url
        # TensorBoard's own page lists both runs and charts the imported tag.
        for run_id in ids:
            board.get_by_text(run_id).first.wait_for(timeout=60_000)
        board.get_by_text("tb_loss").first.wait_for(timeout=60_000)
        board.close()
    finally:
        for running in tensorboards.tensorboards_running():
            tensorboards._kill(running)
