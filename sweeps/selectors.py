"""Reads of sweeps: what the API, the sweep page and the controller see."""

from __future__ import annotations

from runs.metrics import series_read
from runs.models import FINAL_STATUSES, Metric, Run
from sweeps.models import Sweep, Trial


def best_values(*, sweep: Sweep, run_ids: list[str]) -> dict[str, float]:
    """{child id: its best primary metric} for the children that logged it."""
    column = "max_value" if sweep.maximize else "min_value"
    rows = Metric.objects.filter(run_id__in=run_ids, name=sweep.metric, kind__in=("scalar", "list"))
    return {
        run_id: value for run_id, value in rows.values_list("run_id", column) if value is not None
    }


def primary_series(*, sweep: Sweep, run_ids: list[str]) -> dict[str, list[float]]:
    """{child id: its primary metric values in log order}."""
    rows = Metric.objects.filter(run_id__in=run_ids, name=sweep.metric, kind__in=("scalar", "list"))
    return {metric.run_id: series_read(metric)[:, 1].tolist() for metric in rows}


def logged_names(*, run_ids: list[str]) -> list[str]:
    return sorted(set(Metric.objects.filter(run_id__in=run_ids).values_list("name", flat=True)))


def _trial_rows(trials: list[Trial], best: dict[str, float]) -> list[dict]:
    rows = []
    for trial in trials:
        run = trial.run
        end = run.ended_at
        duration = (end - run.started_at).total_seconds() if end and run.started_at else None
        rows.append({
            "run_id": run.pk,
            "number": trial.number,
            "status": run.status,
            "hyperparameters": trial.hyperparameters,
            "best_primary_metric": best.get(run.pk),
            "started": run.started_at.isoformat() if run.started_at else None,
            "ended": end.isoformat() if end else None,
            "duration_seconds": duration,
            "detail": trial.stop_reason or (run.status_detail if run.is_final else ""),
        })  # fmt: skip
    return rows


def sweep_summary(*, sweep: Sweep, with_resumed: bool = True) -> dict:
    """The sweep's config, state and every trial, as the API returns it."""
    parent = sweep.run
    trials = list(sweep.trials.select_related("run"))
    best = best_values(sweep=sweep, run_ids=[t.run_id for t in trials])
    resumed: list[dict] = []
    if with_resumed and sweep.config.get("resume_from"):
        earlier = Trial.objects.filter(sweep_id__in=sweep.config["resume_from"]).select_related(
            "run"
        )
        earlier = list(earlier)
        resumed = _trial_rows(
            earlier, best_values(sweep=sweep, run_ids=[t.run_id for t in earlier])
        )
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
        "trials": _trial_rows(trials, best),
        "resumed_trials": resumed,
    }


def _best_id(sweep: Sweep, best: dict[str, float]) -> str | None:
    if not best:
        return None
    pick = max if sweep.maximize else min
    return pick(best, key=best.get)


def sweep_active_children(*, sweep: Sweep) -> list[Run]:
    return list(sweep.run.children.exclude(status__in=FINAL_STATUSES))
