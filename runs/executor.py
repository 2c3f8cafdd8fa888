"""The run executor: what a Celery task does with one run id — the run's lifecycle.

It claims the run with a conditional UPDATE (so a redelivered task does nothing), waits for
a slot, builds a private working folder from the snapshot (runs.preparing), makes the launch
plan (runs.launch) and hands it to a process supervisor (mlstudio.processes), whose output
goes to the run's logs (runs.runlogs). It heartbeats, watches for cancel and timeout,
collects ./outputs and ./logs (runs.outputs), and records the end with a hint for a failure
(runs.hints). A multi-node run's leader and followers are roles it calls (runs.multinode).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

from compute.selectors import target_of_queue
from compute.services import slot_release, slot_wait
from mlstudio.processes import Every, Streaming, Supervisor, oom_kill_count
from runs import faults, hints, launch, multinode, placement, preparing
from runs.definition import RunDefinition
from runs.execution_services import (
    run_claim,
    run_heartbeat,
    run_node_claim,
    run_node_finished,
    run_status_of,
    run_token_attach,
)
from runs.launch import PreparationError
from runs.metric_pump import MetricPump
from runs.mlflow_env import mlflow_variables
from runs.models import Run, RunStatus
from runs.outputs import OutputCollector, RunContainer
from runs.preparing import EnvironmentFailed, environment_prepare, workdir_make
from runs.runlogs import RunLogs
from runs.services import run_children_finish, run_transition
from workspaces.services import api_token_create, api_token_revoke

__all__ = ["Execution", "Heartbeat", "PreparationError", "execute", "execute_node"]

# The beat's conditional UPDATE is also how a cancel is noticed (a user's, or a sweep policy's
# early termination, promised within a second), so its period bounds that delay.
HEARTBEAT_SECONDS = 0.5
WATCH_SECONDS = 0.5  # how often the role looks: a cancel the heartbeat saw, the timeout, nodes
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
        self.container: RunContainer | None = None
        self.supervisor: Supervisor | None = None
        self.metrics: MetricPump | None = None
        self.heartbeat = Heartbeat(run.pk)
        self.token = None
        self.stop_reason: tuple[str, str] | None = None  # (final status, message)
        self.timeout_limit: int | None = None
        self.failed_build_log: str | None = None
        self.oom_kills_before: int | None = None
        self.container_oom = False
        self.popen = subprocess.Popen  # sandbox.Popen for a sandboxed command
        self.container_name: str | None = None  # kept after the container is removed

    @property
    def exit_code(self) -> int | None:
        return self.supervisor.returncode if self.supervisor else None

    def go(self) -> None:
        self.heartbeat.start()
        try:
            if not self.role.begin(self):
                return self.finish_canceled_early()
            argv, env = self.prepare()
            if not self.move(RunStatus.STARTING):
                return self.finish_canceled_early()
            self.start(argv, env, popen=self.popen)
            self.role.started(self)
            if self.role.pumps_metrics:
                self.metrics = MetricPump(self.run, self.workdir, say=self.say,
                                          copy_out=self.copy_out)  # fmt: skip
                self.metrics.start()
            self.supervisor.stream(self.logs.output, checks=self.checks(), how=Streaming())
            self.role.after(self)
        except PreparationError as exc:
            self.say(f"Preparation failed: {exc.message}")
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
        workdir_make(self.run, self.workdir, self.logs)
        try:
            built, spec = environment_prepare(self.run, self.definition, self.logs)
        except EnvironmentFailed as exc:
            self.failed_build_log = exc.log
            raise
        in_docker = built.kind == "docker"
        node = launch.Node(rank=self.role.rank, nodes=self.definition.node_count,
                           master=self.role.master, mpirun=shutil.which("mpirun") is not None,
                           as_root=os.geteuid() == 0, worker=socket.gethostname())  # fmt: skip
        definition, self.datasets = preparing.datasets_plan(self.run, self.definition, self.workdir)
        plan = launch.launch_plan(
            definition,
            self.identity(),
            python=built.python,
            image=built.image if in_docker else None,
            docker=spec.get("docker"),
            workdir=str(self.workdir),
            sdk_path=str(placement.REPO_ROOT),
            host_env=os.environ,
            node=node,
            free_port=_free_port,
        )
        for note in plan.notes:
            self.say(note)
        if plan.distributed:
            self.logs.split_by_process()
        plan.env.update(self.script_token())
        in_container = plan.container is not None
        plan.env.update(
            mlflow_variables(run=self.run, env=plan.env, in_container=in_container, say=self.say)
        )
        if plan.container is None:
            argv, env, self.popen = placement.on_host(
                plan, python=built.python, workdir=self.workdir, say=self.say
            )
        else:
            self.container = RunContainer(plan.container.name, self.workdir, say=self.say)
            self.container_name = plan.container.name
            argv, env = placement.in_container(plan, self.container)
        return preparing.datasets_materialize(self.run, self.datasets, argv, env, say=self.say)

    def identity(self) -> launch.Identity:
        return launch.Identity(
            run_id=self.run.pk,
            node_rank=self.role.rank,
            experiment=self.run.experiment.name,
            workspace=self.run.experiment.workspace.name,
            run_dir=str(self.workdir / ".mlstudio"),
            metric_name_max=settings.MLSTUDIO_METRIC_NAME_MAX,
            metric_value_max_bytes=settings.MLSTUDIO_METRIC_VALUE_MAX_BYTES,
        )

    def script_token(self) -> dict[str, str]:
        """A token that reaches only this workspace and dies with the run, so the SDK can
        read metrics back and create child runs over the REST API."""
        if not settings.MLSTUDIO_PUBLIC_URL or self.run.submitted_by is None:
            return {}
        self.token, raw = api_token_create(
            user=self.run.submitted_by,
            name=f"run {self.run.pk}"[:100],
            workspace_name=self.run.experiment.workspace.name,
            for_run=True,
        )
        run_token_attach(run_id=self.run.pk, token=self.token)
        return {"MLSTUDIO_URL": settings.MLSTUDIO_PUBLIC_URL, "MLSTUDIO_TOKEN": raw}

    def start(self, argv: list[str], env: dict[str, str], popen: type) -> None:
        self.say(f"Command: {argv!r} in {self.workdir}")
        on_host = self.container is None  # a container's memory is not in this process tree
        if on_host:
            self.oom_kills_before = oom_kill_count()
        self.supervisor = Supervisor(
            argv,
            cwd=self.workdir,
            env=env,
            belongs=self.belongs,
            note=self.say,
            grace=settings.MLSTUDIO_CANCEL_GRACE_SECONDS,
            stop_container=None if on_host else self.container.stop,
            popen=popen,
        )
        try:
            pid = self.supervisor.start(watch_memory=on_host)
        except OSError as exc:
            raise PreparationError(f"Cannot start {argv[0]!r}: {exc.strerror}.") from None
        self.say(f"Started process {pid}")

    def belongs(self, env: dict[str, str]) -> bool:
        """Whether a process that left the script's process group is still this run's: it
        carries the run's id; the same run's processes on another node of this machine are
        not ours."""
        return env.get("MLSTUDIO_RUN_ID") == self.run.pk and env.get(
            "MLSTUDIO_NODE_RANK", "0"
        ) == str(self.role.rank)

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
        if self.supervisor is not None:
            self.supervisor.stop()

    def copy_out(self, *folders: str) -> None:
        if self.container is not None:
            self.container.copy_out(*folders)

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
            self.copy_out(".mlstudio", "outputs", "logs")
        if self.container is not None:  # Docker's own record, read before the container goes
            self.container_oom = faults.container_oom_killed(self.container.name)
        self.remove_container()  # a finished run has no container left
        for folder in ("outputs", "logs"):
            try:
                count, size = self.outputs.collect(folder)
                self.say(f"Collected ./{folder}: {count} file(s), {size} bytes")
            except OSError as exc:
                self.say(f"Could not collect ./{folder}: {exc}")
                self.stop_reason = self.stop_reason or (
                    RunStatus.FAILED,
                    f"Collecting ./{folder} failed: {exc}",
                )
        preparing.datasets_output(self.run, getattr(self, "datasets", {}), exit_code, self.say)
        status, error = self.outcome(exit_code)
        self.say(f"Exit code {exit_code}; run {status}")
        run_children_finish(parent=self.run, ending=status)
        self.move(status, exit_code=exit_code, error=error, detail=(error or {}).get("message", ""))

    def outcome(self, exit_code: int | None) -> tuple[str, dict | None]:
        if self.stop_reason is not None:
            status, message = self.stop_reason
            error = {"message": message, "exit_code": exit_code}
        elif exit_code == 0:
            return RunStatus.COMPLETED, None
        else:
            status = RunStatus.FAILED
            error = faults.name_a_full_disk(
                hints.error_summary(self.run.pk, exit_code, workdir=self.workdir)
            )
        hint = self.hint(status, error)
        if hint is not None:
            error["hint"] = hint
        return status, error

    def hint(self, status: str, error: dict) -> dict | None:
        """The one-line troubleshooting hint for how the run ended (runs.hints); a hint that
        cannot be made never keeps the error itself from being recorded."""
        try:
            evidence = hints.Evidence(
                stopped=self.stop_reason is not None,
                timeout_seconds=self.timeout_limit,
                failed_build_log=self.failed_build_log,
                peak_memory=self.supervisor.peak_memory if self.supervisor else None,
                oom_killed=self.container_oom or self.oom_killed(),
                in_container=self.container_name is not None,
            )
            failure = hints.failure_of(self.run, self.definition, status, error, evidence)
            return hints.hint_for(failure, hints.links_of(self.run))
        except Exception as exc:
            self.say(f"No troubleshooting hint: {type(exc).__name__}: {exc}")
            return None

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process for memory in the worker's cgroup meanwhile."""
        if self.oom_kills_before is None:
            return False
        now = oom_kill_count()
        return now is not None and now > self.oom_kills_before

    def remove_container(self) -> None:
        if self.container is not None:
            self.container.remove()

    def release(self) -> None:
        self.remove_container()
        if self.supervisor is not None:
            self.supervisor.close()
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


class Heartbeat(threading.Thread):
    """Keeps the run's heartbeat fresh for the whole execution, preparing a large snapshot
    and collecting large outputs included, so the lost-worker sweep never fails a live run.
    Its UPDATE is conditional on the run being active: `left_active` is set once it is not
    (canceled, failed, over), which is how the lifecycle notices a cancel without a poll."""

    def __init__(self, run_id: str):
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.run_id = run_id
        self.stopping = threading.Event()
        self.left_active = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(HEARTBEAT_SECONDS):
                try:
                    if not run_heartbeat(run_id=self.run_id):
                        self.left_active.set()
                except DatabaseError:  # a blip; the next beat tries again
                    connection.close()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
