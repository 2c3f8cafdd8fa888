"""In the experiment's runs table, a sweep's children sit under it: a toggle on the sweep's
row shows and hides them, indented, with their status and primary metric, as Azure ML studio
shows child runs. Real Chromium against a real server."""

from pathlib import Path

import pytest
from django.test import Client

from runs import services as run_services
from tests.sweeps.helpers import finished_sweep

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.slow
@pytest.mark.browser
def test_children_open_and_close_under_their_sweep(signed_in, server, owner, workspace):
    experiment = run_services.experiment_create(workspace=workspace, name="nest", user=owner)
    sweep = finished_sweep(experiment, owner, trials=6)
    page = signed_in
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    rows = page.locator("#runs tbody tr")
    page.wait_for_selector(f"#runs tr[data-run='{sweep.run_id}']")
    assert rows.count() == 1  # only the sweep: its children are not top-level runs
    toggle = page.locator(f"#runs tr[data-run='{sweep.run_id}'] button[data-expand]")
    assert toggle.inner_text() == "▸ 6"
    assert toggle.get_attribute("aria-expanded") == "false"

    toggle.click()
    page.wait_for_selector("#runs tr.child-run")
    page.select_option("#metric-column", "acc")  # the children's metrics join the choice
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.inner_text("#runs-shown") == "Showing 1 of 1 runs."
    ids = [rows.nth(i).get_attribute("data-run") for i in range(rows.count())]
    assert ids == [sweep.run_id] + [f"{sweep.run_id}_{n}" for n in range(1, 7)]
    child = page.locator(f"#runs tr[data-run='{sweep.run_id}_3']")
    cells = child.locator("td")
    assert cells.nth(2).locator("a").inner_text() == f"{sweep.run_id}_3"  # beside its ✎
    assert cells.nth(3).inner_text() == "Completed"
    acc = sweep.run.children.get(pk=f"{sweep.run_id}_3").metrics.get(name="acc")
    assert float(cells.nth(9).inner_text()) == pytest.approx(acc.last_value, rel=1e-4)
    indent = child.evaluate("r => getComputedStyle(r.cells[2]).paddingLeft")
    top = page.locator(f"#runs tr[data-run='{sweep.run_id}'] td").nth(2)
    assert float(indent[:-2]) > float(top.evaluate("c => getComputedStyle(c).paddingLeft")[:-2])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "runs_table_children.png"), full_page=True)

    toggle.click()
    page.wait_for_function("!document.querySelector('#runs tr.child-run')")
    assert rows.count() == 1 and toggle.inner_text() == "▸ 6"


@pytest.mark.django_db
def test_the_children_list_is_for_members_only(owner, workspace, django_user_model):
    experiment = run_services.experiment_create(workspace=workspace, name="nest", user=owner)
    sweep = finished_sweep(experiment, owner, trials=3)
    url = f"/w/lab/runs/{sweep.run_id}/children-table/"
    member = Client()
    member.force_login(owner)
    data = member.get(url).json()
    assert [r["id"] for r in data["runs"]] == [f"{sweep.run_id}_{n}" for n in (1, 2, 3)]
    assert set(data["metrics"][f"{sweep.run_id}_1"]) == {"acc"}
    stranger = Client()
    stranger.force_login(django_user_model.objects.create_user("stranger"))
    assert stranger.get(url).status_code == 404
    assert Client().get(url).status_code in (302, 401, 403)  # not signed in: never the data
