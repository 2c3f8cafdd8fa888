"""Reads of the MLflow protocol. Each lookup is scoped to the workspace of the URL, so an id
from another workspace is answered as one that does not exist."""

from __future__ import annotations

import numpy as np

from runs.metrics import encode_number, series_read
from runs.models import Experiment, Metric, Run
from tracking.errors import MlflowError, invalid
from tracking.models import LoggedModel

MAX_HISTORY_PAGE = 25_000


def experiment_by_id(*, workspace, experiment_id) -> Experiment:
    try:
        pk = int(str(experiment_id))
    except ValueError:
        pk = None
    found = Experiment.objects.filter(workspace=workspace, pk=pk).first() if pk else None
    if found is None:
        raise MlflowError(
            f"No Experiment with id={experiment_id} exists in workspace {workspace.name!r}.",
            "RESOURCE_DOES_NOT_EXIST",
        )
    return found


def experiment_by_name(*, workspace, name: str) -> Experiment:
    found = (
        Experiment.objects.filter(workspace=workspace, name=name)
        .order_by("archived_at", "-created_at")
        .first()
    )
    if found is None:
        raise MlflowError(
            f"Could not find experiment with name: '{name}'", "RESOURCE_DOES_NOT_EXIST"
        )
    return found


def experiments_search(*, workspace, view_type: str, max_results: int, offset: int):
    experiments = Experiment.objects.filter(workspace=workspace).order_by("-created_at", "-pk")
    if view_type == "ACTIVE_ONLY":
        experiments = experiments.filter(archived_at__isnull=True)
    elif view_type == "DELETED_ONLY":
        experiments = experiments.filter(archived_at__isnull=False)
    page = list(experiments[offset : offset + max_results + 1])
    return page[:max_results], len(page) > max_results


RUN_RELATED = ("experiment", "submitted_by", "mlflow")


def run_by_id(*, workspace, run_id, related: tuple[str, ...] = RUN_RELATED) -> Run:
    """The run with its `related` rows (a logging call needs only its MLflow data)."""
    found = (
        Run.objects.select_related(*related)
        .filter(pk=str(run_id), experiment__workspace=workspace)
        .first()
        if run_id
        else None
    )
    if found is None:
        raise MlflowError(f"Run with id={run_id} not found", "RESOURCE_DOES_NOT_EXIST")
    return found


def runs_of_experiments(*, workspace, experiment_ids: list) -> list[Run]:
    experiments = [experiment_by_id(workspace=workspace, experiment_id=e) for e in experiment_ids]
    return list(
        Run.objects.select_related("experiment", "submitted_by", "mlflow")
        .filter(experiment__in=experiments)
        .order_by("-created_at", "-number")
    )


def metric_history(*, run: Run, key: str, max_results: int | None, offset: int) -> tuple[list, int]:
    """One page of a metric's points in MLflow's shape and the offset of the next (0 at the
    end). A key the run never logged has an empty history, as in MLflow."""
    metric = Metric.objects.filter(run=run, name=key).first()
    if metric is None:
        return [], 0
    if not metric.is_numeric:
        raise invalid(f"Metric {key!r} of run {run.pk} holds {metric.kind} values, not numbers.")
    points = series_read(metric)
    size = len(points) if max_results is None else max(1, min(max_results, MAX_HISTORY_PAGE))
    page = points[offset : offset + size]
    steps = page[:, 0].astype(np.int64).tolist()
    stamps = np.rint(page[:, 2] * 1000).astype(np.int64).tolist()
    values = page[:, 1]
    values = values.tolist() if np.isfinite(values).all() else map(encode_number, values.tolist())
    found = [
        {"key": key, "value": v, "timestamp": t, "step": s}
        for v, t, s in zip(values, stamps, steps)  # noqa: B905 (a map has no len; same length)
    ]
    following = offset + size
    return found, following if following < len(points) else 0


def logged_model_by_id(*, workspace, model_id: str) -> LoggedModel:
    found = LoggedModel.objects.filter(
        pk=model_id, experiment__workspace=workspace, deleted_at__isnull=True
    ).first()
    if found is None:
        raise MlflowError(
            f"Logged model with ID '{model_id}' not found.", "RESOURCE_DOES_NOT_EXIST"
        )
    return found
