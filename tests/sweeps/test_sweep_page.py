"""The sweep's run page in a real Chromium: trials table (sortable, best marked), the
best-so-far chart, overlaid curves and parallel coordinates; and live updates."""

from pathlib import Path

import pytest

from runs import services as run_services
from tests.sweeps.helpers import finished_sweep

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_it_shows_the_trials_charts_and_the_best_trial(signed_in, server, owner, workspace):
    experiment = run_services.experiment_create(workspace=workspace, name="tune", user=owner)
    sweep = finished_sweep(experiment, owner, trials=40)
    page = signed_in
    page.goto(f"{server}/w/lab/runs/{sweep.run_id}/")
    page.wait_for_selector("#sweep[data-loaded='40']")
    assert page.locator("#sweep-trials tbody tr").count() == 40
    best = page.locator("#sweep-trials tr.best")
    assert best.get_attribute("data-run") == sweep.best_run_id
    assert "★" in best.inner_text()
    assert "Completed · 40 of 40 trials" in page.inner_text("#sweep-summary")
    assert page.locator("#sweep-parcoords .parcoords").count() == 1
    assert page.locator("#sweep-curves .scatterlayer .trace").count() == 2  # all + best
    assert page.locator("#sweep-progress .scatterlayer .trace").count() == 2  # trials + best so far

    page.click("#sweep-trials button[data-sort=metric]")  # best first when maximizing
    first = page.locator("#sweep-trials tbody tr").first
    assert first.get_attribute("data-run") == sweep.best_run_id
    page.click("#sweep-trials button[data-sort=metric]")
    assert (
        page.locator("#sweep-trials tbody tr").first.get_attribute("data-run") != sweep.best_run_id
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sweep_page.png"), full_page=True)
