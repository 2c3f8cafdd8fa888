"""Multi-node runs: a PyTorch job spread over `node_count` nodes of a cluster target.

The node that takes the run's task is rank 0, the leader. It holds one of the target's slots
per node, picks other online nodes of the target, publishes its own address and a port for
rendezvous in RunNode rows, and sends each node one task on that node's own Celery queue
(worker_direct), so every rank runs on a distinct node. The run turns Running only when every
node has started its processes. A node that fails or goes offline fails the whole run; the
leader's end, a cancel or a failure reaches the others through the run's status, which every
node watches.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from celery.utils.nodenames import worker_direct
from django.conf import settings

from compute.selectors import nodes_online
from runs.models import Run, RunNode, RunStatus
from runs.services import run_detail_set

POLL_SECONDS = 0.5


def node_address() -> str:
    """The address other nodes reach this one at: MLSTUDIO_NODE_ADDRESS, else the address this
    machine uses towards the broker (loopback when the broker is on this machine)."""
    if settings.MLSTUDIO_NODE_ADDRESS:
        return settings.MLSTUDIO_NODE_ADDRESS
    broker = urlsplit(settings.REDIS_URL)
    host = broker.hostname
    if not host or broker.scheme == "unix" or host in ("localhost", "127.0.0.1", "::1"):
        return "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, broker.port or 6379))  # no packet is sent
            return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def dispatch(execution) -> bool:
    """Find the other nodes and send each its rank; False if the run was canceled while it
    waited for enough nodes."""
    from runs.tasks import run_execute_node

    run = execution.run
    queue = run.definition["queue"]
    wanted = execution.nodes - 1
    told = None
    while True:
        others = list(
            nodes_online()
            .filter(target_queue=queue)
            .exclude(name=execution.worker)
            .order_by("busy_slots", "name")
            .values_list("name", flat=True)[:wanted]
        )
        if len(others) == wanted:
            break
        if not Run.objects.filter(pk=run.pk, status=RunStatus.PREPARING).exists():
            return False
        if told != len(others):
            told = len(others)
            target = run.definition["compute_target"]
            detail = (f"waiting for {wanted - len(others)} more node(s) of target {target!r} "
                      f"for a {execution.nodes}-node job")  # fmt: skip
            execution.say("W" + detail[1:])
            run_detail_set(run_id=run.pk, status=RunStatus.PREPARING, detail=detail)
        time.sleep(1.0)
    address = node_address()
    with socket.socket() as probe:  # a free port on this node for the rendezvous
        probe.bind(("", 0))
        port = probe.getsockname()[1]
    execution.master = (address, port)
    RunNode.objects.filter(run=run).delete()  # a redelivered leader starts afresh
    RunNode.objects.create(run=run, rank=0, node=execution.worker, address=address)
    for rank, name in enumerate(others, start=1):
        RunNode.objects.create(run=run, rank=rank, node=name)
        run_execute_node.apply_async(args=[run.pk, rank, address, port], queue=worker_direct(name))
    execution.say(f"Multi-node job: rank 0 on {execution.worker} at {address}:{port}; "
                  + ", ".join(f"rank {r} on {n}" for r, n in enumerate(others, 1)))  # fmt: skip
    return True


def node_started(execution) -> None:
    RunNode.objects.filter(run_id=execution.run.pk, rank=execution.node_rank).update(
        state=RunNode.State.STARTED, address=execution.master[0]
    )


def node_finished(execution, exit_code: int | None) -> None:
    RunNode.objects.filter(run_id=execution.run.pk, rank=execution.node_rank).update(
        state=RunNode.State.FINISHED, exit_code=exit_code
    )


def check_nodes(execution) -> bool:
    """The leader's look at the other nodes, as its run goes on: Running once all started;
    a failed or vanished node fails the run (False)."""
    rows = list(RunNode.objects.filter(run_id=execution.run.pk))
    online = set(nodes_online().values_list("name", flat=True))
    for row in rows:
        if row.rank == 0:
            continue
        problem = None
        if row.state == RunNode.State.FINISHED and row.exit_code != 0:
            problem = f"Node rank {row.rank} ({row.node}) failed with exit code {row.exit_code}"
        elif row.state != RunNode.State.FINISHED and row.node not in online:
            problem = f"Node rank {row.rank} ({row.node}) went offline"
        if problem:
            message = f"{problem}; the run fails and its other nodes are stopped."
            execution.say(message)
            execution.stop_reason = (RunStatus.FAILED, message)
            execution.kill_tree()
            return False
    if execution.run.status == RunStatus.STARTING and all(
        row.state != RunNode.State.DISPATCHED for row in rows
    ):
        execution.say(f"All {len(rows)} nodes started")
        execution.move(RunStatus.RUNNING)
    return True


def wait_for_nodes(execution) -> None:
    """After the leader's own processes ended, wait for the other nodes to finish theirs."""
    node_finished(execution, execution.process.returncode if execution.process else None)
    if execution.stop_reason is not None or (execution.process and execution.process.returncode):
        return  # failing or canceled: the run's status stops the others
    while True:
        rows = list(RunNode.objects.filter(run_id=execution.run.pk))
        if all(row.state == RunNode.State.FINISHED for row in rows):
            check_nodes(execution)  # a non-zero exit among them fails the run
            return
        status = Run.objects.filter(pk=execution.run.pk).values_list("status", flat=True).first()
        if status == RunStatus.CANCEL_REQUESTED:
            execution.check_cancel_and_timeout(float("inf"))
            return
        if not check_nodes(execution):
            return
        time.sleep(POLL_SECONDS)
