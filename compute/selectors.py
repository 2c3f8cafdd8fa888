"""Reads for compute targets and their nodes: lookups, node states, target status, queue waits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from compute.models import ComputeTarget, Node, SlotLease
from compute.queues import LOCAL_TARGET, parse_target_queue
from mlstudio.errors import NotFound, UserError
from workspaces.models import Workspace


class NodeState:
    IDLE = "idle"
    BUSY = "busy"
    UNUSABLE = "unusable"
    OFFLINE = "offline"


def _fresh_after() -> datetime:
    return timezone.now() - timedelta(seconds=settings.MLSTUDIO_NODE_OFFLINE_SECONDS)


def nodes_online() -> QuerySet[Node]:
    return Node.objects.filter(heartbeat_at__gte=_fresh_after())


def node_state(node: Node, *, fresh_after: datetime | None = None) -> str:
    """Offline once its heartbeat is older than MLSTUDIO_NODE_OFFLINE_SECONDS; unusable while it
    reports a problem (an unreachable Docker engine); else busy while it executes a run."""
    if node.heartbeat_at < (fresh_after or _fresh_after()):
        return NodeState.OFFLINE
    if node.problem:
        return NodeState.UNUSABLE
    return NodeState.BUSY if node.busy_slots > 0 else NodeState.IDLE


# --- targets ---------------------------------------------------------------------------------


def target_list(*, workspace: Workspace) -> QuerySet[ComputeTarget]:
    """The workspace's targets, `local` first."""
    local_first = Case(
        When(name=LOCAL_TARGET, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        ComputeTarget.objects.filter(workspace=workspace)
        .select_related("workspace", "created_by")
        .annotate(local_first=local_first)
        .order_by("local_first", "name")
    )


def target_get(*, workspace: Workspace, name: str) -> ComputeTarget:
    target = (
        ComputeTarget.objects.filter(workspace=workspace, name=name)
        .select_related("workspace", "created_by")
        .first()
    )
    if target is None:
        available = ", ".join(t.name for t in target_list(workspace=workspace))
        raise NotFound(
            f"ComputeTargetNotFound: Unknown compute target {name!r} in workspace "
            f"{workspace.name!r}. Available: {available}. Register it with "
            "ComputeTarget.create(ws, name, config) or on the Compute page."
        )
    return target


def target_for_run(*, workspace: Workspace, name: str | None, node_count: int = 1) -> ComputeTarget:
    """The target a run submitted to `name` (default `local`) goes to, or the reason it can't."""
    target = target_get(workspace=workspace, name=name or LOCAL_TARGET)
    if target.max_nodes is not None and node_count > target.max_nodes:
        raise UserError(
            f"node_count {node_count} is more than compute target {target.name!r} has: "
            f"max_nodes is {target.max_nodes}. Lower node_count or raise max_nodes."
        )
    return target


def target_queue_for(*, workspace: Workspace, name: str | None, node_count: int = 1) -> str:
    """The Celery queue of the run's target; raises NotFound/UserError like target_for_run."""
    return target_for_run(workspace=workspace, name=name, node_count=node_count).queue


def target_of_queue(queue: str) -> ComputeTarget | None:
    """The target a node for `queue` serves; for `local`, any workspace's (all are alike)."""
    parsed = parse_target_queue(queue)
    if parsed is None:
        return None
    workspace, name = parsed
    targets = ComputeTarget.objects.filter(name=name).select_related("workspace")
    if workspace is not None:
        targets = targets.filter(workspace__name=workspace)
    return targets.first()


# --- nodes and status ------------------------------------------------------------------------


@dataclass
class NodeStateCounts:
    idle_node_count: int = 0
    running_node_count: int = 0
    preparing_node_count: int = 0
    unusable_node_count: int = 0
    leaving_node_count: int = 0
    preempted_node_count: int = 0


@dataclass
class TargetStatus:
    """azureml's AmlComputeStatus for any target. A "node" there is what runs one job, so
    here counts are run slots: current_node_count is the processes the target's online nodes
    have now (capped at max_nodes), running those executing a run. Nodes register only once
    ready, so none is ever counted as preparing."""

    current_node_count: int
    target_node_count: int
    node_state_counts: NodeStateCounts
    allocation_state: str
    provisioning_state: str
    errors: list[str]
    min_nodes: int
    max_nodes: int | None
    idle_seconds_before_scaledown: int
    vm_size: str
    vm_priority: str
    creation_time: datetime
    modified_time: datetime
    nodes_online: int = 0
    nodes_offline: int = 0
    waiting_runs: int = 0
    hints: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def target_nodes(*, target: ComputeTarget) -> list[Node]:
    """The target's nodes, each with `.state`; online ones first."""
    return _with_states(Node.objects.filter(target_queue=target.queue))


def workspace_nodes(*, workspace: Workspace) -> list[Node]:
    """Every node serving one of the workspace's targets (local nodes serve all workspaces),
    each with `.state` and `.target_name`."""
    queues = {t.queue: t.name for t in target_list(workspace=workspace)}
    nodes = _with_states(Node.objects.filter(target_queue__in=queues))
    for node in nodes:
        node.target_name = queues[node.target_queue]
    return nodes


def _with_states(nodes: QuerySet[Node]) -> list[Node]:
    fresh_after = _fresh_after()
    found = list(nodes)
    for node in found:
        node.state = node_state(node, fresh_after=fresh_after)
    found.sort(key=lambda n: (n.state == NodeState.OFFLINE, n.name))
    return found


def target_status(*, target: ComputeTarget, nodes: list[Node] | None = None) -> TargetStatus:
    nodes = target_nodes(target=target) if nodes is None else nodes
    usable = [n for n in nodes if n.state in (NodeState.IDLE, NodeState.BUSY)]
    current = sum(n.concurrency for n in usable)
    if target.max_nodes is not None:
        current = min(current, target.max_nodes)
    running = min(current, sum(max(n.busy_slots, 0) for n in usable))
    unusable = sum(
        n.slots if n.state == NodeState.OFFLINE else n.concurrency
        for n in nodes
        if n.state in (NodeState.OFFLINE, NodeState.UNUSABLE)
    )
    waiting = SlotLease.objects.filter(
        target=target, granted_at__isnull=True, node__in=[n.name for n in usable]
    ).count()
    wanted = max(target.min_nodes, running + waiting)
    if target.max_nodes is not None:
        wanted = min(wanted, target.max_nodes)
    problems = [n.problem for n in nodes if n.state == NodeState.UNUSABLE]
    return TargetStatus(
        current_node_count=current,
        target_node_count=max(wanted, current),
        node_state_counts=NodeStateCounts(
            idle_node_count=current - running,
            running_node_count=running,
            unusable_node_count=unusable,
        ),
        allocation_state="Steady" if wanted <= current else "Resizing",
        provisioning_state=target.provisioning_state,
        errors=list(dict.fromkeys([*target.provisioning_errors, *problems])),
        min_nodes=target.min_nodes,
        max_nodes=target.max_nodes,
        idle_seconds_before_scaledown=target.idle_seconds_before_scaledown,
        vm_size=target.vm_size,
        vm_priority="dedicated",
        creation_time=target.created_at,
        modified_time=target.modified_at,
        nodes_online=sum(1 for n in nodes if n.state != NodeState.OFFLINE),
        nodes_offline=sum(1 for n in nodes if n.state == NodeState.OFFLINE),
        waiting_runs=waiting,
        hints=[] if usable else [_start_a_node_hint(target)],
    )


def targets_with_status(*, workspace: Workspace) -> list[ComputeTarget]:
    """The workspace's targets, each with `.status` and `.nodes`, reading the nodes once."""
    targets = list(target_list(workspace=workspace))
    by_queue = defaultdict(list)
    for node in _with_states(Node.objects.filter(target_queue__in={t.queue for t in targets})):
        by_queue[node.target_queue].append(node)
    for target in targets:
        target.nodes = by_queue[target.queue]
        target.status = target_status(target=target, nodes=target.nodes)
    return targets


def _start_a_node_hint(target: ComputeTarget) -> str:
    where = "" if target.is_local else f" --workspace {target.workspace.name}"
    return (
        f"No node of compute target {target.name!r} is online. `python manage.py studio` runs "
        f"one, or start one on any machine: python manage.py worker --target {target.name}{where}"
    )


# --- queue position --------------------------------------------------------------------------


def queue_wait_detail(*, target: ComputeTarget | None, ahead: int, target_name: str = "") -> str:
    """What a queued run waits for, e.g. "waiting for a free node (3 ahead)"."""
    online = target is not None and nodes_online().filter(target_queue=target.queue).exists()
    return _wait_detail(target, ahead, online=online, target_name=target_name)


def queued_details(*, queued: Iterable[tuple[str, int, str]]) -> dict[str, str]:
    """The wait detail of each queued run. `queued` holds (run id, workspace id, target name)
    of every run still waiting to start, oldest first; order is first in, first out per
    target queue (local is one queue for all workspaces)."""
    online = set(nodes_online().values_list("target_queue", flat=True))
    targets: dict[tuple[int, str], ComputeTarget | None] = {}
    ahead: dict[str, int] = defaultdict(int)
    details = {}
    for run_id, workspace_id, name in queued:
        name = name or LOCAL_TARGET
        key = (workspace_id, name)
        if key not in targets:
            targets[key] = (
                ComputeTarget.objects.filter(workspace_id=workspace_id, name=name)
                .select_related("workspace")
                .first()
            )
        target = targets[key]
        queue = target.queue if target is not None else f"missing:{workspace_id}:{name}"
        details[run_id] = _wait_detail(
            target, ahead[queue], online=queue in online, target_name=name
        )
        ahead[queue] += 1
    return details


def _wait_detail(
    target: ComputeTarget | None, ahead: int, *, online: bool, target_name: str
) -> str:
    if target is None:
        return (
            f"waiting: compute target {target_name!r} no longer exists; cancel the run and "
            "submit it to another target"
        )
    if not online:
        hint = _start_a_node_hint(target)
        return f"waiting for a node: {hint[0].lower()}{hint[1:]}"
    return f"waiting for a free node ({ahead} ahead)"
