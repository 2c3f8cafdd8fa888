"""Metrics: ingestion in bulk, the series store, downsampling for charts, v1's read shapes.

Numeric points (from log and log_list) are appended to <file store>/series/<run id>/<metric id>.f64
as float64 triples (step, value, time), in log order; a Metric row keeps count, last, min
and max so the runs table never reads a series. Everything else is a MetricRecord row.

Records arrive as dicts, from the transport file the SDK writes inside a run or from the REST
API for interactive runs: {"n": name, "v": value, "s": step, "t": time, "k": kind, "x":
"NaN"|"Infinity"|"-Infinity" for a non-finite number, "d": description}, or an operation
{"op": "tag" | "untag" | "props", ...}.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from mlstudio import live
from mlstudio.errors import UserError
from runs import signals
from runs.models import NUMERIC_KINDS, Metric, MetricKind, MetricRecord, Run
from runs.submission import tags_checked, tags_problem

NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
KINDS = set(MetricKind.values)
LIVE_POINTS_PER_METRIC = 500


@dataclass
class IngestReport:
    stored: int = 0
    skipped: list[str] = field(default_factory=list)
    live: dict[str, dict] = field(default_factory=dict)


@dataclass
class _Batch:
    """One ingest's records, sorted: numbers per metric, other values per metric, and the
    changes to the run's tags and properties."""

    points: dict[str, Points] = field(default_factory=dict)
    others: dict[str, list[tuple[object, float]]] = field(default_factory=lambda: defaultdict(list))
    tags: dict[str, str] = field(default_factory=dict)
    untag: set[str] = field(default_factory=set)
    props: dict[str, str] = field(default_factory=dict)

    def operate(self, op: str, record: dict) -> None:
        if op == "tag":
            # Later operations win: a tag set after an untag of the same key stays.
            added = {str(k): "" if v is None else str(v) for k, v in record["tags"].items()}
            self.tags.update(added)
            self.untag.difference_update(added)
        elif op == "untag":
            removed = {str(k) for k in record["keys"]}
            self.untag.update(removed)
            for key in removed:
                self.tags.pop(key, None)
        else:
            self.props.update({str(k): str(v) for k, v in record["props"].items()})


def series_path(metric: Metric) -> Path:
    # Beside the run's files, not among them: the series are the store's, not the user's.
    return Path(settings.MEDIA_ROOT) / "series" / metric.run_id / f"{metric.pk}.f64"


def encode_number(value: float) -> float | str:
    """A JSON-safe number: non-finite values become "NaN", "Infinity" or "-Infinity"."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


class Ingestor:
    """Stores records for one run in bulk. Keep one per executor so metric rows stay cached."""

    def __init__(self, run: Run, *, source: str = "sdk"):
        self.run = run
        self.source = source
        self.metrics = {m.name: m for m in run.metrics.all()}

    def ingest(self, records: list[dict], *, source: str | None = None) -> IngestReport:
        """Store the records; metrics they create are marked with `source` ("sdk",
        "tensorboard"), the ingestor's own by default."""
        if source and source != self.source:
            previous, self.source = self.source, source
            try:
                return self.ingest(records)
            finally:
                self.source = previous
        report = IngestReport()
        batch = _Batch()
        numeric = {name for name, metric in self.metrics.items() if metric.is_numeric}
        for record in records:
            if self._fast(record, numeric, batch.points):
                continue
            try:
                problem = self._sort(record, batch)
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                problem = f"malformed record {str(record)[:80]}: {type(exc).__name__} {exc}"
            if problem:
                report.skipped.append(problem)
            numeric = {name for name, metric in self.metrics.items() if metric.is_numeric}
        with transaction.atomic():
            self._store(batch, report)
        signals.metrics_stored.send(sender=Run, run=self.run, names=list(batch.points))
        return report

    def ingest_series(self, series: dict[str, np.ndarray]) -> IngestReport:
        """Store (step, value, time) rows per scalar metric, checked by the caller (the MLflow
        API sends whole columns: one array append per metric instead of a record each)."""
        report = IngestReport()
        batch = _Batch()
        for name, rows in series.items():
            metric = self._metric(name, MetricKind.SCALAR, "")
            if isinstance(metric, str):
                report.skipped.append(metric)
            elif not metric.is_numeric:
                report.skipped.append(
                    f"metric {name!r} is a {metric.kind}; its numbers were left out"
                )
            elif len(rows):
                batch.points[name] = _Rows(rows)
        # Inside the caller's transaction (the MLflow API's) no savepoint of its own: a failure
        # rolls the whole batch back anyway.
        with transaction.atomic(savepoint=False):
            self._store(batch, report)
        signals.metrics_stored.send(sender=Run, run=self.run, names=list(batch.points))
        return report

    def _fast(self, record, numeric: set[str], points: dict[str, Points]) -> bool:
        """The SDK's fast path writes {"n", "v", "t"} for a finite number of a metric it has
        seen: that is nearly every record, so it skips every other check."""
        if type(record) is not dict or len(record) != 3:
            return False
        name, value = record.get("n"), record.get("v")
        kind = type(value)
        if not ((kind is float or kind is int) and name in numeric and "t" in record):
            return False
        batch = points.get(name) or points.setdefault(name, Points(self.metrics[name].count))
        batch.add(None, value, record["t"])
        return True

    def _store(self, batch: _Batch, report: IngestReport) -> None:
        for name, points in batch.points.items():
            if not len(points.values):  # log_list(name, []) adds nothing
                continue
            report.stored += self._append_points(self.metrics[name], points, report)
        for name, items in batch.others.items():
            report.stored += self._append_records(self.metrics[name], items)
        if batch.tags or batch.untag or batch.props:
            self._apply_run_changes(batch.tags, batch.untag, batch.props, report)

    # --- sorting records --------------------------------------------------------------------
    def _sort(self, record, batch: _Batch) -> str | None:
        if not isinstance(record, dict):
            return f"not an object: {str(record)[:80]}"
        op = record.get("op")
        if op in ("tag", "untag", "props"):
            batch.operate(op, record)
            return None
        name, kind = record.get("n"), record.get("k", MetricKind.SCALAR)
        if not isinstance(name, str) or not name:
            return "a metric record without a name"
        if len(name) > settings.MLSTUDIO_METRIC_NAME_MAX:
            return f"metric name {name[:40]!r}… is longer than {settings.MLSTUDIO_METRIC_NAME_MAX}"
        if kind not in KINDS:
            return f"metric {name!r}: unknown kind {kind!r}"
        value = NONFINITE[record["x"]] if "x" in record else record.get("v")
        if kind == MetricKind.LIST and isinstance(value, list):
            value = [NONFINITE.get(v, v) if isinstance(v, str) else v for v in value]
        kind = self._kind_of(name, kind, value)
        metric = self._metric(name, kind, record.get("d", ""))
        if isinstance(metric, str):
            return metric
        return self._add(metric, kind, value, record, batch)

    def _kind_of(self, name: str, kind: str, value) -> str:
        """A scalar or list that is not all numbers is kept as a value."""
        known = self.metrics.get(name)
        numeric_so_far = known is None or known.is_numeric
        if kind == MetricKind.SCALAR and not _is_number(value, none_ok=known is not None):
            return MetricKind.VALUE
        if kind == MetricKind.LIST and not all(
            _is_number(v, none_ok=numeric_so_far) for v in value or []
        ):
            return MetricKind.VALUE
        return kind

    def _add(self, metric: Metric, kind: str, value, record: dict, batch: _Batch) -> str | None:
        name = metric.name
        logged_at = float(record.get("t") or 0.0)
        if metric.kind in NUMERIC_KINDS:
            if kind not in NUMERIC_KINDS:
                return f"metric {name!r} holds numbers; {value!r} was left out"
            values = value if kind == MetricKind.LIST else [value]
            step = record.get("s")
            points = batch.points.get(name) or batch.points.setdefault(name, Points(metric.count))
            at = float(step) if step is not None and kind == MetricKind.SCALAR else None
            for number in values:
                points.add(at, math.nan if number is None else number, logged_at)
            return None
        if kind in NUMERIC_KINDS and metric.kind != MetricKind.VALUE:
            return f"metric {name!r} is a {metric.kind}; the number {value!r} was left out"
        items = value if kind == MetricKind.LIST else [value]
        batch.others[name].extend((item, logged_at) for item in items)
        return None

    def _metric(self, name: str, kind: str, description: str) -> Metric | str:
        metric = self.metrics.get(name)
        if metric is not None:
            return metric
        if len(self.metrics) >= settings.MLSTUDIO_METRICS_PER_RUN:
            return (
                f"metric {name!r} left out: the run already has "
                f"{settings.MLSTUDIO_METRICS_PER_RUN} metric names"
            )
        metric = Metric.objects.create(
            run=self.run, name=name, kind=kind, description=str(description)[:1000],
            source=self.source,
        )  # fmt: skip
        self.metrics[name] = metric
        return metric

    # --- storing ------------------------------------------------------------------------------
    def _append_points(self, metric: Metric, batch: Points, report: IngestReport) -> int:
        triples = batch.array()
        path = series_path(metric)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as handle:
            triples.tofile(handle)
        values = triples[:, 1]
        finite = values[np.isfinite(values)]
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            metric.min_value = low if metric.min_value is None else min(metric.min_value, low)
            metric.max_value = high if metric.max_value is None else max(metric.max_value, high)
        last = float(values[-1])
        metric.last_value = last if math.isfinite(last) else None
        metric.last_step = float(triples[-1, 0])
        metric.count += len(triples)
        metric.save(update_fields=["count", "last_value", "min_value", "max_value", "last_step"])
        report.live[metric.name] = _live_slice(metric, triples)
        return len(triples)

    def _append_records(self, metric: Metric, batch) -> int:
        MetricRecord.objects.bulk_create(
            MetricRecord(metric=metric, seq=metric.count + i, value=value, logged_at=at)
            for i, (value, at) in enumerate(batch)
        )
        metric.count += len(batch)
        metric.save(update_fields=["count"])
        return len(batch)

    def _apply_run_changes(self, tags, untag, props, report: IngestReport) -> None:
        run = Run.objects.select_for_update().get(pk=self.run.pk)
        changed = {k: v for k, v in {**run.tags, **tags}.items() if k not in untag}
        problem = tags_problem(changed)
        if problem:
            report.skipped.append(problem)
        else:
            run.tags = changed
        for key, value in props.items():
            if key in run.properties and run.properties[key] != value:
                report.skipped.append(f"property {key!r} is already {run.properties[key]!r}")
                continue
            run.properties[key] = value
        run.save(update_fields=["tags", "properties"])
        event = live.run_event(run_id=run.pk, tags=run.tags, properties=run.properties)
        transaction.on_commit(lambda: live.publish(live.run_group(run.pk), event))


def records_check(records: list, *, run: Run) -> None:
    """Refuse a batch sent over REST as a whole, before anything is stored, when a metric
    name or the run's tags would go over their limits. (The file transport of a running
    script cannot be answered: the ingestor skips such records and says why.)"""
    limit = settings.MLSTUDIO_METRIC_NAME_MAX
    tags = dict(run.tags)
    for record in records:
        if not isinstance(record, dict):
            continue
        name = record.get("n")
        if isinstance(name, str) and len(name) > limit:
            raise UserError(
                f"Metric name {name[:40]!r}… is {len(name)} characters, over the limit of "
                f"{limit} (MLSTUDIO_METRIC_NAME_MAX); shorten it."
            )
        if record.get("op") == "tag" and isinstance(record.get("tags"), dict):
            tags.update({str(k): "" if v is None else str(v) for k, v in record["tags"].items()})
        elif record.get("op") == "untag" and isinstance(record.get("keys"), list):
            for key in record["keys"]:
                tags.pop(str(key), None)
    tags_checked(tags)


def _is_number(value, *, none_ok: bool) -> bool:
    """Numbers go to the binary series; None joins one as NaN once the series exists."""
    if value is None:
        return none_ok
    return isinstance(value, int | float) and not isinstance(value, bool)


class Points:
    """Numeric points of one metric gathered from a batch of records. A point without a step
    gets its index in the series, as v1 did."""

    def __init__(self, first_index: int):
        self.first_index = first_index
        self.steps: list[float | None] = []
        self.values: list[float] = []
        self.times: list[float] = []
        self.explicit_steps = False

    def add(self, step: float | None, value: float, at: float) -> None:
        self.steps.append(step)
        self.values.append(value)
        self.times.append(at)
        if step is not None:
            self.explicit_steps = True

    def array(self) -> np.ndarray:
        count = len(self.values)
        index = np.arange(self.first_index, self.first_index + count, dtype=np.float64)
        if self.explicit_steps:
            given = np.array([np.nan if s is None else s for s in self.steps], dtype=np.float64)
            index = np.where(np.isnan(given), index, given)
        return np.column_stack(
            (
                index,
                np.asarray(self.values, dtype=np.float64),
                np.asarray(self.times, dtype=np.float64),
            )
        )


class _Rows:
    """Points already in rows, for _store, which reads .values and .array()."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows
        self.values = rows[:, 1]

    def array(self) -> np.ndarray:
        return self.rows


def _live_slice(metric: Metric, triples: np.ndarray) -> dict:
    """What a live chart needs from a batch: at most LIVE_POINTS_PER_METRIC points."""
    if len(triples) > LIVE_POINTS_PER_METRIC:
        stride = math.ceil(len(triples) / LIVE_POINTS_PER_METRIC)
        triples = np.vstack((triples[::stride][:-1], triples[-1:]))
    return {
        "kind": metric.kind,
        "source": metric.source,
        "steps": triples[:, 0].tolist(),
        "values": [encode_number(v) for v in triples[:, 1].tolist()],
    }


# --- reading ----------------------------------------------------------------------------------


def series_read(metric: Metric) -> np.ndarray:
    """The metric's points as an (n, 3) array of step, value, time."""
    path = series_path(metric)
    if not path.exists():
        return np.empty((0, 3))
    data = np.fromfile(path, dtype=np.float64)
    return data[: data.size - data.size % 3].reshape(-1, 3)


def series_window(
    points: np.ndarray, *, start: float | None, end: float | None, max_points: int
) -> tuple[np.ndarray, bool]:
    """The points with start <= step <= end, reduced to at most `max_points` by keeping each
    bucket's minimum and maximum (so spikes survive). Returns them and whether it reduced."""
    if start is not None:
        points = points[points[:, 0] >= start]
    if end is not None:
        points = points[points[:, 0] <= end]
    if len(points) <= max_points:
        return points, False
    buckets = max(1, max_points // 2)
    size = len(points) // buckets
    body = points[: buckets * size, 1].reshape(buckets, size)
    base = np.arange(buckets) * size
    low = np.where(np.isnan(body), np.inf, body).argmin(axis=1) + base
    high = np.where(np.isnan(body), -np.inf, body).argmax(axis=1) + base
    keep = np.unique(np.concatenate([low, high, [len(points) - 1]]))
    return points[keep], True


def series_json(points: np.ndarray) -> dict:
    return {
        "steps": points[:, 0].tolist(),
        "values": [encode_number(v) for v in points[:, 1].tolist()],
        "times": points[:, 2].tolist(),
    }


def metrics_v1(run: Run, name: str | None = None) -> dict:
    """`run.get_metrics()` in v1's shapes: one value as a scalar, repeated values as a list,
    rows and tables as {column: [values]}, images as their run file names."""
    metrics = run.metrics.all() if name is None else run.metrics.filter(name=name)
    result = {}
    for metric in metrics:
        if metric.is_numeric:
            values = [encode_number(v) for v in series_read(metric)[:, 1].tolist()]
            if metric.kind == MetricKind.LIST:
                result[metric.name] = values
            else:
                result[metric.name] = values[0] if len(values) == 1 else values
            continue
        values = list(metric.records.order_by("seq").values_list("value", flat=True))
        result[metric.name] = _shape(metric.kind, values)
    return result


def _shape(kind: str, values: list):
    if kind in (MetricKind.ROW, MetricKind.TABLE):
        columns: dict[str, list] = {}
        for value in values:
            for column, cell in value.items():
                columns.setdefault(column, []).extend(cell if kind == MetricKind.TABLE else [cell])
        return columns
    if kind == MetricKind.IMAGE:
        paths = [v["path"] for v in values]
        return paths[0] if len(paths) == 1 else paths
    if kind == MetricKind.VALUE:
        return values[0] if len(values) == 1 else values
    return values[-1]  # confusion matrix, accuracy table, residuals, predictions: the latest
