"""Reads of sweeps: what the API, the sweep page and the controller see."""

from __future__ import annotations

import math

from runs.metrics import series_read
from runs.models import FINAL_STATUSES, NUMERIC_KINDS, Metric, Run
from sweeps.models import Sweep, Trial


def _primary(sweep: Sweep, sweep_ids: list[str] | None):
    """The primary metric rows of the trials of these sweeps (this one by default), joined
    rather than listed by id, so a thousand trials cost one plain query."""
    return Metric.objects.filter(
        run__trial__sweep_id__in=sweep_ids or [sweep.run_id],
        name=sweep.metric,
        kind__in=NUMERIC_KINDS,
    )


def best_values(*, sweep: Sweep, sweep_ids: list[str] | None = None) -> dict[str, float]:
    """{child id: its best primary metric} for the children that logged it."""
    column = "max_value" if sweep.maximize else "min_value"
    pairs = _primary(sweep, sweep_ids).values_list("run_id", column)
    return {run_id: v for run_id, v in pairs if v is not None and math.isfinite(v)}


def primary_series(*, sweep: Sweep) -> dict[str, list[float]]:
    """{child id: its primary metric values in log order}."""
    return {m.run_id: series_read(m)[:, 1].tolist() for m in _primary(sweep, None)}


def logged_names(*, sweep: Sweep) -> list[str]:
    names = Metric.objects.filter(run__trial__sweep=sweep).values_list("name", flat=True)
    return sorted(set(names))


TRIAL_FIELDS = ("run_id", "number", "hyperparameters", "stop_reason", "run__status",
                "run__status_detail", "run__started_at", "run__ended_at")  # fmt: skip


def _trial_rows(sweep_ids: list[str], best: dict[str, float]) -> list[dict]:
    rows = []
    trials = Trial.objects.filter(sweep_id__in=sweep_ids).order_by("sweep_id", "number")
    for t in trials.values(*TRIAL_FIELDS):
        started, end = t["run__started_at"], t["run__ended_at"]
        final = t["run__status"] in FINAL_STATUSES
        rows.append({
            "run_id": t["run_id"],
            "number": t["number"],
            "status": t["run__status"],
            "hyperparameters": t["hyperparameters"],
            "best_primary_metric": best.get(t["run_id"]),
            "started": started.isoformat() if started else None,
            "ended": end.isoformat() if end else None,
            "duration_seconds": (end - started).total_seconds() if end and started else None,
            "detail": t["stop_reason"] or (t["run__status_detail"] if final else ""),
        })  # fmt: skip
    return rows


def sweep_summary(*, sweep: Sweep, with_resumed: bool = True) -> dict:
    """The sweep's config, state and every trial, as the API returns it."""
    parent = sweep.run
    best = best_values(sweep=sweep)
    earlier = sweep.config.get("resume_from") if with_resumed else None
    resumed = _trial_rows(earlier, best_values(sweep=sweep, sweep_ids=earlier)) if earlier else []
    return {
        "run_id": parent.pk,
        "status": parent.status,
        "detail": parent.status_detail,
        "state": sweep.state,
        "primary_metric_name": sweep.metric,
        "primary_metric_goal": sweep.config["primary_metric_goal"],
        "max_total_runs": sweep.config["max_total_runs"],
        "max_concurrent_runs": sweep.config["max_concurrent_runs"],
        "sampling": sweep.config["sampling"],
        "policy": sweep.config["policy"],
        "best_run_id": sweep.best_run_id or _best_id(sweep, best),
        "trials": _trial_rows([sweep.run_id], best),
        "resumed_trials": resumed,
    }


def _best_id(sweep: Sweep, best: dict[str, float]) -> str | None:
    if not best:
        return None
    pick = max if sweep.maximize else min
    return pick(best, key=best.get)


def sweep_active_children(*, sweep: Sweep) -> list[Run]:
    return list(sweep.run.children.exclude(status__in=FINAL_STATUSES))


def sweep_curves(*, sweep: Sweep, max_points: int) -> dict[str, list]:
    """Thinned by stride, keeping the last value; an interval is a value's position."""
    limit = max(2, min(max_points, 1000))
    curves = {}
    for run_id, values in primary_series(sweep=sweep).items():
        stride = max(1, -(-len(values) // limit))
        points = [[i + 1, _finite(v)] for i, v in enumerate(values) if i % stride == 0]
        if values and (len(values) - 1) % stride:
            points.append([len(values), _finite(values[-1])])
        curves[run_id] = points
    return curves


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
