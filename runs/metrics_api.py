"""Metric routes: ingest batches (interactive runs), read them in v1's shapes, chart series
downsampled on the server, full downloads, and the per-run summaries the runs table uses."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from ninja import Query, Router, Schema

from mlstudio import live
from mlstudio.errors import Conflict, NotFound, UserError
from runs import metrics, selectors
from runs.api import _experiment, _run
from runs.definition import RunDefinition
from runs.models import Metric, Run
from workspaces.auth import workspace_for
from workspaces.models import Role

router = Router(tags=["metrics"])
MAX_CHART_POINTS = 10_000


class RecordsIn(Schema):
    records: list[Any]


@router.post("/workspaces/{ws}/runs/{run_id}/metrics")
def metrics_ingest(request, ws: str, run_id: str, payload: RecordsIn):
    run = _run(request, ws, run_id, Role.CONTRIBUTOR)
    if not RunDefinition.of(run.definition).interactive and not run.is_final:
        raise Conflict(
            f"Run {run.pk} is {run.status} on a worker, which stores its metrics: log them from "
            "its script with Run.get_context(), or log here once the run has ended."
        )
    metrics.records_check(payload.records, run=run)
    with transaction.atomic():
        # One ingestion per run at a time: each appends to the run's series where the last
        # one stopped.
        Run.objects.select_for_update().filter(pk=run.pk).exists()
        report = metrics.Ingestor(run).ingest(payload.records)
    if report.live:
        live.publish(live.run_group(run.pk), live.metric_event(run.pk, report.live))
    return {"stored": report.stored, "skipped": report.skipped}


@router.get("/workspaces/{ws}/runs/{run_id}/metrics")
def metrics_get(request, ws: str, run_id: str, name: str | None = None, recursive: bool = False):
    """v1's get_metrics(); with recursive, {"runs": {run_id: {...}}} for the run and all its
    descendants. "numeric" names the metrics whose "NaN"/"Infinity" strings are numbers."""
    run = _run(request, ws, run_id)
    if not recursive:
        values = metrics.metrics_v1(run, name)
        return {"metrics": values, "numeric": _numeric(run, values)}
    runs, frontier = {}, [run]
    while frontier:
        current = frontier.pop()
        values = metrics.metrics_v1(current, name)
        runs[current.pk] = {"metrics": values, "numeric": _numeric(current, values)}
        frontier += list(current.children.all())
    return {"runs": runs}


@router.get("/workspaces/{ws}/runs/{run_id}/metric-list")
def metric_list(request, ws: str, run_id: str):
    """Every metric of the run with its summary, without its values: what a page needs to
    decide which charts and tables to draw."""
    run = _run(request, ws, run_id)
    return [
        {"name": m.name, "kind": m.kind, "count": m.count, "last": m.last_value,
         "min": m.min_value, "max": m.max_value, "source": m.source}
        for m in run.metrics.all()
    ]  # fmt: skip


def _numeric(run, values: dict) -> list[str]:
    return [m.name for m in run.metrics.all() if m.is_numeric and m.name in values]


def _metric(run, name: str) -> Metric:
    metric = run.metrics.filter(name=name).first()
    if metric is None:
        known = ", ".join(run.metrics.values_list("name", flat=True)[:20]) or "none yet"
        raise NotFound(f"Run {run.pk} has no metric {name!r}. Its metrics: {known}.")
    if not metric.is_numeric:
        raise UserError(f"Metric {name!r} is a {metric.kind}, not a numeric series; use /metrics.")
    return metric


@router.get("/workspaces/{ws}/runs/{run_id}/series")
def metric_series(
    request,
    ws: str,
    run_id: str,
    name: str,
    start: float | None = None,
    end: float | None = None,
    max_points: int = 2000,
):
    """A series for a chart: at most `max_points` points, keeping each bucket's min and max;
    a zoom asks for start..end and gets that window at full resolution when it fits."""
    metric = _metric(_run(request, ws, run_id), name)
    if not 10 <= max_points <= MAX_CHART_POINTS:
        raise UserError(f"max_points must be between 10 and {MAX_CHART_POINTS}.")
    points, reduced = metrics.series_window(
        metrics.series_read(metric), start=start, end=end, max_points=max_points
    )
    return {
        "name": metric.name,
        "kind": metric.kind,
        "count": metric.count,
        "downsampled": reduced,
        **metrics.series_json(points),
    }


class SeriesQuery(Schema):
    run: list[str]
    name: list[str]
    max_points: int = 1000


@router.get("/workspaces/{ws}/series")
def metric_series_of_runs(request, ws: str, query: Query[SeriesQuery]):
    """Many series in one answer, for a comparison or a charts panel: every numeric metric
    `name` of every `run` (repeat both), each downsampled as /runs/{id}/series does, as
    {"series": {run id: {metric: {steps, values, count, downsampled}}}}. A run without one
    of the metrics has no entry for it."""
    if not 10 <= query.max_points <= MAX_CHART_POINTS:
        raise UserError(f"max_points must be between 10 and {MAX_CHART_POINTS}.")
    found = selectors.metrics_of_runs(
        workspace=workspace_for(request, ws), run_ids=query.run, names=query.name
    )
    series: dict[str, dict] = {run_id: {} for run_id in query.run}
    for metric in found:
        points, reduced = metrics.series_window(
            metrics.series_read(metric), start=None, end=None, max_points=query.max_points
        )
        series[metric.run_id][metric.name] = {
            "steps": points[:, 0].tolist(),
            "values": [metrics.encode_number(v) for v in points[:, 1].tolist()],
            "count": metric.count,
            "downsampled": reduced,
        }
    # orjson: 200 series of a thousand points encode in milliseconds.
    return HttpResponse(orjson.dumps({"series": series}), content_type="application/json")


@router.get("/workspaces/{ws}/runs/{run_id}/series.csv")
def metric_csv(request, ws: str, run_id: str, name: str):
    metric = _metric(_run(request, ws, run_id), name)
    points = metrics.series_read(metric)

    def rows():
        yield "step,value,time\n"
        for start in range(0, len(points), 10_000):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for step, value, at in points[start : start + 10_000].tolist():
                writer.writerow((_step(step), metrics.encode_number(value), at))
            yield buffer.getvalue()

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{_filename(metric)}.csv"'
    return response


@router.get("/workspaces/{ws}/runs/{run_id}/series.json")
def metric_json(request, ws: str, run_id: str, name: str):
    metric = _metric(_run(request, ws, run_id), name)
    body = {
        "name": metric.name,
        "run_id": metric.run_id,
        **metrics.series_json(metrics.series_read(metric)),
    }
    response = HttpResponse(orjson.dumps(body), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{_filename(metric)}.json"'
    return response


@router.get("/workspaces/{ws}/experiments/{experiment_id}/metric-summaries")
def metric_summaries(request, ws: str, experiment_id: int, names: str | None = None):
    """{run_id: {metric: {count, last, min, max, last_step}}} for every run of the experiment,
    from summary rows only: cheap for hundreds of runs."""
    experiment = _experiment(request, ws, experiment_id)
    rows = Metric.objects.filter(run__experiment=experiment)
    if names:
        rows = rows.filter(name__in=[n for n in names.split(",") if n])
    result: dict[str, dict] = {}
    for row in rows.values(
        "run_id", "name", "count", "last_value", "min_value", "max_value", "last_step"
    ):
        result.setdefault(row["run_id"], {})[row["name"]] = {
            "count": row["count"],
            "last": row["last_value"],
            "min": row["min_value"],
            "max": row["max_value"],
            "last_step": row["last_step"],
        }
    return result


def _step(step: float):
    return int(step) if step.is_integer() else step


def _filename(metric: Metric) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in metric.name)
    return f"{metric.run_id}_{safe}"
