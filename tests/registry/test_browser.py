"""The Models page and the Register model button of a run's Outputs tab, in Chromium."""

from __future__ import annotations

import pytest

from runs import services as run_services
from tests.browser.conftest import ARTIFACTS
from tests.runs.helpers import submit_script, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TRAIN = """
    import os
    from mlstudio.sdk import Run
    Run.get_context().log("accuracy", 0.97)
    os.makedirs("outputs/net", exist_ok=True)
    open("outputs/model.pkl", "wb").write(b"weights")
    open("outputs/net/w.bin", "wb").write(b"w" * 10)
"""


def test_it_registers_a_run_output_from_its_button_and_lists_it(
    signed_in, server, owner, workspace, api_as
):
    page = signed_in
    experiment = run_services.experiment_create(workspace=workspace, name="mnist", user=owner)
    run_id = submit_script(api_as(owner), experiment, {"train.py": TRAIN})
    assert wait_for_status(run_id, "Completed", "Failed").status == "Completed"
    page.goto(f"{server}/w/lab/runs/{run_id}/#outputs")
    page.wait_for_selector("#run-models p", state="attached")  # on the Overview tab, hidden
    assert (
        page.locator("#run-models").text_content().strip() == "No models registered from this run."
    )
    page.wait_for_selector("button[data-register-path='outputs/net/']")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "registry-outputs-tab.png"))
    page.click("button[data-register-path='outputs/model.pkl']")
    assert page.input_value("#register-model-name") == "model"
    assert page.input_value("#register-model-path") == "outputs/model.pkl"
    page.fill("#register-model-name", "mnist-clf")
    page.click("#register-model button[type=submit]")
    page.wait_for_url(f"{server}/w/lab/models/mnist-clf/1/")
    lineage = page.locator("#lineage").inner_text()
    assert run_id in lineage and "mnist" in lineage and "Metric accuracy\t0.97" in lineage
    assert "Registered model mnist-clf version 1." in page.locator(".messages").inner_text()
    page.screenshot(path=str(ARTIFACTS / "registry-model-page.png"), full_page=True)

    page.goto(f"{server}/w/lab/runs/{run_id}/#outputs")
    page.click("button[data-register-path='outputs/net/']")
    page.click("#register-model button[type=submit]")  # the suggested name: net
    page.wait_for_url(f"{server}/w/lab/models/net/1/")
    page.goto(f"{server}/w/lab/runs/{run_id}/")
    page.wait_for_selector("#run-models a")
    assert page.locator("#run-models a").all_inner_texts() == [
        "mnist-clf version 1",
        "net version 1",
    ]

    page.click("nav >> text=Models")
    page.wait_for_url(f"{server}/w/lab/models/")
    assert page.locator("#models tbody tr").count() == 2
    page.fill("#q", "mni")
    page.click("form[role=search] button")
    rows = page.locator("#models tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-name") == "mnist-clf"
    page.screenshot(path=str(ARTIFACTS / "registry-models-page.png"), full_page=True)

    page.goto(f"{server}/w/lab/models/net/1/")
    page.click("#delete-version summary")
    page.fill("#delete-confirm", "net:1")
    page.screenshot(path=str(ARTIFACTS / "registry-delete.png"), full_page=True)
    page.click("#delete-version button[type=submit]")
    page.wait_for_url(f"{server}/w/lab/models/")
    assert "Deleted model net:1" in page.locator(".messages").inner_text()
    assert page.locator("#models tbody tr").count() == 1
