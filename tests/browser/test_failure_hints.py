"""In a real browser: a failed run's hint links to the line that raised, and a Preparing run
counts up how long it has been preparing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runs.models import Run
from tests.runs.helpers import submit_script, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_the_hint_of_a_name_error_opens_the_line_in_the_snapshot(
    signed_in, server, owner, experiment, api_as
):
    page = signed_in
    files = {"train.py": "import os\n\nprint(learning_rate)\nprint('never')\n"}
    run_id = submit_script(api_as(owner), experiment, files)
    wait_for_status(run_id, "Failed")
    page.goto(f"{server}/w/lab/runs/{run_id}/")
    assert "NameError in train.py, line 3" in page.inner_text("#error-hint")
    page.click("#error-hint-link")
    page.wait_for_selector("#snapshot-line")
    assert page.inner_text("#snapshot-line") == "print(learning_rate)"
    assert page.is_visible("#panel-snapshot")
    assert page.evaluate("location.hash") == "#snapshot:train.py:3"


def test_a_preparing_run_shows_how_long_it_has_been_preparing(signed_in, server, experiment):
    since = (timezone.now() - timedelta(seconds=65)).isoformat()
    run = Run.objects.create(
        id="exp_1_preparing",
        experiment=experiment,
        number=1,
        status="Preparing",
        status_detail="building environment (first use of this spec, cached afterwards)",
        status_history=[{"status": "Queued", "at": since}, {"status": "Preparing", "at": since}],
    )
    page = signed_in
    page.goto(f"{server}/w/lab/runs/{run.pk}/")
    assert page.inner_text("#run-detail").startswith("building environment (first use")
    page.wait_for_selector("#run-elapsed:has-text('1 min 0')")
    first = page.inner_text("#run-elapsed")
    page.wait_for_function(
        f"document.getElementById('run-elapsed').textContent !== {first!r}", timeout=5000
    )
    assert page.inner_text("#run-elapsed").endswith("so far)")
