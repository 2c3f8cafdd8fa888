"""Pages that load fast, as Chromium gets them from a studio whose static files were collected
the way `manage.py studio` does at start: hashed names that the browser caches for a year,
compressed copies (gzip and brotli) from whitenoise, gzipped HTML, and plotly.js fetched only
by the tab that draws a chart."""

import shutil

import pytest
from django.conf import settings

from mlstudio.staticfiles import static_collect
from runs import services as run_services
from tests.browser.conftest import serving
from tests.runs.helpers import submit_script, wait_for_status
from workspaces import services

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SHOTS = "/tmp/dailyui_shots"
YEAR = 365 * 24 * 3600

LOGS_LOSS = """
    from mlstudio.sdk import Run
    run = Run.get_context()
    for i in range(50):
        run.log("loss", 1.0 / (i + 1))
    print("the end")
"""


@pytest.fixture
def collected(local_worker, tmp_path):
    """A studio serving collected static files, as `manage.py studio` starts its web server."""
    static_collect()
    try:
        with serving(tmp_path, MLSTUDIO_STATIC_COLLECTED="1") as url:
            yield url
    finally:  # the other browser tests' servers read the source folders
        shutil.rmtree(settings.STATIC_ROOT)
        settings.STATIC_ROOT.mkdir()


def max_age(response) -> int:
    parts = dict(
        p.strip().partition("=")[::2] for p in response.headers.get("cache-control", "").split(",")
    )
    return int(parts.get("max-age") or 0)


def test_it_caches_compressed_static_files_and_loads_plotly_only_to_draw(
    page, collected, owner, workspace, api_as, tmp_path
):
    experiment = run_services.experiment_create(workspace=workspace, name="exp", user=owner)
    run_id = submit_script(api_as(owner), experiment, {"train.py": LOGS_LOSS})
    wait_for_status(run_id, "Completed")
    page.goto(f"{collected}/login/link/{services.login_link_create(user=owner)}/")
    responses = []
    page.on("response", lambda response: responses.append(response))
    run_page = f"{collected}/w/lab/runs/{run_id}/"

    html = page.goto(run_page)
    page.wait_for_selector("#run-status:text-is('Completed')")
    assert html.headers.get("content-encoding") == "gzip"
    static = [r for r in responses if "/static/" in r.url]
    charting = [r.url for r in static if "plotly" in r.url or "chart_theme" in r.url]
    assert static and not charting, "the charts' code on Overview"
    for response in static:
        assert max_age(response) >= YEAR and "immutable" in response.headers["cache-control"]
        if response.url.endswith((".js", ".css")):
            assert response.headers.get("content-encoding") in {"gzip", "br"}, response.url

    page.click("#tab-metrics")
    page.wait_for_selector("[data-metric='loss'] .main-svg")
    plotly = next(r for r in responses if "/vendor/plotly/plotly.min." in r.url)
    assert max_age(plotly) >= YEAR
    theme = next(r for r in responses if "/static/js/chart_theme." in r.url)  # with plotly.js
    assert max_age(theme) >= YEAR
    brotli = page.request.get(plotly.url, headers={"accept-encoding": "br"})
    assert brotli.headers["content-encoding"] == "br"
    assert int(brotli.headers["content-length"]) < 1_500_000  # of 4.8 MB
    page.screenshot(path=f"{SHOTS}/fast-metrics.png")

    # A repeat visit takes every static file from the browser's cache: none is asked again.
    log_file = tmp_path / "web.log"
    before = static_gets(log_file)
    page.goto("about:blank")
    page.goto(run_page)
    page.click("#tab-metrics")
    page.wait_for_selector("[data-metric='loss'] .main-svg")
    asked = static_gets(log_file)[len(before) :]
    assert asked == [], "asked again"


def static_gets(log_file) -> list[str]:
    return [line.split('"GET ')[1].split()[0] for line in log_file.read_text().splitlines()
            if '"GET /static/' in line]  # fmt: skip
