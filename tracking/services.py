"""Writes of the MLflow protocol, each through runs' own services and its metric store, so a
run logged by MLflow is the same run the v1 SDK, the API and the pages see."""

from __future__ import annotations

import json

import numpy as np
from django.db import transaction
from django.utils import timezone

from mlstudio import live
from mlstudio.errors import Conflict
from runs import services as runs_services
from runs.definition import RunDefinition
from runs.metrics import NONFINITE, Ingestor
from runs.models import Experiment, Run, RunStatus
from tracking import protocol
from tracking.errors import MlflowError, invalid
from tracking.models import MlflowRunData

SYSTEM_TAGS = {"mlflow.runName", "mlflow.parentRunId", "mlflow.user"}


# --- experiments -------------------------------------------------------------------------------


def experiment_create(*, workspace, user, name: str, tags: dict[str, str]) -> Experiment:
    if Experiment.objects.filter(workspace=workspace, name=name, archived_at__isnull=True).exists():
        raise MlflowError(
            f"Experiment(name={name}) already exists. Use mlflow.set_experiment({name!r}) to "
            "log into it.", "RESOURCE_ALREADY_EXISTS",
        )  # fmt: skip
    try:
        return runs_services.experiment_create(workspace=workspace, name=name, user=user, tags=tags)
    except Conflict as exc:
        raise MlflowError(exc.message, "RESOURCE_ALREADY_EXISTS") from None


def experiment_default(*, workspace, user) -> Experiment:
    """MLflow's experiment "0", which clients log to when no experiment is set."""
    return runs_services.experiment_get_or_create(workspace=workspace, name="Default", user=user)


def experiment_rename(*, experiment: Experiment, name: str) -> Experiment:
    try:
        return runs_services.experiment_rename(experiment=experiment, name=name)
    except Conflict as exc:
        raise MlflowError(exc.message, "RESOURCE_ALREADY_EXISTS") from None


def experiment_untag(*, experiment: Experiment, key: str) -> None:
    experiment.tags.pop(key, None)
    experiment.save(update_fields=["tags"])


# --- runs --------------------------------------------------------------------------------------


def run_create(*, experiment: Experiment, user, run_name: str, tags: dict[str, str]) -> Run:
    """A run that the client logs to and ends, like `experiment.start_logging()`; a nested
    run (tag mlflow.parentRunId) is a child run of its parent."""
    parent_id = tags.get("mlflow.parentRunId")
    own_tags = {k: v for k, v in tags.items() if k not in SYSTEM_TAGS}
    run_name = run_name or tags.get("mlflow.runName", "")
    if parent_id:
        parent = Run.objects.filter(
            pk=parent_id, experiment__workspace=experiment.workspace
        ).first()
        if parent is None:
            raise MlflowError(
                f"Parent run with id={parent_id} not found.", "RESOURCE_DOES_NOT_EXIST"
            )
        run = runs_services.run_create_child(parent=parent, name=run_name)
        if own_tags:
            run = run_set_tags(run=run, tags=own_tags)
        return run
    return runs_services.run_start_interactive(
        experiment=experiment, user=user, display_name=run_name, tags=own_tags
    )


def run_update(*, run: Run, status: str | None, run_name: str | None) -> Run:
    """A new name, and for a run the client started, its end. A submitted run's status is
    its script's exit code, so a status sent for it is ignored."""
    if run_name:
        Run.objects.filter(pk=run.pk).update(display_name=run_name[:255])
    if status is not None and status not in protocol.FROM_MLFLOW:
        raise invalid(
            f"Invalid run status {status!r}; use one of {', '.join(protocol.FROM_MLFLOW)}."
        )
    target = protocol.FROM_MLFLOW.get(status or "RUNNING")
    if RunDefinition.of(run.definition).interactive and target != RunStatus.RUNNING:
        if target == RunStatus.CANCELED:
            runs_services.run_cancel(run=run, reason="Killed by the MLflow client.")
        else:
            runs_services.run_complete(run=run, failed=target == RunStatus.FAILED,
                                       error="Ended FAILED by the MLflow client.")  # fmt: skip
    run.refresh_from_db()
    return run


def run_set_deleted(*, run: Run, deleted: bool) -> None:
    data, _ = MlflowRunData.objects.get_or_create(run=run)
    data.deleted_at = timezone.now() if deleted else None
    data.save(update_fields=["deleted_at"])


def writable(run: Run) -> None:
    try:
        data = run.mlflow  # selected with the run by selectors.run_by_id
    except MlflowRunData.DoesNotExist:
        return
    if data.deleted_at is not None:
        raise invalid(f"The run {run.pk} must be in the 'active' state. Current state is deleted.")


# --- logging -----------------------------------------------------------------------------------


def run_log(
    *, run: Run, metrics: dict[str, np.ndarray], params: dict[str, str], tags: dict[str, str]
) -> None:
    """Store a checked batch all or nothing: params and tags in one transaction, the metric
    points (rows per key, from series_of or split_rows) last, their series only growing once
    everything else is in, then push the points to open pages."""
    writable(run)
    with transaction.atomic():
        # The run row locked (PostgreSQL) for the batch: each metric's count, read under the
        # lock, decides where its next points go. Only its key is read, not the whole row.
        Run.objects.select_for_update().values_list("pk", flat=True).get(pk=run.pk)
        ingestor = Ingestor(run) if metrics else None
        if metrics:
            _series_checked(run, metrics, ingestor.metrics)
        if params:
            _params_add(run, params)
        if tags:
            run_set_tags(run=run, tags=tags)
        report = ingestor.ingest_series(metrics) if metrics else None
    if report and report.live:
        live.publish(live.run_group(run.pk), live.metric_event(run.pk, report.live))


def _series_checked(run: Run, series: dict[str, np.ndarray], known: dict) -> None:
    """Refuse up front (before anything of the batch is written) what the store would leave
    out."""
    from django.conf import settings

    names = set(series)
    for name in sorted(names & set(known)):
        if known[name].kind not in ("scalar", "list"):
            raise invalid(
                f"Metric {name!r} of run {run.pk} holds {known[name].kind} values, not numbers."
            )
    if len(names | set(known)) > settings.MLSTUDIO_METRICS_PER_RUN:
        raise invalid(
            f"Run {run.pk} would have more than {settings.MLSTUDIO_METRICS_PER_RUN} metric names "
            "(MLSTUDIO_METRICS_PER_RUN); log fewer distinct keys."
        )
    limit = min(protocol.MAX_KEY, settings.MLSTUDIO_METRIC_NAME_MAX)
    for name in series:
        if len(name) > limit:
            raise invalid(f"Metric key {name[:40]!r}… is longer than {limit} characters.")


def series_of(metrics: list[dict]) -> dict[str, np.ndarray]:
    """Checked metrics ({key, value, timestamp, step}) as (step, value, time in s) rows per
    key, keys in the order they first appear."""
    grouped: dict[str, list[dict]] = {}
    for metric in metrics:
        grouped.setdefault(metric["key"], []).append(metric)
    return {name: _rows(points) for name, points in grouped.items()}


def split_rows(rows: np.ndarray, keys: list[str], names: list[str]) -> dict[str, np.ndarray]:
    """Rows of several keys (keys[i] the key of rows[i]) as rows per key, each in its logged
    order; `names` are the distinct keys in the order they first appear."""
    if len(names) == 1:
        return {names[0]: rows}
    code = {name: index for index, name in enumerate(names)}
    codes = np.fromiter((code[key] for key in keys), dtype=np.intp, count=len(keys))
    ordered = rows[np.argsort(codes, kind="stable")]
    bounds = np.cumsum(np.bincount(codes, minlength=len(names)))[:-1]
    return dict(zip(names, np.split(ordered, bounds), strict=True))


def _rows(points: list[dict]) -> np.ndarray:
    values = [m["value"] for m in points]
    if any(type(v) is str for v in values):  # "NaN", "Infinity", "-Infinity"
        values = [NONFINITE[v] if type(v) is str else v for v in values]
    rows = np.empty((len(points), 3), dtype=np.float64)
    rows[:, 0] = [m["step"] for m in points]
    rows[:, 1] = values
    rows[:, 2] = [m["timestamp"] for m in points]
    rows[:, 2] /= 1000
    return rows


def _params_add(run: Run, params: dict[str, str]) -> None:
    data, _ = MlflowRunData.objects.select_for_update().get_or_create(run=run)
    for key, value in params.items():
        if key in data.params and data.params[key] != value:
            raise invalid(
                f"Changing param values is not allowed. Param with key='{key}' was already "
                f"logged with value='{data.params[key]}' for run ID='{run.pk}'. Attempted "
                f"logging new value '{value}'."
            )
    added = {k: v for k, v in params.items() if k not in data.params}
    if added:
        data.params = {**data.params, **added}
        data.save(update_fields=["params"])
        event = live.params_event(run.pk, added)
        transaction.on_commit(lambda: live.publish(live.run_group(run.pk), event))


def run_set_tags(*, run: Run, tags: dict[str, str]) -> Run:
    """Tags are run tags; mlflow.runName renames the run, as in MLflow."""
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        name = tags.get("mlflow.runName")
        locked.tags = {**locked.tags, **{k: v for k, v in tags.items() if k not in SYSTEM_TAGS}}
        if name:
            locked.display_name = name[:255]
        locked.save(update_fields=["tags", "display_name"])
    return locked


def run_delete_tag(*, run: Run, key: str) -> None:
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if key not in locked.tags:
            raise MlflowError(f"No tag with name: {key} in run with id {run.pk}",
                              "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
        del locked.tags[key]
        locked.save(update_fields=["tags"])


def run_log_inputs(*, run: Run, datasets: list[dict]) -> None:
    writable(run)
    with transaction.atomic():
        data, _ = MlflowRunData.objects.select_for_update().get_or_create(run=run)
        seen = {(d["dataset"]["name"], d["dataset"]["digest"]) for d in data.inputs}
        new = [d for d in datasets if (d["dataset"]["name"], d["dataset"]["digest"]) not in seen]
        if new:
            data.inputs = [*data.inputs, *new]
            data.save(update_fields=["inputs"])


def run_log_outputs(*, run: Run, models: list[dict]) -> None:
    with transaction.atomic():
        data, _ = MlflowRunData.objects.select_for_update().get_or_create(run=run)
        data.outputs = [*data.outputs, *models]
        data.save(update_fields=["outputs"])


def run_log_model(*, run: Run, model_json: str) -> None:
    """MLflow 2's record of a logged model, kept where MLflow keeps it: a run tag."""
    try:
        model = json.loads(model_json)
    except ValueError:
        raise invalid("model_json is not valid JSON.") from None
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        history = json.loads(locked.tags.get("mlflow.log-model.history", "[]"))
        locked.tags["mlflow.log-model.history"] = json.dumps([*history, model])
        locked.save(update_fields=["tags"])
