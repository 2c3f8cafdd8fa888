"""Deleting an archived experiment in the browser: the name must be typed to confirm."""

import pytest
from playwright.sync_api import expect

from runs import services
from runs.models import Experiment

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DIALOG = "#delete-experiment"
CONFIRM = f"{DIALOG} button[data-confirm]"


@pytest.fixture
def archived(owner, workspace):
    experiment = services.experiment_create(workspace=workspace, name="old", user=owner)
    return services.experiment_archive(experiment=experiment)


def test_it_deletes_from_the_experiment_page_once_the_name_is_typed(signed_in, server, archived):
    page = signed_in
    page.goto(f"{server}/w/lab/experiments/{archived.pk}/")
    page.click("#delete-experiment-button")
    expect(page.locator(DIALOG)).to_be_visible()
    expect(page.locator(DIALOG)).to_contain_text("Type old to confirm")
    expect(page.locator(CONFIRM)).to_be_disabled()
    page.fill("#delete-experiment-confirm", "ol")
    page.press("#delete-experiment-confirm", "Enter")
    expect(page.locator(CONFIRM)).to_be_disabled()
    page.fill("#delete-experiment-confirm", "old")
    expect(page.locator(CONFIRM)).to_be_enabled()
    page.click(CONFIRM)
    page.wait_for_url(f"{server}/w/lab/experiments/?view=archived")
    expect(page.locator("#experiments")).to_contain_text("No experiments here.")
    assert not Experiment.objects.filter(pk=archived.pk).exists()


def test_it_offers_delete_after_archiving_and_backs_out_on_cancel(
    signed_in, server, owner, workspace
):
    active = services.experiment_create(workspace=workspace, name="exp", user=owner)
    page = signed_in
    page.goto(f"{server}/w/lab/experiments/?view=all")
    row = page.locator(f"tr[data-id='{active.pk}']")
    expect(row.locator("button[data-action=delete]")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-action=archive]").click()
    row.locator("button[data-action=delete]").click()
    page.fill("#delete-experiment-confirm", "exp")
    page.click(f"{DIALOG} button[data-cancel]")
    expect(page.locator(DIALOG)).to_be_hidden()
    assert Experiment.objects.filter(pk=active.pk).exists()

    row.locator("button[data-action=delete]").click()
    expect(page.locator("#delete-experiment-confirm")).to_have_value("")
    page.fill("#delete-experiment-confirm", "exp")
    page.click(CONFIRM)
    expect(row).to_have_count(0)
    assert not Experiment.objects.filter(pk=active.pk).exists()


def test_it_shows_why_a_delete_was_refused(signed_in, server, owner, workspace):
    experiment = services.experiment_create(workspace=workspace, name="old", user=owner)
    run = services.run_start_interactive(experiment=experiment, user=owner)
    archived = services.experiment_archive(experiment=experiment)
    page = signed_in
    page.goto(f"{server}/w/lab/experiments/?view=archived")
    page.click(f"tr[data-id='{archived.pk}'] button[data-action=delete]")
    page.fill("#delete-experiment-confirm", "old")
    page.click(CONFIRM)
    expect(page.locator(f"{DIALOG} [data-error]")).to_contain_text(
        f"{run.pk} (Running). Cancel them first"
    )
    assert Experiment.objects.filter(pk=archived.pk).exists()
