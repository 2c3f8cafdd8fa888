from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import FileResponse, HttpResponse
from ninja import Query, Router, Schema, Status

from mlstudio.errors import NotFound, UserError
from runs import deleting, editing, quotas, selectors, services, store
from runs.models import Experiment, Run, Snapshot
from runs.presenters import run_details, zip_folder_response
from runs.submission import RunConfig
from workspaces.auth import request_token, workspace_for
from workspaces.models import Role

router = Router(tags=["runs"])


class ExperimentOut(Schema):
    id: int
    name: str
    tags: dict[str, str]
    created_at: datetime
    archived_time: datetime | None
    status: str


class ExperimentIn(Schema):
    name: str
    tags: dict[str, Any] | None = None


class TagsIn(Schema):
    tags: dict[str, Any]


class SubmitIn(Schema):
    snapshot_id: str | None = None
    config: dict[str, Any]


def _experiment_out(e: Experiment) -> dict:
    return {
        "id": e.pk,
        "name": e.name,
        "tags": e.tags,
        "created_at": e.created_at,
        "archived_time": e.archived_at,
        "status": "Archived" if e.is_archived else "Active",
    }


def _experiment(request, ws: str, experiment_id: int, role: str = Role.READER) -> Experiment:
    return selectors.experiment_get(
        workspace=workspace_for(request, ws, role), experiment_id=experiment_id
    )


def _run(request, ws: str, run_id: str, role: str = Role.READER) -> Run:
    return selectors.run_get_for_user(
        user=request.user,
        workspace_name=ws,
        run_id=run_id,
        min_role=role,
        token=request_token(request),
    )


@router.get("/workspaces/{ws}/experiments", response=list[ExperimentOut])
def experiment_list(request, ws: str, view_type: str = "ActiveOnly", name: str | None = None):
    experiments = selectors.experiments_list(
        workspace=workspace_for(request, ws), view_type=view_type, name=name
    )
    return [_experiment_out(e) for e in experiments]


@router.post("/workspaces/{ws}/experiments", response={201: ExperimentOut})
def experiment_create(request, ws: str, payload: ExperimentIn):
    experiment = services.experiment_create(
        workspace=workspace_for(request, ws, Role.CONTRIBUTOR),
        name=payload.name,
        user=request.user,
        tags=payload.tags,
    )
    return Status(201, _experiment_out(experiment))


@router.post("/workspaces/{ws}/experiments/resolve", response=ExperimentOut)
def experiment_resolve(request, ws: str, payload: ExperimentIn):
    """Get the experiment of that name, creating it when missing (azureml's Experiment())."""
    experiment = services.experiment_get_or_create(
        workspace=workspace_for(request, ws, Role.CONTRIBUTOR), name=payload.name, user=request.user
    )
    return _experiment_out(experiment)


@router.get("/workspaces/{ws}/experiments/{experiment_id}", response=ExperimentOut)
def experiment_detail(request, ws: str, experiment_id: int):
    return _experiment_out(_experiment(request, ws, experiment_id))


@router.post("/workspaces/{ws}/experiments/{experiment_id}/archive", response=ExperimentOut)
def experiment_archive(request, ws: str, experiment_id: int):
    experiment = _experiment(request, ws, experiment_id, Role.CONTRIBUTOR)
    return _experiment_out(services.experiment_archive(experiment=experiment))


@router.post("/workspaces/{ws}/experiments/{experiment_id}/reactivate", response=ExperimentOut)
def experiment_reactivate(request, ws: str, experiment_id: int):
    experiment = _experiment(request, ws, experiment_id, Role.CONTRIBUTOR)
    return _experiment_out(services.experiment_reactivate(experiment=experiment))


@router.delete("/workspaces/{ws}/experiments/{experiment_id}", response={204: None})
def experiment_delete(request, ws: str, experiment_id: int):
    """Delete an archived experiment and its runs (workspace owners only); the name is free at
    once and the runs' files are purged in the background."""
    deleting.experiment_delete(
        experiment=_experiment(request, ws, experiment_id), actor=request.user
    )
    return Status(204, None)


@router.post("/workspaces/{ws}/experiments/{experiment_id}/tags", response=ExperimentOut)
def experiment_tags(request, ws: str, experiment_id: int, payload: TagsIn):
    experiment = _experiment(request, ws, experiment_id, Role.CONTRIBUTOR)
    return _experiment_out(services.experiment_set_tags(experiment=experiment, tags=payload.tags))


@router.get("/workspaces/{ws}/experiments/{experiment_id}/runs")
def run_list(
    request,
    ws: str,
    experiment_id: int,
    limit: int = 100,
    offset: int = 0,
    include_children: bool = True,
):
    """Newest first, a page at a time: `offset` skips that many, `limit` is at most 1000."""
    experiment = _experiment(request, ws, experiment_id)
    runs = selectors.runs_of(experiment=experiment, include_children=include_children)
    start = max(0, offset)
    return [run_details(run, brief=True) for run in runs[start : start + max(1, min(limit, 1000))]]


class TableQuery(Schema):
    run: list[str]


TABLE_RUNS_MAX = 500


@router.get("/workspaces/{ws}/experiments/{experiment_id}/table")
def runs_table(request, ws: str, experiment_id: int, query: Query[TableQuery]):
    """Rows of the experiment page's runs table for the runs named (repeat `run`), as the page
    got them: an open table asks again for the runs that are going, and for a new one."""
    if len(query.run) > TABLE_RUNS_MAX:
        raise UserError(
            f"Ask for at most {TABLE_RUNS_MAX} runs at a time ({len(query.run)} given)."
        )
    experiment = _experiment(request, ws, experiment_id)
    runs, summaries, _ = selectors.runs_table(experiment=experiment, run_ids=query.run)
    return {"runs": runs, "metrics": summaries}


@router.post("/workspaces/{ws}/experiments/{experiment_id}/runs", response={201: dict})
def run_submit(request, ws: str, experiment_id: int, payload: SubmitIn):
    experiment = _experiment(request, ws, experiment_id, Role.CONTRIBUTOR)
    config = RunConfig.parse(payload.config)
    snapshot = None
    if payload.snapshot_id:
        snapshot = Snapshot.objects.filter(
            pk=_uuid(payload.snapshot_id), workspace=experiment.workspace
        ).first()
        if snapshot is None:
            raise NotFound(f"No snapshot {payload.snapshot_id!r} in workspace {ws!r}.")
    run = services.run_submit(
        experiment=experiment, user=request.user, snapshot=snapshot, config=config
    )
    return Status(201, run_details(run))


class SubmitCheckIn(Schema):
    config: dict[str, Any]
    paths: list[str] | None = None


@router.post("/workspaces/{ws}/experiments/{experiment_id}/runs/check")
def run_submit_check(request, ws: str, experiment_id: int, payload: SubmitCheckIn):
    """Everything a submit checks but the snapshot upload: the SDK asks this first."""
    experiment = _experiment(request, ws, experiment_id, Role.CONTRIBUTOR)
    config = RunConfig.parse(payload.config)
    services.run_submit_check(experiment=experiment, config=config, paths=payload.paths)
    return {"ok": True}


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"{value!r} is not a snapshot id.") from None


@router.get("/workspaces/{ws}/runs/{run_id}")
def run_detail(request, ws: str, run_id: str):
    return run_details(_run(request, ws, run_id))


class DescribeIn(Schema):
    display_name: str | None = None
    description: str | None = None


@router.patch("/workspaces/{ws}/runs/{run_id}")
def run_describe(request, ws: str, run_id: str, payload: DescribeIn):
    """`run.display_name = ...` and `run.description = ...`."""
    run = _run(request, ws, run_id, Role.CONTRIBUTOR)
    return run_details(
        editing.run_describe(
            run=run, display_name=payload.display_name, description=payload.description
        )
    )


@router.post("/workspaces/{ws}/runs/{run_id}/cancel")
def run_cancel(request, ws: str, run_id: str):
    run = _run(request, ws, run_id, Role.CONTRIBUTOR)
    who = request.user.get_username()
    run = services.run_cancel(run=run, reason=f"Canceled by the user {who}.")
    return run_details(run)


class LogQuery(Schema):
    offset: int = 0
    limit: int = store.READ_CHUNK


@router.get("/workspaces/{ws}/runs/{run_id}/logs/{path:name}")
def run_log(request, ws: str, run_id: str, name: str, query: Query[LogQuery]):
    """The log's text after byte `offset`; X-Next-Offset says where to continue."""
    run = _run(request, ws, run_id)
    limit = min(max(query.limit, 1), 4 * store.READ_CHUNK)
    text, next_offset = store.read_log(run.pk, name, max(0, query.offset), limit)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["X-Next-Offset"] = str(next_offset)
    response["X-Log-Size"] = str(store.log_files(run.pk).get(name, 0))
    response["X-Run-Status"] = run.status
    return response


@router.get("/workspaces/{ws}/runs/{run_id}/files")
def run_files(request, ws: str, run_id: str):
    return store.list_files(_run(request, ws, run_id).pk)


@router.get("/workspaces/{ws}/runs/{run_id}/files/{path:name}")
def run_file_download(request, ws: str, run_id: str, name: str):
    run = _run(request, ws, run_id)
    path = store.run_file(run.pk, name)
    if not path.is_file():
        raise NotFound(f"Run {run.pk} has no file {name!r}; run.get_file_names() lists them.")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


@router.get("/workspaces/{ws}/runs/{run_id}/zip")
def run_zip(request, ws: str, run_id: str):
    run = _run(request, ws, run_id)
    return zip_folder_response(store.run_dir(run.pk), f"{run.pk}.zip")


class InteractiveIn(Schema):
    display_name: str = ""
    tags: dict[str, Any] | None = None


class ChildIn(Schema):
    name: str = ""
    run_id: str | None = None


class CompleteIn(Schema):
    status: str = "Completed"
    error: str = ""


@router.post("/workspaces/{ws}/experiments/{experiment_id}/runs/interactive", response={201: dict})
def run_start_interactive(request, ws: str, experiment_id: int, payload: InteractiveIn):
    """`experiment.start_logging()`: a run that the notebook logs to and completes."""
    experiment = _experiment(request, ws, experiment_id, Role.CONTRIBUTOR)
    run = services.run_start_interactive(
        experiment=experiment, user=request.user, display_name=payload.display_name,
        tags=payload.tags,
    )  # fmt: skip
    return Status(201, run_details(run))


@router.post("/workspaces/{ws}/runs/{run_id}/children", response={201: dict})
def run_child_create(request, ws: str, run_id: str, payload: ChildIn):
    parent = _run(request, ws, run_id, Role.CONTRIBUTOR)
    child = services.run_create_child(parent=parent, run_id=payload.run_id, name=payload.name)
    return Status(201, run_details(child))


@router.get("/workspaces/{ws}/runs/{run_id}/children")
def run_child_list(request, ws: str, run_id: str):
    parent = _run(request, ws, run_id)
    return [run_details(child, brief=True) for child in parent.children.order_by("number")]


@router.post("/workspaces/{ws}/runs/{run_id}/complete")
def run_complete(request, ws: str, run_id: str, payload: CompleteIn):
    if payload.status not in ("Completed", "Failed"):
        raise UserError("status must be 'Completed' or 'Failed'.")
    run = _run(request, ws, run_id, Role.CONTRIBUTOR)
    done = services.run_complete(run=run, failed=payload.status == "Failed", error=payload.error)
    return run_details(done)


@router.put("/workspaces/{ws}/runs/{run_id}/files/{path:name}", response={201: dict})
def run_file_upload(request, ws: str, run_id: str, name: str):
    """`run.upload_file(name, path)` from a notebook: the body is the file's bytes."""
    run = _run(request, ws, run_id, Role.CONTRIBUTOR)
    declared = request.headers.get("content-length", "")
    size = quotas.run_file_upload(
        run=run, name=name, source=request, declared=int(declared) if declared.isdigit() else None
    )
    return Status(
        201,
        {
            "name": store.run_file(run.pk, name).relative_to(store.run_dir(run.pk)).as_posix(),
            "size": size,
        },
    )
