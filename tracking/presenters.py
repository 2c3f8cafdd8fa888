"""MLflow's JSON shapes of MLStudio's experiments and runs."""

from __future__ import annotations

import os
from datetime import datetime

import numpy as np

from runs.metrics import encode_number, series_path
from runs.models import Experiment, Run
from tracking.models import LoggedModel, MlflowRunData
from tracking.protocol import TO_MLFLOW


def millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def experiment_json(experiment: Experiment) -> dict:
    return {
        "experiment_id": str(experiment.pk),
        "name": experiment.name,
        "artifact_location": f"mlflow-artifacts:/experiments/{experiment.pk}",
        "lifecycle_stage": "deleted" if experiment.is_archived else "active",
        "creation_time": millis(experiment.created_at),
        "last_update_time": millis(experiment.archived_at or experiment.created_at),
        "tags": [{"key": k, "value": v} for k, v in experiment.tags.items()],
    }


def artifact_uri(run: Run) -> str:
    """Where the run's MLflow artifacts live: its outputs/ folder, through the studio's
    mlflow-artifacts proxy (tracking.artifacts)."""
    return f"mlflow-artifacts:/{run.pk}/artifacts"


def run_tags(run: Run) -> dict[str, str]:
    tags = {"mlflow.runName": run.display_name or run.pk, **run.tags}
    if run.submitted_by is not None:
        tags.setdefault("mlflow.user", run.submitted_by.username)
    if run.parent_id:
        tags["mlflow.parentRunId"] = run.parent_id
    return tags


def run_info(run: Run, data: MlflowRunData | None) -> dict:
    info = {
        "run_id": run.pk,
        "run_uuid": run.pk,
        "run_name": run.display_name or run.pk,
        "experiment_id": str(run.experiment_id),
        "user_id": run.submitted_by.username if run.submitted_by else "",
        "status": TO_MLFLOW[run.status],
        "start_time": millis(run.started_at or run.created_at),
        "artifact_uri": artifact_uri(run),
        "lifecycle_stage": "deleted" if data is not None and data.deleted_at else "active",
    }
    if run.ended_at is not None:
        info["end_time"] = millis(run.ended_at)
    return info


def run_json(run: Run) -> dict:
    data = MlflowRunData.objects.filter(run=run).first()
    return {
        "info": run_info(run, data),
        "data": {
            "metrics": latest_metrics(run),
            "params": [{"key": k, "value": v} for k, v in (data.params if data else {}).items()],
            "tags": [{"key": k, "value": v} for k, v in run_tags(run).items()],
        },
        "inputs": {"dataset_inputs": data.inputs if data else [], "model_inputs": []},
        "outputs": {"model_outputs": data.outputs if data else []},
    }


def latest_metrics(run: Run) -> list[dict]:
    """The last point of each numeric metric, read from the end of its series file."""
    found = []
    for metric in run.metrics.all():
        if not metric.is_numeric or not metric.count:
            continue
        step, value, at = _last_point(metric)
        found.append({"key": metric.name, "value": encode_number(value),
                      "timestamp": int(at * 1000), "step": int(step)})  # fmt: skip
    return found


def _last_point(metric) -> tuple[float, float, float]:
    path = series_path(metric)
    try:
        with open(path, "rb") as handle:
            handle.seek(-24, os.SEEK_END)
            step, value, at = np.frombuffer(handle.read(24), dtype=np.float64).tolist()
    except OSError:
        return metric.last_step or 0.0, metric.last_value or 0.0, 0.0
    return step, value, at


def logged_model_json(model: LoggedModel, artifact_location: str) -> dict:
    return {
        "info": {
            "model_id": model.id,
            "experiment_id": str(model.experiment_id),
            "name": model.name,
            "artifact_uri": artifact_location,
            "creation_timestamp_ms": millis(model.created_at),
            "last_updated_timestamp_ms": millis(model.updated_at),
            "model_type": model.model_type,
            "source_run_id": model.source_run_id or "",
            "status": model.status,
            "tags": [{"key": k, "value": v} for k, v in model.tags.items()],
        },
        "data": {
            "params": [{"key": k, "value": v} for k, v in model.params.items()],
            "metrics": [],
        },
    }
