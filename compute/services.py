"""Writes for compute targets, worker nodes and run slots. The API, the studio page, the SDK
and the worker command all call these."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import metadata
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from compute.models import (
    DEFAULT_DOCKER_HOST,
    ComputeTarget,
    Node,
    ProvisioningState,
    SlotLease,
    TargetType,
)
from compute.queues import LOCAL_TARGET, QUEUE_PREFIX
from compute.selectors import nodes_online
from compute.signals import target_in_use
from mlstudio.errors import Conflict, Forbidden, UserError
from workspaces.models import Workspace

try:
    VERSION = metadata.version("mlstudio")
except metadata.PackageNotFoundError:  # a source checkout that was never installed
    VERSION = "0+unknown"

TARGET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]")
DOCKER_SCHEMES = ("unix", "tcp", "http", "https", "ssh", "npipe")
DEFAULT_MAX_NODES = 4
MAX_NODES_LIMIT = 1000
MAX_IDLE_SECONDS = 30 * 24 * 3600
DOCKER_PING_SECONDS = 3

# --- targets ---------------------------------------------------------------------------------


def target_local_ensure(*, workspace: Workspace) -> ComputeTarget:
    """Every workspace has `local`: runs that name no target go there."""
    target, _ = ComputeTarget.objects.get_or_create(
        workspace=workspace,
        name=LOCAL_TARGET,
        defaults={"type": TargetType.LOCAL, "description": "Worker nodes of the studio itself."},
    )
    return target


def target_create(
    *, workspace: Workspace, user, name: str, type: str, vm_size: str = "", min_nodes: int = 0,
    max_nodes: int | None = None, idle_seconds_before_scaledown: int | None = None,
    docker_host: str = "", description: str = "", tags: dict | None = None,
) -> ComputeTarget:  # fmt: skip
    """Register a docker or cluster target; refuse bad values before anything is stored."""
    _check_name(name)
    if type not in (TargetType.DOCKER, TargetType.CLUSTER):
        raise UserError(
            f"Unknown compute target type {type!r}; use 'cluster' (a pool of worker nodes) or "
            "'docker' (containers on a Docker engine). 'local' exists in every workspace."
        )
    fields = {
        "type": type,
        "description": str(description or "")[:1000],
        "tags": {str(k): str(v) for k, v in (tags or {}).items()},
        "max_nodes": _whole(max_nodes, "max_nodes", DEFAULT_MAX_NODES, 1, MAX_NODES_LIMIT),
    }
    if type == TargetType.CLUSTER:
        fields["vm_size"] = str(vm_size or "")[:100]
        fields["min_nodes"] = _whole(min_nodes, "min_nodes", 0, 0, fields["max_nodes"])
        fields["idle_seconds_before_scaledown"] = _whole(
            idle_seconds_before_scaledown,
            "idle_seconds_before_scaledown",
            1800,
            1,
            MAX_IDLE_SECONDS,
        )
    else:
        fields["docker_host"] = _docker_host(docker_host)
    try:
        with transaction.atomic():
            target = ComputeTarget.objects.create(
                workspace=workspace, name=name, created_by=user, **fields
            )
    except IntegrityError:
        raise Conflict(
            f"A compute target named {name!r} already exists in workspace {workspace.name!r}; "
            "choose another name, or get it with ComputeTarget(ws, name)."
        ) from None
    if type == TargetType.DOCKER:
        docker_engine_check(target=target)
    return target


def target_update(*, target: ComputeTarget, min_nodes: int | None = None,
                  max_nodes: int | None = None,
                  idle_seconds_before_scaledown: int | None = None) -> ComputeTarget:  # fmt: skip
    """v1's AmlCompute.update(): change a cluster's scale settings; None keeps a value."""
    if target.type != TargetType.CLUSTER:
        raise UserError(
            f"Compute target {target.name!r} is a {target.type} target; only cluster targets "
            "have scale settings to update."
        )
    maximum = _whole(max_nodes, "max_nodes", target.max_nodes or DEFAULT_MAX_NODES, 1,
                     MAX_NODES_LIMIT)  # fmt: skip
    minimum = _whole(min_nodes, "min_nodes", min(target.min_nodes, maximum), 0, maximum)
    idle = _whole(idle_seconds_before_scaledown, "idle_seconds_before_scaledown",
                  target.idle_seconds_before_scaledown, 1, MAX_IDLE_SECONDS)  # fmt: skip
    target.max_nodes, target.min_nodes, target.idle_seconds_before_scaledown = (
        maximum, minimum, idle,
    )  # fmt: skip
    target.save(update_fields=["max_nodes", "min_nodes", "idle_seconds_before_scaledown",
                               "modified_at"])  # fmt: skip
    return target


def _check_name(name) -> None:
    if not isinstance(name, str) or not TARGET_NAME.fullmatch(name):
        raise UserError(
            f"Invalid compute target name {name!r}: use 2 to 16 letters, digits and '-', "
            "starting with a letter and not ending with '-' (e.g. 'cpu-cluster')."
        )
    if name == LOCAL_TARGET:
        raise Conflict(
            "Compute target 'local' exists in every workspace and cannot be created; "
            "choose another name."
        )


def _whole(value, what: str, default: int, low: int, high: int) -> int:
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"{what} must be a whole number from {low} to {high}, not {value!r}.")
    return value


def _docker_host(url: str) -> str:
    url = (url or "").strip() or DEFAULT_DOCKER_HOST
    parts = urlsplit(url)
    if parts.scheme not in DOCKER_SCHEMES or not (parts.netloc or parts.path):
        raise UserError(
            f"docker_host {url!r} is not a Docker Engine address; use e.g. "
            f"{DEFAULT_DOCKER_HOST}, tcp://build-box:2376 or ssh://user@build-box."
        )
    return url


def target_delete(*, target: ComputeTarget) -> None:
    """Delete a target nothing runs on. Its nodes stop by themselves at their next heartbeat."""
    if target.is_local:
        raise Forbidden(
            "The local compute target cannot be deleted: runs that name no target go there."
        )
    users: list[str] = []
    for _, answer in target_in_use.send(sender=ComputeTarget, target=target):
        users += [str(run_id) for run_id in answer or ()]
    online = nodes_online().values_list("name", flat=True)
    users += SlotLease.objects.filter(target=target, node__in=online).values_list(
        "holder", flat=True
    )
    users = list(dict.fromkeys(users))
    if users:
        shown = ", ".join(users[:5]) + (" …" if len(users) > 5 else "")
        raise Conflict(
            f"Compute target {target.name!r} has {len(users)} active run"
            f"{'s' if len(users) > 1 else ''} ({shown}). Cancel them or wait for them to "
            "finish, then delete it."
        )
    target.delete()


def docker_engine_check(*, target: ComputeTarget) -> str:
    """Ping the target's Docker engine; record and return the problem ('' when it answers)."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.DockerClient(base_url=target.docker_host, timeout=DOCKER_PING_SECONDS)
        try:
            client.ping()
        finally:
            client.close()
        problem = ""
    except (DockerException, OSError) as exc:
        problem = (
            f"Docker engine at {target.docker_host} is unreachable ({exc}). Start it, or delete "
            "this target and register it with the right docker_host."
        )
    state = ProvisioningState.FAILED if problem else ProvisioningState.SUCCEEDED
    errors = [problem] if problem else []
    if (target.provisioning_state, target.provisioning_errors) != (state, errors):
        ComputeTarget.objects.filter(pk=target.pk).update(
            provisioning_state=state, provisioning_errors=errors, modified_at=timezone.now()
        )
        target.provisioning_state, target.provisioning_errors = state, errors
    return problem


# --- nodes -----------------------------------------------------------------------------------


def node_heartbeat(
    *,
    name: str,
    queues: list[str],
    pid: int,
    concurrency: int,
    slots: int | None = None,
    busy_slots: int = 0,
    cpu_count: int = 0,
    gpu_count: int = 0,
    memory_bytes: int = 0,
    problem: str = "",
) -> Node:
    now = timezone.now()
    facts = {
        "hostname": socket.gethostname(),
        "queues": ",".join(sorted(queues)),
        "target_queue": next((q for q in sorted(queues) if q.startswith(QUEUE_PREFIX)), ""),
        "pid": pid,
        "concurrency": concurrency,
        "slots": slots if slots is not None else concurrency,
        "busy_slots": busy_slots,
        "cpu_count": cpu_count,
        "gpu_count": gpu_count,
        "memory_bytes": memory_bytes,
        "problem": problem[:1000],
        "version": VERSION[:32],
        "heartbeat_at": now,
    }
    node, _ = Node.objects.update_or_create(
        name=name, defaults=facts, create_defaults={**facts, "started_at": now}
    )
    return node


def node_busy_change(*, name: str, delta: int) -> None:
    """Count a run starting (+1) or ending (-1) on the node at once; heartbeats recount."""
    Node.objects.filter(name=name).update(busy_slots=Greatest(F("busy_slots") + delta, 0))


def node_stop(*, name: str) -> None:
    Node.objects.filter(name=name).delete()


def nodes_forget(*, offline_for: timedelta) -> int:
    """Delete nodes silent for that long: killed nodes that never came back."""
    deleted, _ = Node.objects.filter(heartbeat_at__lt=timezone.now() - offline_for).delete()
    return deleted


# --- run slots: max_nodes across every node of a target --------------------------------------


def slot_claim(*, target: ComputeTarget, holder: str, node: str, requested_at: datetime) -> bool:
    """Take one of the target's max_nodes run slots for `holder` (a run id), first come first
    served among the runs that wait on a node; True once it holds one.

    Claims of nodes that stopped heartbeating are void, so a killed node frees its slots.
    Local targets have no max_nodes: their nodes' own slots are the limit.
    """
    if target.max_nodes is None:
        return True
    live = [*nodes_online().values_list("name", flat=True), node]
    with transaction.atomic():
        target = ComputeTarget.objects.select_for_update().get(pk=target.pk)
        SlotLease.objects.filter(target=target).exclude(node__in=live).delete()
        lease = SlotLease.objects.filter(holder=holder).first()
        if lease is None:
            lease = SlotLease.objects.create(
                target=target, holder=holder, node=node, requested_at=requested_at
            )
        elif lease.node != node or lease.target_id != target.pk:
            lease.node, lease.target = node, target
            lease.save(update_fields=["node", "target"])
        if lease.granted_at is not None:
            return True
        leases = SlotLease.objects.filter(target=target)
        held = leases.filter(granted_at__isnull=False).count()
        earlier = leases.filter(granted_at__isnull=True).filter(
            Q(requested_at__lt=lease.requested_at)
            | Q(requested_at=lease.requested_at, holder__lt=lease.holder)
        )
        if held + earlier.count() >= target.max_nodes:
            return False
        lease.granted_at = timezone.now()
        lease.save(update_fields=["granted_at"])
        return True


def slot_wait(
    *,
    target: ComputeTarget,
    holder: str,
    node: str,
    requested_at: datetime,
    still_wanted: Callable[[], bool],
    on_wait: Callable[[int], None] | None = None,
    poll_seconds: float = 1.0,
) -> bool:
    """Block until `holder` holds a slot (True), or until `still_wanted()` turns False, e.g.
    the run was canceled while it waited (False; the claim is withdrawn). `on_wait(ahead)` is
    told how many runs wait before this one whenever that number changes."""
    told = None
    while not slot_claim(target=target, holder=holder, node=node, requested_at=requested_at):
        if not still_wanted():
            slot_release(holder=holder)
            return False
        ahead = slot_waiting_ahead(holder=holder)
        if on_wait is not None and ahead != told:
            on_wait(ahead)
            told = ahead
        time.sleep(poll_seconds)
    return True


def slot_waiting_ahead(*, holder: str) -> int:
    lease = SlotLease.objects.filter(holder=holder).first()
    if lease is None:
        return 0
    return SlotLease.objects.filter(
        Q(requested_at__lt=lease.requested_at)
        | Q(requested_at=lease.requested_at, holder__lt=lease.holder),
        target_id=lease.target_id,
        granted_at__isnull=True,
    ).count()


def slot_release(*, holder: str) -> None:
    SlotLease.objects.filter(holder=holder).delete()
