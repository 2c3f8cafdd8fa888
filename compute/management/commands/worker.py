import os
import socket

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from compute.autoscale import SCALEDOWN_ENV
from compute.models import ComputeTarget, Node, TargetType
from compute.queues import LOCAL_TARGET, QUEUE_PREFIX
from compute.selectors import NodeState, node_state, target_get
from compute.worker import cpu_count
from mlstudio.errors import NotFound
from workspaces.models import Workspace


class Command(BaseCommand):
    help = (
        "Start a worker node for a compute target on this machine: a Celery worker consuming the "
        "target's queue. Any machine that reaches the studio's broker, database and file store "
        "can run one (see README, 'Scaling out to more machines')."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--target", required=True, help="Compute target name, e.g. cpu-cluster."
        )
        parser.add_argument(
            "--workspace", help="The target's workspace; needed when several have one that name."
        )
        parser.add_argument(
            "--slots",
            type=int,
            help="Runs this node executes at once. Default: max_nodes for a cluster or docker "
            "target, the CPU count for local. Never more than max_nodes.",
        )
        parser.add_argument(
            "--autoscale",
            action="store_true",
            help="Cluster targets: keep min_nodes processes, grow up to the slots when runs wait, "
            "shrink back after idle_seconds_before_scaledown.",
        )
        parser.add_argument(
            "--name", help="Celery node name. Default: <workspace>.<target>@<host>."
        )
        parser.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args, target, workspace, slots, autoscale, name, pool, loglevel, **options):
        found = resolve_target(target, workspace)
        queue = found.queue
        capacity = self.capacity(found, slots, autoscale)
        node_name = name or f"{queue[len(QUEUE_PREFIX) :]}@{socket.gethostname()}"
        refuse_duplicate(node_name)
        if found.type == TargetType.DOCKER:
            os.environ["DOCKER_HOST"] = found.docker_host
        if autoscale:
            os.environ[SCALEDOWN_ENV] = str(found.idle_seconds_before_scaledown)
        where = "every workspace" if found.is_local else f"workspace {found.workspace.name!r}"
        self.stdout.write(
            f"Node {node_name}: compute target {found.name!r} of {where}, queue {queue}, "
            f"{capacity[-1]}."
        )
        connections.close_all()  # the pool processes open their own
        from mlstudio.celery import app

        app.worker_main(
            ["worker", "-Q", queue, "-n", node_name, "--pool", pool, "--loglevel", loglevel,
             "--without-mingle", "--without-gossip", *capacity[:-1]]
        )  # fmt: skip

    def capacity(self, target: ComputeTarget, slots: int | None, autoscale: bool) -> list[str]:
        """Celery's concurrency options, then a description of them."""
        if slots is not None and slots < 1:
            raise CommandError("--slots must be at least 1.")
        if autoscale and target.type != TargetType.CLUSTER:
            raise CommandError(
                f"--autoscale is for cluster targets; {target.name!r} is a {target.type} target."
            )
        limit = target.max_nodes
        wanted = slots or limit or cpu_count()
        if limit is not None and wanted > limit:
            self.stderr.write(
                f"Compute target {target.name!r} has max_nodes {limit}: this node runs at most "
                f"{limit} runs at once, not {wanted}."
            )
            wanted = limit
        if autoscale:
            low = min(target.min_nodes, wanted)
            return ["--autoscale", f"{wanted},{low}", f"{low} to {wanted} slots (autoscaling)"]
        return ["--concurrency", str(wanted), f"{wanted} slot{'s' if wanted > 1 else ''}"]


def resolve_target(name: str, workspace_name: str | None) -> ComputeTarget:
    """The target a node is started for, or a CommandError that says what exists."""
    if workspace_name:
        workspace = Workspace.objects.filter(name=workspace_name).first()
        if workspace is None:
            raise CommandError(f"No workspace named {workspace_name!r}; check --workspace.")
        try:
            return target_get(workspace=workspace, name=name)
        except NotFound as exc:
            raise CommandError(exc.message) from None
    if name == LOCAL_TARGET:
        # One queue and one kind of node for every workspace's local target.
        return ComputeTarget(name=LOCAL_TARGET, type=TargetType.LOCAL)
    matches = list(ComputeTarget.objects.filter(name=name).select_related("workspace"))
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(sorted(t.workspace.name for t in matches))
        raise CommandError(
            f"Compute target {name!r} exists in workspaces {names}; pass --workspace."
        )
    known = ComputeTarget.objects.exclude(name=LOCAL_TARGET).select_related("workspace")
    listing = ", ".join(f"{t.workspace.name}/{t.name}" for t in known) or "none besides local"
    raise CommandError(
        f"ComputeTargetNotFound: Unknown compute target {name!r}: no workspace has one. Known "
        f"targets: {listing}. Register it first (ComputeTarget.create or the Compute page)."
    )


def refuse_duplicate(node_name: str) -> None:
    """Two live workers under one name would overwrite each other's heartbeats."""
    node = Node.objects.filter(name=node_name).first()
    if node is None or node_state(node) == NodeState.OFFLINE or not _alive(node):
        return
    raise CommandError(
        f"A node named {node_name!r} is already online (pid {node.pid} on {node.hostname}). "
        "Stop it, or give this one another --name."
    )


def _alive(node: Node) -> bool:
    if node.hostname != socket.gethostname():
        return True
    try:
        os.kill(node.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
