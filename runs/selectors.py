"""Reads for experiments and runs; each lookup is also the access check."""

from __future__ import annotations

from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform, KeyTransform

from mlstudio.errors import NotFound, UserError
from runs.models import NUMERIC_KINDS, Experiment, Metric, Run
from workspaces.models import Role
from workspaces.selectors import workspace_get_for_user

VIEW_TYPES = ("ActiveOnly", "ArchivedOnly", "All")
SUMMARY_FIELDS = ("last_value", "min_value", "max_value")


def experiments_list(*, workspace, view_type: str = "ActiveOnly", name: str | None = None):
    if view_type not in VIEW_TYPES:
        raise UserError(f"view_type {view_type!r} is not one of {', '.join(VIEW_TYPES)}.")
    experiments = Experiment.objects.filter(workspace=workspace)
    if view_type == "ActiveOnly":
        experiments = experiments.filter(archived_at__isnull=True)
    elif view_type == "ArchivedOnly":
        experiments = experiments.filter(archived_at__isnull=False)
    if name:
        experiments = experiments.filter(name=name)
    return experiments.order_by("name", "-created_at")


def experiment_get(*, workspace, experiment_id: int) -> Experiment:
    experiment = Experiment.objects.filter(workspace=workspace, pk=experiment_id).first()
    if experiment is None:
        raise NotFound(f"No experiment with id {experiment_id} in workspace {workspace.name!r}.")
    return experiment


def run_get_for_user(
    *, user, workspace_name: str, run_id: str, min_role: str = Role.READER, token=None
) -> Run:
    """A run of the workspace, readable by this user (runs of archived experiments too)."""
    workspace, _ = workspace_get_for_user(
        user=user, name=workspace_name, min_role=min_role, token=token
    )
    run = (
        Run.objects.select_related("experiment", "submitted_by", "snapshot")
        .filter(pk=run_id, experiment__workspace=workspace)
        .first()
    )
    if run is None:
        raise NotFound(f"No run {run_id!r} in workspace {workspace_name!r}.")
    return run


def runs_of(*, experiment: Experiment, include_children: bool = True) -> QuerySet[Run]:
    runs = experiment.runs.select_related("submitted_by").order_by("-created_at", "-number")
    return runs if include_children else runs.filter(parent__isnull=True)


def run_get_visible(*, user, run_id: str, token=None) -> Run:
    """A run by id alone, if the user is a member of its workspace; else the same NotFound as
    for a run that does not exist."""
    run = Run.objects.select_related("experiment__workspace").filter(pk=run_id).first()
    try:
        if run is None:
            raise NotFound("")
        workspace_get_for_user(user=user, name=run.experiment.workspace.name, token=token)
    except NotFound:
        raise NotFound(f"No run {run_id!r} that you can see.") from None
    return run


def experiments_with_stats(*, workspace, view_type: str = "ActiveOnly", query: str = ""):
    """Experiments with their run count and the status of their newest run."""
    newest = Run.objects.filter(experiment=OuterRef("pk"), parent__isnull=True).order_by(
        "-created_at"
    )
    experiments = experiments_list(workspace=workspace, view_type=view_type)
    if query:
        experiments = experiments.filter(name__icontains=query)
    return experiments.annotate(
        run_count=Count("runs"),
        last_status=Subquery(newest.values("status")[:1]),
        last_run_at=Subquery(newest.values("created_at")[:1]),
    )


# What a row of the runs table holds besides id, number, status, tags and description.
TABLE_FIELDS = {
    "name": F("display_name"), "user": F("submitted_by__username"),
    "target": KeyTextTransform("compute_target", "definition"),
    "arguments": KeyTransform("arguments", "definition"),
    "environment": KeyTransform("environment", "definition"), "node": F("worker"),
    # MLflow params, where an MLflow client logged some (the tracking app's row, by its name).
    "mlflow_params": F("mlflow__params"),
    "created": F("created_at"), "started": F("started_at"), "ended": F("ended_at"),
}  # fmt: skip


def runs_table(
    *, experiment: Experiment, run_ids: list[str] | None = None
) -> tuple[list[dict], dict, list[str]]:
    """The experiment page's table: its top-level runs newest first (or the runs `run_ids`,
    which the open table asks for again as they change), as plain rows of what the table shows
    and searches, each with its number of child runs; their numeric metric summaries
    {run id: {name: {last_value, min_value, max_value}}}; and the metric names. Two queries
    whatever the number of runs, reading none of a run's larger columns (definition, history)."""
    runs = experiment.runs.annotate(child_runs=Count("children")).order_by("-number")
    if run_ids is None:
        return _table(runs.filter(parent__isnull=True),
                      run__experiment=experiment, run__parent__isnull=True)  # fmt: skip
    return _table(runs.filter(pk__in=run_ids), run__experiment=experiment, run_id__in=run_ids)


def runs_table_children(*, parent: Run) -> tuple[list[dict], dict, list[str]]:
    """The same rows for one run's children, in their order, for the row that expands."""
    children = parent.children.annotate(child_runs=Count("children")).order_by("number")
    return _table(children, run__parent=parent)


def _table(runs: QuerySet[Run], **metrics_of) -> tuple[list[dict], dict, list[str]]:
    rows = list(
        runs.values(
            "id", "number", "status", "tags", "description", "properties", "parent_id",
            "child_runs", **TABLE_FIELDS,
        )
    )  # fmt: skip
    summaries: dict[str, dict] = {}
    names: set[str] = set()
    metrics = Metric.objects.filter(kind__in=NUMERIC_KINDS, **metrics_of)
    for run_id, name, *values in metrics.values_list(
        "run_id", "name", "last_value", "min_value", "max_value"
    ):
        summaries.setdefault(run_id, {})[name] = dict(zip(SUMMARY_FIELDS, values, strict=True))
        names.add(name)
    return rows, summaries, sorted(names)


SERIES_MAX = 2000  # runs x metric names in one request for series


def metrics_of_runs(*, workspace, run_ids: list[str], names: list[str]) -> list[Metric]:
    """The numeric metrics named `names` of the runs `run_ids`, all of the workspace: what a
    comparison of those runs draws. A run the workspace does not have is named in a NotFound;
    a run without one of the names simply has no series for it."""
    run_ids, names = list(dict.fromkeys(run_ids)), list(dict.fromkeys(names))
    if not run_ids or not names:
        raise UserError("Name at least one run (run=<id>) and one metric (name=<metric>).")
    if len(run_ids) * len(names) > SERIES_MAX:
        raise UserError(
            f"{len(run_ids)} runs x {len(names)} metrics is over {SERIES_MAX} series in one "
            "request; ask for fewer runs or metrics at a time."
        )
    known = set(
        Run.objects.filter(pk__in=run_ids, experiment__workspace=workspace).values_list(
            "pk", flat=True
        )
    )
    missing = [run_id for run_id in run_ids if run_id not in known]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        raise NotFound(f"No run {shown} in workspace {workspace.name!r}.")
    return list(
        Metric.objects.filter(run_id__in=run_ids, name__in=names, kind__in=NUMERIC_KINDS).only(
            "pk", "run_id", "name", "count"
        )
    )
