"""The part of a multi-node run that a node other than the leader executes (see
runs/multinode.py): its own working folder, its processes' logs, its own system log. It never
changes the run's status; it records how its processes ended for the leader, and stops them
when the run is canceled, failed or over."""

from __future__ import annotations

from runs import multinode
from runs.executor import Execution, PreparationError
from runs.models import FINAL_STATUSES, Run, RunNode, RunStatus


def execute_node(run_id: str, *, rank: int, master: tuple[str, int], worker: str) -> None:
    claimed = RunNode.objects.filter(
        run_id=run_id, rank=rank, node=worker, state=RunNode.State.DISPATCHED, address=""
    ).update(address=multinode.node_address())
    run = Run.objects.filter(pk=run_id).first()
    if not claimed or run is None:
        return  # a redelivery, or the run is gone
    if run.is_final or run.status == RunStatus.CANCEL_REQUESTED:
        RunNode.objects.filter(run_id=run_id, rank=rank).update(state=RunNode.State.FINISHED)
        return
    NodeExecution(run, rank=rank, master=master, worker=worker).go()


class NodeExecution(Execution):
    def __init__(self, run: Run, *, rank: int, master: tuple[str, int], worker: str):
        self.node_rank = rank
        self.system_log_name = f"system_logs/executor_node_{rank}.txt"
        self.user_log_name = f"user_logs/std_log_node_{rank}.txt"  # untagged output only
        super().__init__(run, worker=worker)
        self.master = master
        self.failed = False

    def workdir_name(self) -> str:
        return f"{self.run.pk}-node{self.node_rank}"

    def move(self, to: str, **fields) -> Run | None:
        """Statuses are the leader's to change."""
        self.run.refresh_from_db()
        return self.run

    def check_nodes(self) -> None:
        pass

    def go(self) -> None:
        self.heartbeat.start()
        try:
            self.say(f"Node rank {self.node_rank} of {self.nodes} on {self.worker}")
            argv, env = self.prepare()
            self.start(argv, env)
            RunNode.objects.filter(run_id=self.run.pk, rank=self.node_rank).update(
                state=RunNode.State.STARTED
            )
            self.pump()
        except PreparationError as exc:
            self.say(f"Preparation failed: {exc.message}")
            self.failed = True
        except Exception as exc:
            self.say(f"Executor error: {type(exc).__name__}: {exc}")
            self.failed = True
            self.kill_tree()
            raise
        finally:
            self.finalize()

    def check_cancel_and_timeout(self, deadline: float) -> None:
        status = Run.objects.filter(pk=self.run.pk).values_list("status", flat=True).first()
        if status is None or status in FINAL_STATUSES or status == RunStatus.CANCEL_REQUESTED:
            self.stop_reason = (RunStatus.CANCELED, f"The run is {status or 'gone'}")
            self.say(f"Stopping this node's processes: the run is {status or 'gone'}")
            self.kill_tree()

    def finalize(self) -> None:
        try:
            for folder in ("outputs", "logs"):
                try:
                    self.sync_folder(folder)
                except OSError as exc:
                    self.say(f"Could not collect ./{folder}: {exc}")
            exit_code = self.process.returncode if self.process else None
            if self.failed and not exit_code:
                exit_code = 1
            self.say(f"Exit code {exit_code}")
            multinode.node_finished(self, exit_code)
        finally:
            self.release()
