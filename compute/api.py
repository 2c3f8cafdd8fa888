"""Compute targets and their nodes under /api/workspaces/{ws}/compute. Readers read;
contributors register and delete targets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema, Status

from compute import selectors, services
from compute.models import ComputeTarget, Node
from compute.selectors import TargetStatus
from workspaces.auth import workspace_for
from workspaces.models import Role

router = Router(tags=["compute"])


class TargetIn(Schema):
    name: str
    type: str = "cluster"
    vm_size: str = ""
    min_nodes: int = 0
    max_nodes: int | None = None
    idle_seconds_before_scaledown: int | None = None
    docker_host: str = ""
    description: str = ""
    tags: dict[str, Any] | None = None


class TargetOut(Schema):
    name: str
    type: str
    description: str
    tags: dict[str, str]
    vm_size: str
    docker_host: str
    min_nodes: int
    max_nodes: int | None
    idle_seconds_before_scaledown: int
    provisioning_state: str
    provisioning_errors: list[str]
    queue: str
    created_by: str | None
    created_at: datetime
    modified_at: datetime
    status: TargetStatus


class NodeOut(Schema):
    name: str
    hostname: str
    target: str
    state: str
    slots: int
    processes: int
    busy_slots: int
    cpu_count: int
    gpu_count: int
    memory_bytes: int
    version: str
    problem: str
    started_at: datetime
    heartbeat_at: datetime


def target_out(target: ComputeTarget, status=None) -> dict:
    status = status or getattr(target, "status", None) or selectors.target_status(target=target)
    return {
        "name": target.name,
        "type": target.type,
        "description": target.description,
        "tags": target.tags,
        "vm_size": target.vm_size,
        "docker_host": target.docker_host,
        "min_nodes": target.min_nodes,
        "max_nodes": target.max_nodes,
        "idle_seconds_before_scaledown": target.idle_seconds_before_scaledown,
        "provisioning_state": target.provisioning_state,
        "provisioning_errors": target.provisioning_errors,
        "queue": target.queue,
        "created_by": target.created_by.get_username() if target.created_by else None,
        "created_at": target.created_at,
        "modified_at": target.modified_at,
        "status": status.as_dict(),
    }


def node_out(node: Node, target_name: str) -> dict:
    return {
        "name": node.name,
        "hostname": node.hostname,
        "target": target_name,
        "state": node.state,
        "slots": node.slots,
        "processes": node.concurrency,
        "busy_slots": max(node.busy_slots, 0),
        "cpu_count": node.cpu_count,
        "gpu_count": node.gpu_count,
        "memory_bytes": node.memory_bytes,
        "version": node.version,
        "problem": node.problem,
        "started_at": node.started_at,
        "heartbeat_at": node.heartbeat_at,
    }


@router.get("/workspaces/{ws}/compute", response=list[TargetOut])
def target_list(request, ws: str):
    return [
        target_out(t) for t in selectors.targets_with_status(workspace=workspace_for(request, ws))
    ]


@router.post("/workspaces/{ws}/compute", response={201: TargetOut})
def target_create(request, ws: str, payload: TargetIn):
    workspace = workspace_for(request, ws, Role.CONTRIBUTOR)
    target = services.target_create(workspace=workspace, user=request.user, **payload.dict())
    return Status(201, target_out(target))


@router.get("/workspaces/{ws}/compute/{name}", response=TargetOut)
def target_detail(request, ws: str, name: str):
    return target_out(selectors.target_get(workspace=workspace_for(request, ws), name=name))


class ScaleIn(Schema):
    min_nodes: int | None = None
    max_nodes: int | None = None
    idle_seconds_before_scaledown: int | None = None


@router.patch("/workspaces/{ws}/compute/{name}", response=TargetOut)
def target_update(request, ws: str, name: str, payload: ScaleIn):
    workspace = workspace_for(request, ws, Role.CONTRIBUTOR)
    target = selectors.target_get(workspace=workspace, name=name)
    services.target_update(target=target, **payload.dict())
    return target_out(selectors.target_get(workspace=workspace, name=name))


@router.delete("/workspaces/{ws}/compute/{name}", response={204: None})
def target_delete(request, ws: str, name: str):
    workspace = workspace_for(request, ws, Role.CONTRIBUTOR)
    services.target_delete(target=selectors.target_get(workspace=workspace, name=name))
    return Status(204, None)


@router.get("/workspaces/{ws}/compute/{name}/status", response=TargetStatus)
def target_status(request, ws: str, name: str):
    target = selectors.target_get(workspace=workspace_for(request, ws), name=name)
    return selectors.target_status(target=target).as_dict()


@router.get("/workspaces/{ws}/compute/{name}/nodes", response=list[NodeOut])
def target_nodes(request, ws: str, name: str):
    target = selectors.target_get(workspace=workspace_for(request, ws), name=name)
    return [node_out(n, target.name) for n in selectors.target_nodes(target=target)]


@router.get("/workspaces/{ws}/nodes", response=list[NodeOut])
def workspace_nodes(request, ws: str):
    """Every node serving one of the workspace's targets, online ones first."""
    nodes = selectors.workspace_nodes(workspace=workspace_for(request, ws))
    return [node_out(n, n.target_name) for n in nodes]
