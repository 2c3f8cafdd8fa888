"""`/api/…/sweeps`: submit a HyperDriveConfig, read a sweep's state. Cancel is the run's own
cancel route: the sweep's children follow their parent."""

from __future__ import annotations

import uuid
from typing import Any

from ninja import Router, Schema, Status

from mlstudio.errors import NotFound
from runs import selectors as run_selectors
from runs.models import Snapshot
from runs.presenters import run_details
from sweeps import selectors, services
from sweeps.models import Sweep
from workspaces.auth import request_token
from workspaces.models import Role
from workspaces.selectors import workspace_get_for_user

router = Router(tags=["sweeps"])


class SweepIn(Schema):
    snapshot_id: str | None = None
    config: dict[str, Any]


class SweepCheckIn(Schema):
    config: dict[str, Any]
    paths: list[str] | None = None


def _experiment(request, ws: str, experiment_id: int):
    workspace = workspace_get_for_user(
        user=request.user, name=ws, min_role=Role.CONTRIBUTOR, token=request_token(request)
    )[0]
    return run_selectors.experiment_get(workspace=workspace, experiment_id=experiment_id)


@router.post("/workspaces/{ws}/experiments/{experiment_id}/sweeps/check")
def sweep_check(request, ws: str, experiment_id: int, payload: SweepCheckIn):
    """Everything a sweep submit checks but the snapshot: the SDK asks this before uploading."""
    experiment = _experiment(request, ws, experiment_id)
    services.sweep_submit_check(experiment=experiment, raw=payload.config, paths=payload.paths)
    return {"ok": True}


@router.post("/workspaces/{ws}/experiments/{experiment_id}/sweeps", response={201: dict})
def sweep_submit(request, ws: str, experiment_id: int, payload: SweepIn):
    experiment = _experiment(request, ws, experiment_id)
    snapshot = None
    if payload.snapshot_id:
        try:
            snapshot_id = uuid.UUID(payload.snapshot_id)
        except ValueError:
            raise NotFound(f"{payload.snapshot_id!r} is not a snapshot id.") from None
        snapshot = Snapshot.objects.filter(pk=snapshot_id, workspace=experiment.workspace).first()
        if snapshot is None:
            raise NotFound(f"No snapshot {payload.snapshot_id!r} in workspace {ws!r}.")
    run = services.sweep_submit(
        experiment=experiment, user=request.user, snapshot=snapshot, raw=payload.config
    )
    return Status(201, run_details(run))


@router.get("/workspaces/{ws}/sweeps/{run_id}")
def sweep_detail(request, ws: str, run_id: str):
    """The sweep's config, state and trials (hyperparameters, status, best primary metric)."""
    run = run_selectors.run_get_for_user(
        user=request.user, workspace_name=ws, run_id=run_id, token=request_token(request)
    )
    sweep = Sweep.objects.filter(run=run).first()
    if sweep is None:
        raise NotFound(f"Run {run_id} is not a sweep (submit a HyperDriveConfig to make one).")
    return selectors.sweep_summary(sweep=sweep)
