import math

import pytest

from runs import metrics, services
from runs.submission import RunConfig


@pytest.fixture
def run(owner, workspace):
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    return services.run_submit(
        experiment=experiment,
        user=owner,
        snapshot=None,
        config=RunConfig.parse({"command": ["true"]}),
    )


def ingest(run, *records):
    return metrics.Ingestor(run).ingest(list(records))


def test_it_stores_v1_shapes(run):
    report = ingest(
        run,
        {"n": "lr", "v": 0.1, "t": 1},
        {"n": "loss", "v": 3, "t": 1},
        {"n": "loss", "v": 2.5, "t": 2},
        {"n": "loss", "x": "NaN", "t": 3},
        {"n": "acc", "k": "list", "v": [0.1, 0.2, "Infinity"], "t": 1},
        {"n": "acc", "k": "list", "v": [0.3], "t": 2},
        {"n": "note", "v": "hello", "t": 1},
        {"n": "flag", "v": True, "t": 1},
        {"n": "nothing", "v": None, "t": 1},
        {"n": "rows", "k": "row", "v": {"x": 1, "y": "a"}, "t": 1},
        {"n": "rows", "k": "row", "v": {"x": 2, "y": "b"}, "t": 2},
        {"n": "tbl", "k": "table", "v": {"x": [1, 2], "y": [3, 4]}, "t": 1},
        {"n": "cm", "k": "confusion_matrix", "v": {"data": [[1, 0], [0, 1]]}, "t": 1},
    )
    assert report.skipped == []
    got = metrics.metrics_v1(run)
    assert got["lr"] == 0.1
    assert got["loss"][:2] == [3.0, 2.5] and got["loss"][2] == "NaN"
    assert got["acc"] == [0.1, 0.2, "Infinity", 0.3]
    assert (got["note"], got["flag"], got["nothing"]) == ("hello", True, None)
    assert got["rows"] == {"x": [1, 2], "y": ["a", "b"]}
    assert got["tbl"] == {"x": [1, 2], "y": [3, 4]}
    assert got["cm"] == {"data": [[1, 0], [0, 1]]}


def test_it_keeps_cheap_summaries_ignoring_non_finite_values(run):
    ingest(run, *({"n": "loss", "v": v, "t": i} for i, v in enumerate([5, 1, 3])))
    ingest(run, {"n": "loss", "x": "Infinity", "t": 9})
    metric = run.metrics.get(name="loss")
    assert (metric.count, metric.min_value, metric.max_value) == (4, 1, 5)
    assert metric.last_value is None and metric.last_step == 3


def test_it_refuses_text_in_a_numeric_series_and_keeps_the_rest(run):
    report = ingest(run, {"n": "loss", "v": 1, "t": 1}, {"n": "loss", "v": "oops", "t": 2})
    assert report.stored == 1
    assert "holds numbers" in report.skipped[0]


def test_it_enforces_the_metric_name_limits(run, settings):
    settings.MLSTUDIO_METRICS_PER_RUN = 2
    settings.MLSTUDIO_METRIC_NAME_MAX = 10
    report = ingest(
        run,
        {"n": "a", "v": 1, "t": 1},
        {"n": "b", "v": 1, "t": 1},
        {"n": "c", "v": 1, "t": 1},
        {"n": "x" * 11, "v": 1, "t": 1},
    )
    assert report.stored == 2
    assert any("already has 2 metric names" in s for s in report.skipped)
    assert any("longer than 10" in s for s in report.skipped)


def test_it_applies_tags_and_refuses_changing_a_property(run):
    ingest(run, {"op": "tag", "tags": {"a": "1", "b": "2"}}, {"op": "props", "props": {"p": "x"}})
    report = ingest(run, {"op": "untag", "keys": ["b"]}, {"op": "props", "props": {"p": "y"}})
    run.refresh_from_db()
    assert run.tags == {"a": "1"}
    assert run.properties["p"] == "x"
    assert "already 'x'" in report.skipped[0]


def test_it_downsamples_keeping_spikes_and_zooms_at_full_resolution(owner, run, api_as):
    values = [math.sin(i / 1000) for i in range(100_000)]
    values[54_321] = 50.0
    ingest(run, *({"n": "loss", "v": v, "t": i} for i, v in enumerate(values)))
    client = api_as(owner)
    chart = client.get(f"/api/workspaces/lab/runs/{run.pk}/series", {"name": "loss"}).json()
    assert chart["downsampled"] and len(chart["steps"]) <= 2000
    assert 50.0 in chart["values"] and chart["count"] == 100_000
    zoom = client.get(
        f"/api/workspaces/lab/runs/{run.pk}/series", {"name": "loss", "start": 1000, "end": 1999}
    ).json()
    assert not zoom["downsampled"] and zoom["steps"] == list(range(1000, 2000))


def test_it_downloads_the_full_series_as_csv_and_json(owner, run, api_as):
    ingest(
        run, *({"n": "loss", "v": v, "t": 7} for v in [1.5, 2.5]), {"n": "loss", "x": "NaN", "t": 8}
    )
    client = api_as(owner)
    csv_response = client.get(f"/api/workspaces/lab/runs/{run.pk}/series.csv", {"name": "loss"})
    text = b"".join(csv_response.streaming_content).decode()
    assert text.splitlines() == ["step,value,time", "0,1.5,7.0", "1,2.5,7.0", "2,NaN,8.0"]
    body = client.get(f"/api/workspaces/lab/runs/{run.pk}/series.json", {"name": "loss"}).json()
    assert body["values"] == [1.5, 2.5, "NaN"]


def test_it_names_the_known_metrics_for_an_unknown_one(owner, run, api_as):
    ingest(run, {"n": "loss", "v": 1, "t": 1})
    response = api_as(owner).get(f"/api/workspaces/lab/runs/{run.pk}/series", {"name": "los"})
    assert response.status_code == 404 and "loss" in response.json()["detail"]


def test_it_summarises_metrics_per_run_for_the_runs_table(owner, run, api_as):
    ingest(run, {"n": "loss", "v": 2, "t": 1}, {"n": "loss", "v": 1, "t": 2})
    summary = (
        api_as(owner)
        .get(
            f"/api/workspaces/lab/experiments/{run.experiment_id}/metric-summaries",
            {"names": "loss"},
        )
        .json()
    )
    assert summary[run.pk]["loss"] == {
        "count": 2,
        "last": 1.0,
        "min": 1.0,
        "max": 2.0,
        "last_step": 1.0,
    }


def test_it_lets_a_notebook_post_records_but_not_a_reader(owner, teammate, run, api_as):
    interactive = services.run_start_interactive(experiment=run.experiment, user=owner)
    url = f"/api/workspaces/lab/runs/{interactive.pk}/metrics"
    body = {"records": [{"n": "loss", "v": 1.0, "t": 1}]}
    assert api_as(teammate).post(url, body, content_type="application/json").status_code == 403
    assert api_as(owner).post(url, body, content_type="application/json").json()["stored"] == 1
    got = api_as(teammate).get(url).json()
    assert got == {"metrics": {"loss": 1.0}, "numeric": ["loss"]}


def test_it_refuses_posted_records_while_a_worker_stores_the_runs_metrics(owner, run, api_as):
    url = f"/api/workspaces/lab/runs/{run.pk}/metrics"
    body = {"records": [{"n": "loss", "v": 1.0, "t": 1}]}
    answer = api_as(owner).post(url, body, content_type="application/json")
    assert answer.status_code == 409
    assert "Run.get_context()" in answer.json()["detail"]
    assert not run.metrics.exists()


def test_it_skips_an_empty_list_and_applies_tag_operations_in_order(run):
    report = ingest(
        run,
        {"n": "empty", "k": "list", "v": [], "t": 1},
        {"op": "tag", "tags": {"a": "1", "b": "1"}},
        {"op": "untag", "keys": ["a", "b"]},
        {"op": "tag", "tags": {"b": "2"}},
        {"op": "tag", "tags": "not a mapping"},
    )
    run.refresh_from_db()
    assert run.tags == {"b": "2"}
    assert report.stored == 0
    assert len(report.skipped) == 1 and "malformed record" in report.skipped[0]


def test_it_keeps_series_out_of_the_run_files(run):
    from runs import store

    ingest(run, {"n": "loss", "v": 1, "t": 1})
    assert store.list_files(run.pk) == []
    assert metrics.series_path(run.metrics.get()).exists()


def test_it_answers_every_series_of_many_runs_in_one_request(
    owner, stranger, run, api_as, django_assert_max_num_queries
):
    other = services.run_start_interactive(experiment=run.experiment, user=owner)
    ingest(run, *({"n": "loss", "v": 1 / (i + 1), "t": i} for i in range(5000)))
    ingest(run, {"n": "acc", "v": 0.5, "t": 1}, {"n": "acc", "x": "NaN", "t": 2})
    ingest(other, {"n": "loss", "v": 3, "t": 1}, {"n": "note", "v": "text", "t": 1})
    client = api_as(owner)
    query = {"run": [run.pk, other.pk], "name": ["loss", "acc", "note"], "max_points": 100}
    with django_assert_max_num_queries(6):
        series = client.get("/api/workspaces/lab/series", query).json()["series"]
    assert set(series) == {run.pk, other.pk}
    loss = series[run.pk]["loss"]
    assert loss["count"] == 5000 and loss["downsampled"] and len(loss["steps"]) <= 100
    assert loss["values"][0] == 1.0 and loss["steps"][-1] == 4999
    assert series[run.pk]["acc"]["values"] == [0.5, "NaN"]
    # a run without a metric, and a metric that is text, have no series
    assert series[other.pk] == {"loss": {"steps": [0.0], "values": [3.0], "count": 1,
                                         "downsampled": False}}  # fmt: skip
    assert api_as(stranger).get("/api/workspaces/lab/series", query).status_code == 404


def test_it_names_a_foreign_run_and_bounds_a_series_request(owner, run, api_as):
    client = api_as(owner)
    unknown = client.get("/api/workspaces/lab/series", {"run": [run.pk, "elsewhere_1"],
                                                        "name": "loss"})  # fmt: skip
    assert unknown.status_code == 404 and "'elsewhere_1'" in unknown.json()["detail"]
    many = {"run": [f"r{i}" for i in range(101)], "name": [f"m{i}" for i in range(20)]}
    too_many = client.get("/api/workspaces/lab/series", many)
    assert too_many.status_code == 400 and "fewer runs or metrics" in too_many.json()["detail"]
    points = client.get("/api/workspaces/lab/series", {"run": run.pk, "name": "l", "max_points": 5})
    assert points.status_code == 400 and "max_points" in points.json()["detail"]
