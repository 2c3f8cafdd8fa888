"""The experiment page's runs table with more runs than it shows at once."""

import pytest

from runs import services as run_services
from tests.runs.test_runs_table import add_runs

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def shown(page) -> list[str]:
    return page.eval_on_selector_all(
        "#runs tbody tr[data-run]", "rows => rows.map(r => r.dataset.run)"
    )


def test_it_pages_sorts_and_filters_every_run_keeping_the_selection(
    signed_in, server, owner, experiment
):
    page = signed_in
    add_runs(experiment, owner, range(1, 251))
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    page.wait_for_selector("#runs-shown:has-text('Showing 100 of 250 runs.')")
    assert shown(page)[:2] == ["exp_250", "exp_249"] and len(shown(page)) == 100
    page.check("tr[data-run='exp_250'] input[type=checkbox]")

    page.click("#runs button[data-sort=number]")
    assert shown(page)[:2] == ["exp_1", "exp_2"]
    assert page.get_attribute("#runs th:has(button[data-sort=number])", "aria-sort") == "ascending"
    page.click("#show-more")
    assert len(shown(page)) == 200
    page.click("#show-all:has-text('Show all 250')")
    assert len(shown(page)) == 250 and page.locator("#show-more").is_hidden()
    assert page.is_checked("tr[data-run='exp_250'] input[type=checkbox]")

    page.select_option("#status-filter", "Failed")
    assert shown(page)[:2] == ["exp_7", "exp_14"] and len(shown(page)) == 35
    assert page.inner_text("#runs-shown") == "Showing 35 of the 35 runs that match (250 in all)."
    page.fill("#tag-filter", "seed=0")
    assert shown(page)[:2] == ["exp_35", "exp_70"]
    page.fill("#tag-filter", "nothing")
    assert page.inner_text("#runs tbody") == "No runs match the filters."

    page.fill("#tag-filter", "")
    page.select_option("#status-filter", "")
    page.select_option("#metric-column", "loss")
    page.click("#metric-header")
    assert shown(page)[0] == "exp_250"
    assert page.inner_text("tr[data-run='exp_250'] [data-metric-cell]") == "0.0040000"
    assert page.is_enabled("#tensorboard") and page.is_disabled("#compare")


def test_it_searches_keeps_the_view_in_the_address_and_adds_new_runs_live(
    signed_in, server, owner, experiment
):
    from runs.models import Run

    page = signed_in
    add_runs(experiment, owner, range(1, 21))
    Run.objects.filter(pk="exp_3").update(
        definition={
            "compute_target": "local",
            "script": "train.py",
            "arguments": ["--optimizer", "adamw"],
        }
    )
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    chart = "#charts-panel [data-metric=loss]"
    page.wait_for_selector(f"{chart} .main-svg")  # a picture before the table
    assert page.evaluate(f"document.querySelector('{chart}').data.length") == 20
    page.fill("#search", "ADAMW")
    assert shown(page) == ["exp_3"]
    page.wait_for_function(f"document.querySelector('{chart}')?.data?.length === 1")
    page.fill("#search", "trial 1")
    page.click("#runs button[data-sort=name]")
    assert shown(page)[:3] == ["exp_1", "exp_10", "exp_11"]
    assert "q=trial+1" in page.url and "sort=name" in page.url
    page.reload()
    assert page.input_value("#search") == "trial 1" and shown(page)[:3] == [
        "exp_1",
        "exp_10",
        "exp_11",
    ]
    assert page.get_attribute("#runs th:has(button[data-sort=name])", "aria-sort") == "ascending"

    page.uncheck("#chart-picker input[value=loss]")
    page.wait_for_selector(chart, state="detached")
    assert "charts=&" in page.url or page.url.endswith("charts=")
    page.fill("#search", "")
    new = run_services.run_start_interactive(
        experiment=experiment, user=owner, display_name="live one"
    )
    page.wait_for_selector(f"tr[data-run='{new.pk}']:has-text('live one')")
    assert page.inner_text(f"tr[data-run='{new.pk}'] [data-status]") == "Running"
    page.screenshot(path="/tmp/dailyui_shots/runs-table.png", full_page=True)


def test_it_compares_runs_side_by_side(signed_in, server, owner, experiment):
    from runs.models import Metric, MetricKind, Run

    page = signed_in
    runs = add_runs(experiment, owner, range(1, 4))
    for run in runs:
        Run.objects.filter(pk=run.pk).update(
            definition={
                "compute_target": "local",
                "script": "train.py",
                "arguments": ["--lr", str(0.1 * run.number), "--epochs", "5"],
            }
        )
        Metric.objects.create(run=run, name="accuracy", kind=MetricKind.SCALAR, count=1,
                              last_value=0.5 + run.number / 10)  # fmt: skip
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    for run in runs:
        page.check(f"tr[data-run='{run.pk}'] input[type=checkbox]")
    page.click("#compare")
    page.wait_for_selector("#compare-table")
    assert page.get_attribute("#compare-table tr:has(th:text-is('arg lr'))", "class") == "diff"
    same = "#compare-table tr:has(th:text-is('arg epochs'))"
    assert page.get_attribute(same, "class") is None
    accuracy = page.inner_text("#compare-table tr:has(th:text-is('accuracy (last)'))")
    assert accuracy.split("\t")[1:] == ["0.60000", "0.70000", "0.80000"]
    for name in ("accuracy", "loss"):
        chart = f"#compare-charts [data-metric={name}]"
        page.wait_for_selector(f"{chart} .main-svg")
        assert page.evaluate(f"document.querySelector('{chart}').data.length") == 3
    page.wait_for_selector("#compare-parallel .main-svg")
    dimensions = page.evaluate(
        "document.getElementById('compare-parallel').data[0].dimensions.map(d => d.label)"
    )
    assert dimensions == ["arg epochs", "arg lr", "tag lr", "tag seed", "accuracy", "loss"]
    page.select_option("#scatter-x", "arg lr")
    page.select_option("#scatter-y", "accuracy")
    page.wait_for_selector("#compare-scatter .main-svg")
    points = page.evaluate("document.getElementById('compare-scatter').data[0].y")
    assert sorted(points) == [0.6, 0.7, 0.8]
    page.screenshot(path="/tmp/dailyui_shots/compare.png", full_page=True)


def test_it_adds_sorts_remembers_and_removes_chosen_columns(signed_in, server, owner, experiment):
    page = signed_in
    add_runs(experiment, owner, range(1, 6))
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    page.select_option("#add-column", label="loss (max)")
    page.select_option("#add-column", label="tag seed")
    headers = page.eval_on_selector_all(
        "#runs th[data-column]", "ths => ths.map(t => t.dataset.column)"
    )
    assert headers == ["m|loss|max_value", "p|tag seed"]
    assert page.inner_text("tr[data-run='exp_3'] td[data-column='p|tag seed']") == "3"
    assert page.inner_text("tr[data-run='exp_3'] td[data-column='m|loss|max_value']") == "1.0000"
    page.click("#runs th[data-column='p|tag seed'] button[data-sort]")
    assert shown(page) == ["exp_5", "exp_1", "exp_2", "exp_3", "exp_4"]
    page.reload()
    assert page.inner_text("tr[data-run='exp_4'] td[data-column='p|tag seed']") == "4"
    assert shown(page) == ["exp_5", "exp_1", "exp_2", "exp_3", "exp_4"]
    page.click("#runs th[data-column='m|loss|max_value'] .remove-column")
    assert page.locator("#runs th[data-column]").count() == 1
    assert "cols=p%7Ctag+seed" in page.url


def test_mlflow_params_are_columns_search_terms_and_compare_rows(
    signed_in, server, owner, experiment
):
    from tracking import services as tracking_services

    page = signed_in
    runs = add_runs(experiment, owner, range(1, 4))
    for run, batch in zip(runs, ("16", "32", "64"), strict=True):
        params = {"batch_size": batch, "optimizer": "adamw" if run.number < 3 else "sgd"}
        tracking_services.run_log(run=run, metrics=[], params=params, tags={})
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    page.select_option("#add-column", label="param batch_size")
    assert page.inner_text("tr[data-run='exp_2'] td[data-column='p|param batch_size']") == "32"
    page.fill("#search", "sgd")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr[data-run]').length === 1")
    assert shown(page) == ["exp_3"]
    page.fill("#search", "")
    for run in runs:
        page.check(f"tr[data-run='{run.pk}'] input[type=checkbox]")
    page.click("#compare")
    page.wait_for_selector("#compare-table")
    batch = "#compare-table tr:has(th:text-is('param batch_size'))"
    assert page.inner_text(batch).split("\t")[1:] == ["16", "32", "64"]
    assert page.get_attribute(batch, "class") == "diff"
    page.screenshot(path="/tmp/dailyui_shots/compare-params.png", full_page=True)


def test_it_keeps_the_status_filter_and_metric_stat_over_a_reload(
    signed_in, server, owner, experiment
):
    page = signed_in
    add_runs(experiment, owner, range(1, 15))
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    page.select_option("#status-filter", "Failed")
    page.select_option("#metric-stat", "max_value")
    page.fill("#tag-filter", "seed=2")
    assert shown(page) == ["exp_7"]
    page.reload()
    assert page.input_value("#status-filter") == "Failed"
    assert page.input_value("#tag-filter") == "seed=2"
    assert page.inner_text("#metric-header") == "loss (max)"
    assert shown(page) == ["exp_7"]
    assert page.inner_text("tr[data-run='exp_7'] [data-metric-cell]") == "1.0000"
    shared = page.context.new_page()  # the address, opened elsewhere, gives the same view
    shared.goto(page.url)
    assert shown(shared) == ["exp_7"]
    shared.close()
    page.select_option("#status-filter", "")
    page.fill("#tag-filter", "")
    page.fill("#search", "SEED=3")  # the search looks in tags too
    assert shown(page) == ["exp_13", "exp_8", "exp_3"]


def test_it_shows_who_submitted_and_the_node_and_counts_a_running_runs_duration(
    signed_in, server, owner, experiment
):
    from runs.models import Run

    page = signed_in
    run = run_services.run_start_interactive(experiment=experiment, user=owner, display_name="on")
    Run.objects.filter(pk=run.pk).update(worker="lab.local@box")
    page.goto(f"{server}/w/lab/experiments/{experiment.pk}/")
    row = f"tr[data-run='{run.pk}']"
    page.select_option("#add-column", label="node")
    assert page.inner_text(f"{row} td[data-column='f|node']") == "lab.local@box"
    assert "alice" in page.inner_text(row)
    page.click("#runs button[data-sort=user]")
    assert page.get_attribute("#runs th:has(button[data-sort=user])", "aria-sort") == "ascending"
    seconds = f'parseInt(document.querySelector("{row} [data-duration-cell]").textContent)'
    start = page.evaluate(seconds)
    page.wait_for_function(f"{seconds} >= {start + 5}", timeout=15_000)  # it ticks, no reload
    run_services.run_complete(run=Run.objects.get(pk=run.pk))
    page.wait_for_selector(f"{row} [data-status]:text-is('Completed')")
    stopped = page.inner_text(f"{row} [data-duration-cell]")
    page.wait_for_timeout(6_000)  # past the next refresh
    assert page.inner_text(f"{row} [data-duration-cell]") == stopped
