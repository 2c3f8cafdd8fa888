"""The run executor: what a Celery task does with one run id — the run's lifecycle.

It claims the run with a conditional UPDATE (so a redelivered task does nothing), waits for
a slot, builds a private working folder from the snapshot and the launch plan
(runs.preparing, runs.launch), and runs it on this host or in a container under a process
supervisor (runs.running, mlstudio.processes), whose output goes to the run's logs
(runs.runlogs). It heartbeats (runs.heartbeat, which notices a cancel), watches the timeout,
collects ./outputs and ./logs (runs.outputs), and records the end with a hint for a failure
(runs.ending, runs.hints). A multi-node run's leader and followers are roles it calls
(runs.multinode).
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection

from compute.selectors import target_of_queue
from compute.services import slot_release, slot_wait
from mlstudio.processes import Every
from runs import faults, hints, multinode, preparing
from runs.definition import RunDefinition
from runs.ending import run_outcome
from runs.execution_services import (
    run_claim,
    run_node_claim,
    run_node_finished,
    run_status_of,
    run_token_issue,
)
from runs.heartbeat import Heartbeat
from runs.launch import PreparationError
from runs.metric_pump import MetricPump
from runs.mlflow_env import mlflow_variables
from runs.models import Run, RunStatus
from runs.outputs import OutputCollector
from runs.preparing import EnvironmentFailed, environment_prepare, launch_prepare, workdir_make
from runs.runlogs import RunLogs
from runs.running import RunProcess
from runs.services import run_children_finish, run_transition
from workspaces.services import api_token_revoke

__all__ = ["Execution", "Heartbeat", "PreparationError", "execute", "execute_node"]

# How often the role looks: at a stop the heartbeat noticed (runs.heartbeat: at once, on a
# wake-up), at the timeout, and at a multi-node run's other nodes.
WATCH_SECONDS = 0.5
LOGS_SYNC_SECONDS = 5.0


def execute(run_id: str, *, worker: str) -> None:
    if not run_claim(run_id=run_id, worker=worker):
        return  # started, finished, canceled or taken by another delivery: nothing to do
    queued = Run.objects.get(pk=run_id)
    definition = RunDefinition.of(queued.definition)
    target = target_of_queue(definition.queue)
    # A multi-node run holds one of the target's slots for each of its nodes.
    holders = [run_id, *(f"{run_id}#{rank}" for rank in range(1, definition.node_count))]
    try:
        for holder in holders if target is not None else ():
            if not _wait_for_a_slot(queued, target, worker, holder):
                return  # canceled while it waited
        run = run_transition(
            run_id=run_id, to=RunStatus.PREPARING, worker=worker, heartbeat_at=_now()
        )
        if run is not None:
            Execution(run, worker=worker).go()
    finally:
        for holder in holders if target is not None else ():
            slot_release(holder=holder)


def execute_node(run_id: str, *, rank: int, master: tuple[str, int], worker: str) -> None:
    """A follower's part of a multi-node run (see runs.multinode)."""
    claimed = run_node_claim(run_id=run_id, rank=rank, node=worker,
                             address=multinode.node_address())  # fmt: skip
    run = Run.objects.filter(pk=run_id).first()
    if not claimed or run is None:
        return  # a redelivery, or the run is gone
    if run.is_final or run.status == RunStatus.CANCEL_REQUESTED:
        run_node_finished(run_id=run_id, rank=rank)
        return
    nodes = RunDefinition.of(run.definition).node_count
    role = multinode.Follower(rank=rank, nodes=nodes, master=master)
    Execution(run, worker=worker, role=role).go()


def _wait_for_a_slot(run: Run, target, worker: str, holder: str) -> bool:
    """Hold the run in Queued until its target has a free slot (max_nodes across all nodes),
    first in, first out; False if it was canceled meanwhile. Its place in the line is shown
    by the runs_queue_positions task."""

    def still_wanted() -> bool:
        return Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).exists()

    return slot_wait(target=target, holder=holder, node=worker, requested_at=run.created_at,
                     still_wanted=still_wanted)  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


class Execution:
    """A run's execution on this node, through the steps its role (Solo, or a multi-node
    Leader or Follower) fills in."""

    def __init__(self, run: Run, *, worker: str = "", role=None):
        self.run = run
        self.worker = worker
        self.definition = RunDefinition.of(run.definition)
        nodes = self.definition.node_count
        self.role = role or (multinode.Leader(nodes) if nodes > 1 else Solo())
        self.workdir = Path(settings.MLSTUDIO_WORK_DIR) / f"{run.pk}{self.role.workdir_suffix}"
        self.logs = RunLogs(run.pk, **self.role.log_names)
        self.say = self.logs.say
        self.outputs = OutputCollector(run.pk, self.workdir, say=self.say)
        self.process = RunProcess(run.pk, self.role.rank, self.workdir, say=self.say)
        self.metrics: MetricPump | None = None
        self.heartbeat = Heartbeat(run.pk)
        self.token = None
        self.datasets: dict = {}  # the dataset inputs and outputs placed by prepare()
        self.stop_reason: tuple[str, str] | None = None  # (final status, message)
        self.timeout_limit: int | None = None
        self.failed_build_log: str | None = None

    @property
    def exit_code(self) -> int | None:
        return self.process.exit_code

    def go(self) -> None:
        self.heartbeat.start()
        try:
            if not self.role.begin(self):
                return self.finish_canceled_early()
            argv, env = self.prepare()
            if not self.move(RunStatus.STARTING):
                return self.finish_canceled_early()
            self.process.start(argv, env)
            with ThreadPoolExecutor(1, thread_name_prefix=f"running-{self.run.pk}") as beside:
                begun = beside.submit(self.begin_running)
                self.process.stream(self.logs.output, checks=self.checks())
                begun.result()
            self.role.after(self)
        except PreparationError as exc:
            self.say(f"Preparation failed: {exc.message}")
            if isinstance(exc, EnvironmentFailed):
                self.failed_build_log = exc.log
            self.role.fail(self, exc.message)
        except (SystemExit, KeyboardInterrupt):  # the worker is stopping: say so, honestly
            self.stop_reason = faults.stop_reason()
            self.say(f"Canceled: {self.stop_reason[1]}; stopping the script")
            self.kill()
            raise
        except Exception as exc:
            self.say(f"Executor error: {type(exc).__name__}: {exc}")
            self.role.fail(self, faults.executor_error_message(exc))
            self.kill()
            raise
        finally:
            self.role.finish(self)

    def begin_running(self) -> None:
        """The run Running and its metric pump started, beside the stream loop: with 50 runs
        starting at once the database can keep this waiting for seconds, while the script
        prints into a pipe nobody read."""
        try:
            self.role.started(self)
            if self.role.pumps_metrics:
                self.metrics = MetricPump(self.run, self.workdir, say=self.say,
                                          copy_out=self.process.copy_out)  # fmt: skip
                self.metrics.start()
        except Exception:
            self.kill()  # the stream loop ends, and go() raises this from begun.result()
            raise
        finally:
            connection.close()  # this thread's own

    def move(self, to: str, **fields) -> Run | None:
        if not self.role.moves_status:  # a follower: statuses are the leader's to change
            self.run.refresh_from_db()
            return self.run
        moved = run_transition(run_id=self.run.pk, to=to, heartbeat_at=_now(), **fields)
        if moved is not None:
            self.run = moved
        return moved

    def finish_canceled_early(self) -> None:
        self.run.refresh_from_db()
        if self.run.status == RunStatus.CANCEL_REQUESTED and self.stop_reason is None:
            self.stop_reason = (RunStatus.CANCELED, self.run.status_detail or "Canceled.")

    def prepare(self) -> tuple[list[str], dict[str, str]]:
        """The working folder, the environment and the launch plan, placed where it runs."""
        workdir_make(self.run, self.workdir, self.logs)
        preparing.resumed_outputs_place(self.definition, self.workdir, self.logs)
        built, spec = environment_prepare(self.run, self.definition, self.logs)
        definition, self.datasets = preparing.datasets_plan(self.run, self.definition, self.workdir)
        plan = launch_prepare(self.run, definition, built, spec, workdir=self.workdir,
                              rank=self.role.rank, master=self.role.master,
                              logs=self.logs)  # fmt: skip
        self.token, variables = run_token_issue(run=self.run)
        plan.env.update(variables)
        in_container = plan.container is not None
        plan.env.update(
            mlflow_variables(run=self.run, env=plan.env, in_container=in_container, say=self.say)
        )
        plan = preparing.datasets_read_only(plan, self.datasets)
        argv, env = self.process.place(plan, python=built.python)
        return preparing.datasets_materialize(self.run, self.definition, self.datasets, argv, env,
                                              say=self.say, in_container=in_container)  # fmt: skip

    def checks(self) -> list[Every]:
        def watch() -> None:
            if self.stop_reason is None:
                self.role.watch(self)

        return [Every(WATCH_SECONDS, watch),
                Every(LOGS_SYNC_SECONDS, lambda: self.outputs.sync("logs"))]  # fmt: skip

    def check_cancel_and_timeout(self, *, deadline: float | None = None) -> None:
        """Stop the script when the run was canceled or failed meanwhile (the heartbeat's
        conditional UPDATE notices; with a `deadline` given the status is read now), or when
        it overran max_run_duration_seconds."""
        noticed = deadline is not None or self.heartbeat.left_active.is_set()
        if deadline is None:
            started = self.run.started_at or _now()
            deadline = started.timestamp() + self.definition.max_run_duration_seconds
        status = noticed and run_status_of(run_id=self.run.pk)
        if status and status[0] in (RunStatus.CANCEL_REQUESTED, RunStatus.FAILED):
            reason = status[1] or "Canceled by the user."
            self.say(f"Cancel requested: {reason}")
            self.stop(RunStatus.CANCELED, reason)
        elif time.time() > deadline:
            limit = self.definition.max_run_duration_seconds
            self.timeout_limit = limit
            reason = (
                f"The run exceeded max_run_duration_seconds={limit} and was canceled. Raise the "
                "limit in ScriptRunConfig(max_run_duration_seconds=...) if it needs longer."
            )
            self.say(reason)
            run_transition(run_id=self.run.pk, to=RunStatus.CANCEL_REQUESTED, detail=reason)
            self.stop(RunStatus.CANCELED, reason)

    def stop(self, status: str, reason: str) -> None:
        self.stop_reason = (status, reason)
        self.kill()

    def kill(self) -> None:
        self.process.stop()

    # --- finishing ----------------------------------------------------------------------------
    def finalize(self) -> None:
        """Record how the run ended, unless it already has (a sweep failed it, say); either
        way release everything it held."""
        try:
            self.run.refresh_from_db()
            if self.run.is_final:
                self.say(f"Run already {self.run.status}; nothing more to record")
                self.stop_metrics()
            else:
                self.move(RunStatus.FINALIZING)
                self.stop_metrics()
                self.record_end()
        except Exception as exc:
            if not faults.disk_full(exc):
                raise
            faults.execution_end_on_full_disk(self)
        finally:
            self.release()

    def stop_metrics(self) -> None:
        if self.metrics is None:
            return
        try:
            self.metrics.finish()
        except Exception as exc:  # the run's status must still be recorded
            self.say(f"Storing the last metrics failed: {type(exc).__name__}: {exc}")

    def record_end(self) -> None:
        exit_code = self.exit_code
        if self.metrics is None:
            self.process.copy_out(".mlstudio", "outputs", "logs")
        self.process.end()
        preparing.datasets_output(self.run, self.datasets, exit_code, self.say)
        failed = self.outputs.collect_end()
        if failed is not None and self.stop_reason is None:
            self.stop_reason = (RunStatus.FAILED, failed)
        status, error = run_outcome(self.run, self.definition, exit_code=exit_code,
                                    stop_reason=self.stop_reason, workdir=self.workdir,
                                    evidence=self.evidence, say=self.say)  # fmt: skip
        self.say(f"Exit code {exit_code}; run {status}")
        run_children_finish(parent=self.run, ending=status)
        self.move(status, exit_code=exit_code, error=error, detail=(error or {}).get("message", ""))

    def evidence(self) -> hints.Evidence:
        return hints.Evidence(stopped=self.stop_reason is not None,
                              timeout_seconds=self.timeout_limit,
                              failed_build_log=self.failed_build_log,
                              **self.process.evidence())  # fmt: skip

    def release(self) -> None:
        self.process.close()
        if self.token is not None:
            api_token_revoke(user=self.token.user, token_id=self.token.pk)
        self.heartbeat.stop()
        self.logs.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Solo:
    """The role of a run on one node: it owns the run's status, and turns it Running as soon
    as its script has started."""

    rank = 0
    moves_status = True
    pumps_metrics = True
    workdir_suffix = ""
    log_names: dict[str, str] = {}
    master = ("127.0.0.1", 0)

    def begin(self, execution: Execution) -> bool:
        return True

    def started(self, execution: Execution) -> None:
        if not execution.move(RunStatus.RUNNING):  # canceled while starting
            execution.finish_canceled_early()
            execution.kill()

    def watch(self, execution: Execution) -> None:
        execution.check_cancel_and_timeout()

    def after(self, execution: Execution) -> None:
        pass

    def fail(self, execution: Execution, message: str) -> None:
        execution.stop_reason = (RunStatus.FAILED, message)

    def finish(self, execution: Execution) -> None:
        execution.finalize()
