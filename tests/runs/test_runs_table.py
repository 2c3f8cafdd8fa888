"""The experiment page's runs table: what it shows, in a number of queries that does not grow
with the number of runs."""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from runs import selectors, services
from runs.models import Metric, MetricKind, Run, RunStatus


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="exp", user=owner)


def add_runs(experiment, user, numbers: range) -> list[Run]:
    """Finished runs with a `loss` metric each, written in bulk: the table is under test, not
    how runs come to be."""
    runs = Run.objects.bulk_create(
        Run(
            id=f"exp_{n}", experiment=experiment, number=n, display_name=f"trial {n}",
            status=RunStatus.FAILED if n % 7 == 0 else RunStatus.COMPLETED,
            submitted_by=user, tags={"lr": "0.1", "seed": str(n % 5)},
            definition={"compute_target": "local", "script": "train.py"},
            status_history=[{"status": RunStatus.COMPLETED, "at": "2026-01-01T00:00:00+00:00"}],
        )
        for n in numbers
    )  # fmt: skip
    Metric.objects.bulk_create(
        Metric(run=run, name="loss", kind=MetricKind.SCALAR, count=3,
               last_value=1 / run.number, min_value=0.0, max_value=1.0)
        for run in runs
    )  # fmt: skip
    return runs


def table_of(client, experiment) -> dict:
    """The runs and metric summaries that the page hands its script."""
    response = client.get(f"/w/lab/experiments/{experiment.pk}/")
    assert response.status_code == 200
    found = re.search(r'<script id="runs-data" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)  # fmt: skip
    return json.loads(found[1])


def test_it_gives_the_page_every_top_level_run_with_what_the_table_shows(
    owner, experiment, logged_in
):
    (parent,) = add_runs(experiment, owner, range(1, 2))
    Run.objects.create(id="exp_1_child", experiment=experiment, number=2, parent=parent)
    table = table_of(logged_in(owner), experiment)
    (run,) = table["runs"]
    assert run["id"] == "exp_1" and run["name"] == "trial 1" and run["status"] == "Completed"
    assert run["user"] == "alice" and run["target"] == "local"
    assert run["tags"] == {"lr": "0.1", "seed": "1"}
    assert run["created"].endswith("Z") and run["started"] is None
    assert table["metrics"] == {
        "exp_1": {"loss": {"last_value": 1.0, "min_value": 0.0, "max_value": 1.0}}
    }


def test_it_offers_the_metric_names_and_statuses_as_choices(owner, experiment, logged_in):
    add_runs(experiment, owner, range(1, 3))
    page = logged_in(owner).get(f"/w/lab/experiments/{experiment.pk}/").content.decode()
    assert "<option>loss</option>" in page and "<option>Failed</option>" in page
    assert "Loading 2 runs" in page


def test_it_renders_1000_runs_in_no_more_queries_than_one(
    owner, experiment, logged_in, django_assert_max_num_queries
):
    client = logged_in(owner)
    add_runs(experiment, owner, range(1, 2))
    with CaptureQueriesContext(connection) as one_run:
        table_of(client, experiment)
    add_runs(experiment, owner, range(2, 1001))
    with django_assert_max_num_queries(len(one_run)):
        table = table_of(client, experiment)
    assert len(table["runs"]) == 1000 and len(table["metrics"]) == 1000
    assert len(one_run) <= 8, [q["sql"] for q in one_run]


def test_it_reads_the_table_in_two_queries(owner, experiment, django_assert_num_queries):
    add_runs(experiment, owner, range(1, 1001))
    with django_assert_num_queries(2):
        runs, summaries, names = selectors.runs_table(experiment=experiment)
    assert [run["number"] for run in runs[:2]] == [1000, 999]
    assert {run["user"] for run in runs} == {"alice"}
    assert names == ["loss"] and summaries["exp_1000"]["loss"]["last_value"] == 0.001


def test_it_answers_the_rows_of_named_runs_again_for_an_open_table(
    owner, stranger, experiment, api_as
):
    first, _ = add_runs(experiment, owner, range(1, 3))
    Run.objects.filter(pk=first.pk).update(
        description="warm-up off", properties={"mlstudio.image": "mlstudio/env:abc"},
        definition={"compute_target": "docker", "environment": {"id": 1, "name": "torch",
                                                                "version": "2"}},
    )  # fmt: skip
    Metric.objects.filter(run=first).update(last_value=0.25)
    other = services.experiment_create(workspace=experiment.workspace, name="other", user=owner)
    (foreign,) = add_runs(other, owner, range(3, 4))
    url = f"/api/workspaces/lab/experiments/{experiment.pk}/table"
    table = api_as(owner).get(url, {"run": [first.pk, foreign.pk]}).json()
    (row,) = table["runs"]
    assert row["id"] == first.pk and row["description"] == "warm-up off"
    assert row["environment"]["name"] == "torch" and row["target"] == "docker"
    assert row["properties"] == {"mlstudio.image": "mlstudio/env:abc"}
    assert table["metrics"] == {first.pk: {"loss": {"last_value": 0.25, "min_value": 0.0,
                                                    "max_value": 1.0}}}  # fmt: skip
    assert api_as(stranger).get(url, {"run": first.pk}).status_code == 404
    many = api_as(owner).get(url, {"run": [f"r{i}" for i in range(501)]})
    assert many.status_code == 400 and "at most 500" in many.json()["detail"]
