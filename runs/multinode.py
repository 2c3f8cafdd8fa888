"""Multi-node runs: a PyTorch job spread over `node_count` nodes of a cluster target.

The node that takes the run's task is rank 0, the leader. It holds one of the target's slots
per node, picks other online nodes of the target, publishes its own address and a port for
rendezvous in RunNode rows, and sends each node one task on that node's own Celery queue
(worker_direct), so every rank runs on a distinct node. The run turns Running only when every
node has started its processes. A node that fails or goes offline fails the whole run; the
leader's end, a cancel or a failure reaches the others through the run's status, which every
node watches.

The executor's lifecycle calls a role: `Leader` on rank 0, `Follower` on the others. The
functions here look and decide; the roles act through the lifecycle.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from compute.selectors import nodes_online
from runs import queueing
from runs.execution_services import (
    run_node_finished,
    run_node_started,
    run_nodes_dispatch,
    run_status_of,
)
from runs.models import FINAL_STATUSES, Run, RunNode, RunStatus
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


@dataclass(frozen=True)
class NodesCheck:
    """The leader's look at the other nodes: a problem fails the run."""

    problem: str | None = None
    all_started: bool = False
    all_finished: bool = False


def nodes_check(run_id: str) -> NodesCheck:
    rows = list(RunNode.objects.filter(run_id=run_id))
    online = set(nodes_online().values_list("name", flat=True))
    for row in rows:
        if row.rank == 0:
            continue
        if row.state == RunNode.State.FINISHED and row.exit_code != 0:
            problem = f"Node rank {row.rank} ({row.node}) failed with exit code {row.exit_code}"
            return NodesCheck(problem=f"{problem}; the run fails and its other nodes are stopped.")
        if row.state != RunNode.State.FINISHED and row.node not in online:
            problem = f"Node rank {row.rank} ({row.node}) went offline"
            return NodesCheck(problem=f"{problem}; the run fails and its other nodes are stopped.")
    return NodesCheck(
        all_started=all(row.state != RunNode.State.DISPATCHED for row in rows),
        all_finished=all(row.state == RunNode.State.FINISHED for row in rows),
    )


def other_nodes(*, queue: str, leader: str, wanted: int) -> list[str]:
    return list(
        nodes_online()
        .filter(target_queue=queue)
        .exclude(name=leader)
        .order_by("busy_slots", "name")
        .values_list("name", flat=True)[:wanted]
    )


class Leader:
    """Rank 0 of a multi-node run: it dispatches the others and owns the run's status."""

    rank = 0
    moves_status = True
    pumps_metrics = True
    workdir_suffix = ""
    log_names: dict[str, str] = {}

    def __init__(self, nodes: int):
        self.nodes = nodes
        self.master = ("127.0.0.1", 0)

    def begin(self, execution) -> bool:
        """Find the other nodes and send each its rank; False if the run was canceled while
        it waited for enough nodes."""
        run, definition = execution.run, execution.definition
        wanted = self.nodes - 1
        told = None
        while len(others := other_nodes(queue=definition.queue, leader=execution.worker,
                                        wanted=wanted)) < wanted:  # fmt: skip
            if not Run.objects.filter(pk=run.pk, status=RunStatus.PREPARING).exists():
                return False
            if told != len(others):
                told = len(others)
                detail = (f"waiting for {wanted - len(others)} more node(s) of target "
                          f"{definition.compute_target!r} for a {self.nodes}-node job")  # fmt: skip
                execution.say("W" + detail[1:])
                run_detail_set(run_id=run.pk, status=RunStatus.PREPARING, detail=detail)
            time.sleep(1.0)
        address = node_address()
        with socket.socket() as probe:  # a free port on this node for the rendezvous
            probe.bind(("", 0))
            self.master = (address, probe.getsockname()[1])
        run_nodes_dispatch(run=run, leader=execution.worker, address=address, others=others)
        for rank, name in enumerate(others, start=1):
            queueing.send_run_execute_node(run_id=run.pk, rank=rank, master=self.master, node=name)
        ranks = ", ".join(f"rank {r} on {n}" for r, n in enumerate(others, 1))
        execution.say(f"Multi-node job: rank 0 on {execution.worker} at {address}:"
                      f"{self.master[1]}; {ranks}")  # fmt: skip
        return True

    def started(self, execution) -> None:
        """Running once every node has started (see watch)."""
        run_node_started(run_id=execution.run.pk, rank=0, address=self.master[0])

    def watch(self, execution) -> None:
        execution.check_cancel_and_timeout()
        if execution.stop_reason is None:
            self.act_on(execution, nodes_check(execution.run.pk))

    def act_on(self, execution, check: NodesCheck) -> bool:
        if check.problem:
            execution.say(check.problem)
            execution.stop(RunStatus.FAILED, check.problem)
            return False
        if execution.run.status == RunStatus.STARTING and check.all_started:
            execution.say(f"All {self.nodes} nodes started")
            execution.move(RunStatus.RUNNING)
        return True

    def after(self, execution) -> None:
        """After the leader's own processes ended, wait for the other nodes to finish."""
        exit_code = execution.exit_code
        run_node_finished(run_id=execution.run.pk, rank=0, exit_code=exit_code)
        if execution.stop_reason is not None or exit_code:
            return  # failing or canceled: the run's status stops the others
        while True:
            check = nodes_check(execution.run.pk)
            if check.all_finished:
                self.act_on(execution, check)  # a non-zero exit among them fails the run
                return
            status = Run.objects.filter(pk=execution.run.pk).values_list("status", flat=True)
            if status.first() == RunStatus.CANCEL_REQUESTED:
                execution.check_cancel_and_timeout(deadline=float("inf"))
                return
            if not self.act_on(execution, check):
                return
            time.sleep(POLL_SECONDS)

    def fail(self, execution, message: str) -> None:
        execution.stop_reason = (RunStatus.FAILED, message)

    def finish(self, execution) -> None:
        execution.finalize()


class Follower:
    """A node other than the leader: its own working folder, its processes' logs, its own
    system log. It never changes the run's status; it records how its processes ended for
    the leader, and stops them when the run is canceled, failed or over."""

    moves_status = False
    pumps_metrics = False

    def __init__(self, *, rank: int, nodes: int, master: tuple[str, int]):
        self.rank = rank
        self.nodes = nodes
        self.master = master
        self.workdir_suffix = f"-node{rank}"
        self.log_names = {
            "system": f"system_logs/executor_node_{rank}.txt",
            "user": f"user_logs/std_log_node_{rank}.txt",  # untagged output only
        }
        self.failed = False

    def begin(self, execution) -> bool:
        execution.say(f"Node rank {self.rank} of {self.nodes} on {execution.worker}")
        return True

    def started(self, execution) -> None:
        run_node_started(run_id=execution.run.pk, rank=self.rank)

    def watch(self, execution) -> None:
        if not execution.heartbeat.left_active.is_set():
            return  # the run still executes
        status = (run_status_of(run_id=execution.run.pk) or (None,))[0]
        if status is None or status in FINAL_STATUSES or status == RunStatus.CANCEL_REQUESTED:
            execution.say(f"Stopping this node's processes: the run is {status or 'gone'}")
            execution.stop(RunStatus.CANCELED, f"The run is {status or 'gone'}")

    def after(self, execution) -> None:
        pass

    def fail(self, execution, message: str) -> None:
        self.failed = True

    def finish(self, execution) -> None:
        try:
            for folder in ("outputs", "logs"):
                try:
                    execution.outputs.sync(folder)
                except OSError as exc:
                    execution.say(f"Could not collect ./{folder}: {exc}")
            exit_code = execution.exit_code
            if self.failed and not exit_code:
                exit_code = 1
            execution.say(f"Exit code {exit_code}")
            run_node_finished(run_id=execution.run.pk, rank=self.rank, exit_code=exit_code)
        finally:
            execution.release()
