"""The run executor: what a Celery task does with one run id.

It claims the run with a conditional status change (so a redelivered task does nothing),
builds a private working folder from the snapshot, starts the script in its own process
group, pumps its output into the append-only log store and then to the run's channel group,
heartbeats, watches for cancel and timeout, collects ./outputs and ./logs, and records the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from django.conf import settings
from django.db import DatabaseError, connection
from django.urls import reverse

from compute.selectors import target_of_queue
from compute.services import slot_release, slot_wait
from environments import docker as envdocker
from environments.builders import Built, environment_build
from environments.selectors import environment_version_by_pk
from mlstudio import live, sandbox
from mlstudio.errors import UserError
from mlstudio.processes import oom_kill_count, parent_death_signal, signal_group
from mlstudio.sdk._launch import untag
from runs import faults, hints, multinode, store
from runs.metric_pump import MetricPump
from runs.models import Run, RunStatus
from runs.services import run_children_finish, run_detail_set, run_transition
from runs.snapshots import snapshot_materialize
from runs.tbevents import EVENT_MARK
from workspaces.services import api_token_create, api_token_revoke

REPO_ROOT = Path(__file__).resolve().parent.parent
READ_SIZE = 64 * 1024
MAX_LINE = 64 * 1024
FLUSH_SECONDS = 0.01
FLUSH_BYTES = 256 * 1024
HEARTBEAT_SECONDS = 5.0
CANCEL_POLL_SECONDS = 0.5
LEFTOVER_SECONDS = 2.0  # how long processes the script left may hold its output after it exits
LOGS_SYNC_SECONDS = 5.0
MEMORY_SECONDS = 0.25  # how often the script's memory is sampled, for an out-of-memory hint
IMAGE_BUILD_LOG = "system_logs/image_build_log.txt"
ENV_BUILD_LOG = "system_logs/environment_build_log.txt"
SERVER_SECRETS = ("DATABASE_URL", "REDIS_URL")
TRACEBACK = re.compile(rb"Traceback \(most recent call last\):\n")


class PreparationError(UserError):
    """The run cannot start: a missing interpreter, an unreadable snapshot, …"""


def execute(run_id: str, *, worker: str) -> None:
    queued = Run.objects.filter(pk=run_id, status=RunStatus.QUEUED).first()
    if queued is None:
        return  # already started, finished or canceled: a redelivery, nothing to do
    target = target_of_queue(queued.definition.get("queue", ""))
    # A multi-node run holds one of the target's slots for each of its nodes.
    nodes = (queued.definition.get("distributed") or {}).get("node_count", 1)
    holders = [run_id, *(f"{run_id}#{rank}" for rank in range(1, nodes))]
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
    """A run's execution on this node. For a multi-node run this is rank 0, the leader; the
    other nodes run runs.multinode.NodeExecution."""

    node_rank = 0
    system_log_name = store.SYSTEM_LOG
    user_log_name = store.USER_LOG

    def __init__(self, run: Run, *, worker: str = ""):
        self.run = run
        self.worker = worker
        job = run.definition.get("distributed") or {}
        self.nodes = job.get("node_count", 1)
        self.master = ("127.0.0.1", 0)  # a distributed job's rendezvous address
        self.workdir = Path(settings.MLSTUDIO_WORK_DIR) / self.workdir_name()
        self.system_log = store.AppendLog(run.pk, self.system_log_name)
        self.user_log = store.AppendLog(run.pk, self.user_log_name)
        self.group = live.run_group(run.pk)
        self.process: subprocess.Popen | None = None
        self.stop_reason: tuple[str, str] | None = None  # (final status, message)
        self._synced: dict[str, tuple[int, int]] = {}
        self._say_lock = threading.Lock()
        self.metrics: MetricPump | None = None
        self.heartbeat = Heartbeat(run.pk)
        self.token = None
        self.built: Built | None = None
        self.container: str | None = None
        self.copies_files = False  # a remote engine's container: files are copied, not mounted
        # A distributed job's processes tag their lines by rank: one log per process.
        self.process_logs: dict[int, store.AppendLog] | None = None
        # What a failure hint needs to know (runs.hints).
        self.timeout_limit: int | None = None
        self.failed_build_log: str | None = None
        self.memory: MemoryWatch | None = None
        self.oom_kills_before: int | None = None
        self.container_oom = False  # Docker's own record, read before the container goes

    # --- the whole run ----------------------------------------------------------------------
    def workdir_name(self) -> str:
        return self.run.pk

    def go(self) -> None:
        self.heartbeat.start()
        try:
            if self.nodes > 1 and not multinode.dispatch(self):
                return self.finish_canceled_early()
            argv, env = self.prepare()
            if not self.move(RunStatus.STARTING):
                return self.finish_canceled_early()
            self.start(argv, env)
            if self.nodes > 1:  # Running once every node has started (multinode.check_nodes)
                multinode.node_started(self)
            elif not self.move(RunStatus.RUNNING):  # canceled while starting
                self.finish_canceled_early()
                self.kill_tree()
            self.metrics = MetricPump(self)
            self.metrics.start()
            self.pump()
            if self.nodes > 1:
                multinode.wait_for_nodes(self)
        except PreparationError as exc:
            self.say(f"Preparation failed: {exc.message}")
            self.stop_reason = (RunStatus.FAILED, exc.message)
        except (SystemExit, KeyboardInterrupt):  # the worker is stopping: say so, honestly
            self.stop_reason = faults.stop_reason()
            self.say(f"Canceled: {self.stop_reason[1]}; stopping the script")
            self.kill_tree()
            raise
        except Exception as exc:
            self.say(f"Executor error: {type(exc).__name__}: {exc}")
            self.stop_reason = (RunStatus.FAILED, faults.executor_error_message(exc))
            self.kill_tree()
            raise
        finally:
            self.finalize()

    def move(self, to: str, **fields) -> Run | None:
        moved = run_transition(run_id=self.run.pk, to=to, heartbeat_at=_now(), **fields)
        if moved is not None:
            self.run = moved
        return moved

    def finish_canceled_early(self) -> None:
        self.run.refresh_from_db()
        if self.run.status == RunStatus.CANCEL_REQUESTED and self.stop_reason is None:
            self.stop_reason = (RunStatus.CANCELED, self.run.status_detail or "Canceled.")

    # --- preparing ----------------------------------------------------------------------------
    def prepare(self) -> tuple[list[str], dict[str, str]]:
        definition = self.run.definition
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        if self.run.snapshot_id:
            self.say(f"Materializing snapshot {self.run.snapshot_id} into {self.workdir}")
            snapshot_materialize(snapshot=self.run.snapshot, destination=self.workdir)
        for folder in ("outputs", "logs"):
            (self.workdir / folder).mkdir(exist_ok=True)
        (self.workdir / ".mlstudio").mkdir(exist_ok=True)
        self.built, spec = self.prepare_environment(definition.get("environment"))
        python = self.built.python
        if definition.get("command"):
            argv = list(definition["command"])
        else:
            argv = [python, definition["script"], *definition["arguments"]]
        env = self.environment(definition)
        if definition.get("distributed"):
            argv = self.distributed_argv(definition["distributed"], argv, python)
        if self.built.kind == "docker":
            return self.in_container(argv, env, spec["docker"])
        return self.isolate(argv, env)

    def isolate(self, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The command run in the run's sandbox as the run user (mlstudio.sandbox), the
        working folder handed over to that user."""
        plan = sandbox.sandbox_for(workdir=self.workdir, python=self.built.python,
                                   sdk=REPO_ROOT / "mlstudio")  # fmt: skip
        self.say(sandbox.isolation().summary)
        if plan is None:
            return argv, env
        sandbox.workdir_hand_over(self.workdir, plan.user)
        return sandbox.sandbox_argv(argv, plan), sandbox.sandbox_env(env)

    def distributed_argv(self, job: dict, argv: list[str], python: str) -> list[str]:
        """The command that starts this node's processes of a PyTorch, MPI or TensorFlow job
        through mlstudio.sdk._launch, which gives each its rank variables and tags its output
        by rank."""
        self.process_logs = {}
        per_node = job["process_count"] // job["node_count"]
        launch = [python, "-m", "mlstudio.sdk._launch"]
        if job["type"] == "pytorch":
            address, port = self.master if self.master[1] else ("127.0.0.1", _free_port())
            self.say(f"PyTorch job: {per_node} process(es) on node {self.node_rank} of "
                     f"{self.nodes}, rendezvous at {address}:{port}")  # fmt: skip
            return [*launch, "pytorch", "--nprocs", str(per_node), "--nnodes", str(self.nodes),
                    "--node-rank", str(self.node_rank), "--master-addr", address,
                    "--master-port", str(port), "--", *argv]  # fmt: skip
        if job["type"] == "tensorflow":
            addresses = [f"127.0.0.1:{_free_port()}" for _ in range(job["process_count"])]
            cluster = {"worker": addresses[: job["worker_count"]]}
            if job["parameter_server_count"]:
                cluster["ps"] = addresses[job["worker_count"] :]
            self.say(f"TensorFlow job: cluster {json.dumps(cluster)}")
            return [*launch, "tensorflow", "--cluster", json.dumps(cluster), "--", *argv]
        if self.built.kind != "docker" and shutil.which("mpirun") is None:
            raise PreparationError(
                f"MpiConfiguration needs Open MPI's mpirun, which is not on the PATH of worker "
                f"{socket.gethostname()}: install it (Debian: apt-get install openmpi-bin) or "
                "use an environment image that has it."
            )
        as_root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
        self.say(f"MPI job: mpirun with {per_node} process(es)")
        return ["mpirun", *as_root, "--oversubscribe", "--bind-to", "none", "-np", str(per_node),
                *launch, "mpi", "--", *argv]  # fmt: skip

    def prepare_environment(self, reference: dict | None) -> tuple[Built, dict]:
        """Build (or find cached) the run's environment; its build log streams live."""
        if not reference or not reference.get("id"):
            self.say(f"Environment: none given; the worker's own Python, {sys.executable}")
            return Built("user-managed", sys.executable, None, True, ""), {}
        version = environment_version_by_pk(pk=reference["id"])
        docker = (
            bool(version.spec["docker"]["enabled"])
            or self.run.definition.get("target_type") == "docker"
        )
        build_log = store.AppendLog(self.run.pk, IMAGE_BUILD_LOG if docker else ENV_BUILD_LOG)
        started = time.monotonic()

        def log(line: str) -> None:
            text = line.rstrip("\n") + "\n"
            offset = build_log.append(text.encode())
            name = build_log.name
            live.publish(self.group, {"kind": "log", "name": name, "offset": offset, "data": text})

        if version.build_status != "Succeeded":
            run_detail_set(
                run_id=self.run.pk,
                status=RunStatus.PREPARING,
                detail="building environment (first use of this spec, cached afterwards)",
            )
        try:
            built = environment_build(version=version, log=log, docker=docker)
        except UserError as exc:
            self.failed_build_log = build_log.name
            message = f"Environment {version.label} failed to build: {exc.message}"
            raise PreparationError(message) from None
        finally:
            build_log.close()
        how = "cached" if built.cached else f"built in {time.monotonic() - started:.1f} s"
        where = f"image {built.image}" if built.image else f"interpreter {built.python}"
        self.say(f"Environment {version.label}: {built.kind}, {how}; {where}")
        return built, version.spec

    def in_container(self, argv, env, docker: dict) -> tuple[list[str], dict[str, str]]:
        """The docker CLI command that runs `argv` in the environment's image: the working
        folder mounted at the same path, the SDK mounted read-only, host networking so the
        SDK reaches the studio."""
        self.container = f"mlstudio-run-{re.sub(r'[^A-Za-z0-9_.-]', '-', self.run.pk)}"[:200]
        envdocker.container_remove(self.container)  # a redelivery's leftover
        # An engine on another machine can't mount this host's folders: copy the working
        # folder in, and the run's files back out while it goes on and at its end.
        self.copies_files = envdocker.copies_files()
        start_container = (
            envdocker.container_create if self.copies_files else envdocker.container_argv
        )
        if self.copies_files:
            self.say(f"Docker engine {envdocker.engine_address()}: copying files in and out")
        user = None if self.copies_files else self.container_user()
        if user:  # a user the image does not know has no home of its own
            env = {**env, "HOME": "/tmp"}  # noqa: S108 - the container's own /tmp
        container_argv = start_container(
            name=self.container,
            image=self.built.image,
            argv=argv,
            workdir=str(self.workdir),
            env=env,
            shm_size=docker.get("shm_size"),
            arguments=docker.get("arguments") or [],
            sdk_path=str(REPO_ROOT),
            user=user,
        )
        return container_argv, envdocker.container_env(env)

    def container_user(self) -> str | None:
        """The run user (uid:gid) unless the image names its own USER; the working folder
        becomes theirs, so the script can write it."""
        if envdocker.image_user(self.built.image):
            return None
        found = sandbox.isolation().user or (os.getuid(), os.getgid())
        sandbox.workdir_hand_over(self.workdir, found)
        return None if found[0] == 0 else f"{found[0]}:{found[1]}"

    def environment(self, definition: dict) -> dict[str, str]:
        """The script's variables. On this host it inherits the worker's (PATH, locale, …),
        never the studio's own settings; in a container it gets only its own."""
        if self.built.kind == "docker":
            env = {}
        else:
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("MLSTUDIO_", "DJANGO_")) and k not in SERVER_SECRETS
            }
        env.update(definition.get("environment_variables") or {})
        if self.built.kind != "docker":
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
            )
        env["PYTHONUNBUFFERED"] = "1"
        env.update(
            {
                "MLSTUDIO_RUN_ID": self.run.pk,
                "MLSTUDIO_NODE_RANK": str(self.node_rank),
                "MLSTUDIO_EXPERIMENT": self.run.experiment.name,
                "MLSTUDIO_WORKSPACE": self.run.experiment.workspace.name,
                "MLSTUDIO_RUN_DIR": str(self.workdir / ".mlstudio"),
                "MLSTUDIO_METRIC_NAME_MAX": str(settings.MLSTUDIO_METRIC_NAME_MAX),
                "MLSTUDIO_METRIC_VALUE_MAX_BYTES": str(settings.MLSTUDIO_METRIC_VALUE_MAX_BYTES),
            }
        )
        if settings.MLSTUDIO_PUBLIC_URL and self.run.submitted_by is not None:
            # A token that reaches only this workspace and dies with the run, so the SDK can
            # read metrics back and create child runs over the REST API.
            self.token, raw = api_token_create(
                user=self.run.submitted_by,
                name=f"run {self.run.pk}"[:100],
                workspace_name=self.run.experiment.workspace.name,
            )
            Run.objects.filter(pk=self.run.pk).update(api_token=self.token)
            env.update({"MLSTUDIO_URL": settings.MLSTUDIO_PUBLIC_URL, "MLSTUDIO_TOKEN": raw})
        return env

    # --- running ----------------------------------------------------------------------------
    def start(self, argv: list[str], env: dict[str, str]) -> None:
        self.say(f"Command: {argv!r} in {self.workdir}")
        if self.container is None:  # a container's memory is not in this host's process tree
            self.oom_kills_before = oom_kill_count()
        try:
            self.process = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=parent_death_signal(signal.SIGKILL),
            )
        except OSError as exc:
            raise PreparationError(f"Cannot start {argv[0]!r}: {exc.strerror}.") from None
        self.say(f"Started process {self.process.pid}")
        if self.container is None:
            self.memory = MemoryWatch(self.process.pid)
            self.memory.start()

    def pump(self) -> None:
        """Move the script's output into the user log until the script has exited and its
        output is closed, checking for cancel and timeout all along. Processes the script
        left behind get LEFTOVER_SECONDS after it exits, then are stopped: the run is over
        when its main process is."""
        lines = LineSplitter()
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        fd = self.process.stdout.fileno()
        started = self.run.started_at or _now()
        deadline = started.timestamp() + self.run.definition["max_run_duration_seconds"]
        next_cancel = next_sync = time.monotonic()
        batch_started: float | None = None
        exited_at: float | None = None
        open_pipe = True
        while True:
            age = time.monotonic() - batch_started if batch_started else 0.0
            wait = max(0.0, FLUSH_SECONDS - age) if lines.pending_output else 0.2
            if not open_pipe:
                time.sleep(wait)
            elif selector.select(timeout=wait):
                chunk = os.read(fd, READ_SIZE)
                open_pipe = bool(chunk)
                lines.feed(chunk)
                if lines.pending_output and batch_started is None:
                    batch_started = time.monotonic()
            now = time.monotonic()
            if lines.pending_output and (
                not open_pipe
                or now - batch_started >= FLUSH_SECONDS
                or lines.pending_size >= FLUSH_BYTES
            ):
                self.write_user_log(lines.take())
                batch_started = None
            if exited_at is None and self.process.poll() is not None:
                exited_at = now
            if exited_at is not None and (not open_pipe or now - exited_at > LEFTOVER_SECONDS):
                break
            if now >= next_cancel and self.stop_reason is None:
                self.check_cancel_and_timeout(deadline)
                if self.nodes > 1 and self.stop_reason is None:
                    self.check_nodes()
                next_cancel = now + CANCEL_POLL_SECONDS
            if now >= next_sync:
                self.sync_folder("logs")
                next_sync = now + LOGS_SYNC_SECONDS
        self.stop_leftovers()
        self.write_user_log(lines.close())
        selector.close()

    def write_user_log(self, data: bytes) -> None:
        if self.process_logs is not None:
            data = self.write_process_logs(data)
        if not data:
            return
        text = data.decode("utf-8", "replace")
        encoded = text.encode()
        offset = self.user_log.append(encoded)
        live.publish(
            self.group, {"kind": "log", "name": store.USER_LOG, "offset": offset, "data": text}
        )

    def write_process_logs(self, data: bytes) -> bytes:
        """Each tagged line to its process's log; returns the lines for the run's own log,
        each marked with its rank."""
        combined: list[bytes] = []
        per_rank: dict[int, list[bytes]] = {}
        for line in data.splitlines(keepends=True):
            rank, text = untag(line)
            if rank is None:
                combined.append(text)
                continue
            per_rank.setdefault(rank, []).append(text)
            combined.append(b"[rank %d] " % rank + text)
        for rank, lines in per_rank.items():
            log = self.process_logs.get(rank)
            if log is None:
                name = f"user_logs/std_log_process_{rank}.txt"
                log = self.process_logs[rank] = store.AppendLog(self.run.pk, name)
            text = b"".join(lines).decode("utf-8", "replace")
            offset = log.append(text.encode())
            live.publish(
                self.group, {"kind": "log", "name": log.name, "offset": offset, "data": text}
            )
        return b"".join(combined)

    def say(self, message: str) -> None:
        """A line in the run's system log, persisted and then pushed like user output."""
        stamp = _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        text = f"{stamp} {message}\n"
        with self._say_lock:
            try:
                offset = self.system_log.append(text.encode())
            except OSError as exc:  # a full disk: the run's end must still be recorded
                if not faults.disk_full(exc):
                    raise
                return
        live.publish(
            self.group, {"kind": "log", "name": store.SYSTEM_LOG, "offset": offset, "data": text}
        )

    def check_cancel_and_timeout(self, deadline: float) -> None:
        status = Run.objects.filter(pk=self.run.pk).values_list("status", "status_detail").first()
        if status and status[0] in (RunStatus.CANCEL_REQUESTED, RunStatus.FAILED):
            reason = status[1] or "Canceled by the user."
            self.stop_reason = (RunStatus.CANCELED, reason)
            self.say(f"Cancel requested: {reason}")
            self.kill_tree()
        elif time.time() > deadline:
            limit = self.run.definition["max_run_duration_seconds"]
            self.timeout_limit = limit
            reason = (
                f"The run exceeded max_run_duration_seconds={limit} and was canceled. Raise the "
                "limit in ScriptRunConfig(max_run_duration_seconds=...) if it needs longer."
            )
            self.stop_reason = (RunStatus.CANCELED, reason)
            self.say(reason)
            run_transition(run_id=self.run.pk, to=RunStatus.CANCEL_REQUESTED, detail=reason)
            self.kill_tree()

    def check_nodes(self) -> None:
        multinode.check_nodes(self)

    def kill_tree(self) -> None:
        """SIGTERM the script and every process it started, wait the grace period, then
        SIGKILL what is left."""
        if self.process is None:
            return
        grace = settings.MLSTUDIO_CANCEL_GRACE_SECONDS
        if self.container is not None:
            envdocker.container_stop(self.container, timeout=grace)
        ends = time.monotonic() + grace
        family = self.family()
        _signal_all(self.process.pid, family, signal.SIGTERM)
        # Popen reaps the script itself, so its exit code (the signal) is kept; psutil only
        # watches the others, which are not this process's children.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        _gone, alive = psutil.wait_procs(family, timeout=max(0.0, ends - time.monotonic()))
        if alive or self.process.poll() is None:
            self.say(f"{len(alive) + (self.process.poll() is None)} process(es) outlived "
                     "SIGTERM; sending SIGKILL")  # fmt: skip
            _signal_all(self.process.pid, alive, signal.SIGKILL)
            self.process.wait()

    def stop_leftovers(self) -> None:
        """Stop what the script left running after it exited (a server, a forked worker)."""
        if self.process is None or not self.family():
            return
        self.say(f"The script exited but {len(self.family())} process(es) it started still "
                 "run; stopping them")  # fmt: skip
        self.kill_tree()

    def family(self) -> list[psutil.Process]:
        """Every live process started for this run but the script itself: its descendants,
        and orphans that carry the run's id in their environment (they may have left the
        process group)."""
        found: dict[int, psutil.Process] = {}
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                found[child.pid] = child
        for proc in psutil.process_iter():
            if proc.pid in found or proc.pid == self.process.pid:
                continue
            with contextlib.suppress(psutil.Error):
                env = proc.environ()
                # The same run's processes on another node of this machine are not ours.
                if env.get("MLSTUDIO_RUN_ID") == self.run.pk and env.get(
                    "MLSTUDIO_NODE_RANK", "0"
                ) == str(self.node_rank):
                    found[proc.pid] = proc
        return [p for p in found.values() if _alive(p)]

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
        exit_code = self.process.returncode if self.process else None
        if self.metrics is None:
            self.copy_from_container(".mlstudio", "outputs", "logs")
        self.container_oom = faults.container_oom_killed(self.container)  # before it is removed
        self.remove_container()  # a finished run has no container left
        for folder in ("outputs", "logs"):
            try:
                self.sync_folder(folder)
                kept = [p for p, state in self._synced.items() if p.startswith(folder + "/")]
                collected = [p for p in kept if self._synced[p] != (-1, -1)]
                size = sum(self._synced[p][0] for p in collected)
                self.say(f"Collected ./{folder}: {len(collected)} file(s), {size} bytes")
            except OSError as exc:
                self.say(f"Could not collect ./{folder}: {exc}")
                self.stop_reason = self.stop_reason or (
                    RunStatus.FAILED,
                    f"Collecting ./{folder} failed: {exc}",
                )
        status, error = self.outcome(exit_code)
        self.say(f"Exit code {exit_code}; run {status}")
        run_children_finish(parent=self.run, ending=status)
        self.move(status, exit_code=exit_code, error=error, detail=(error or {}).get("message", ""))

    def copy_from_container(self, *folders: str) -> None:
        """Bring folders of the working folder back from a container that can't share it."""
        if not self.copies_files or self.container is None:
            return
        for folder in folders:
            try:
                envdocker.copy_out(self.container, str(self.workdir / folder))
            except Exception as exc:  # a folder the script never made, or the engine is gone
                if not envdocker.is_not_found(exc):
                    self.say(f"Could not copy ./{folder} out of the container: {exc}")

    def remove_container(self) -> None:
        if self.container is None:
            return
        try:
            envdocker.container_remove(self.container)
        except Exception as exc:  # the engine went away: say so, release the rest
            self.say(f"Could not remove container {self.container}: {exc}")
        self.container = None

    def release(self) -> None:
        self.remove_container()
        if self.memory is not None:
            self.memory.stop()
        if self.token is not None:
            api_token_revoke(user=self.token.user, token_id=self.token.pk)
        self.heartbeat.stop()
        self.close_logs()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def outcome(self, exit_code: int | None) -> tuple[str, dict | None]:
        if self.stop_reason is not None:
            status, message = self.stop_reason
            error = {"message": message, "exit_code": exit_code}
        elif exit_code == 0:
            return RunStatus.COMPLETED, None
        else:
            status = RunStatus.FAILED
            error = faults.name_a_full_disk(
                error_summary(self.run.pk, exit_code, workdir=self.workdir)
            )
        hint = self.hint(status, error)
        if hint is not None:
            error["hint"] = hint
        return status, error

    def hint(self, status: str, error: dict) -> dict | None:
        """The one-line troubleshooting hint for how the run ended (runs.hints); a hint that
        cannot be made never keeps the error itself from being recorded."""
        try:
            workspace = self.run.experiment.workspace.name
            links = hints.Links(
                run_page=reverse("run", args=[workspace, self.run.pk]),
                environments_page=reverse("environments", args=[workspace]),
            )
            return hints.hint_for(self.failure(status, error), links)
        except Exception as exc:
            self.say(f"No troubleshooting hint: {type(exc).__name__}: {exc}")
            return None

    def failure(self, status: str, error: dict) -> hints.Failure:
        build_log = ()
        if self.failed_build_log is not None:
            tail = _tail(store.run_file(self.run.pk, self.failed_build_log))
            build_log = tuple(tail.decode("utf-8", "replace").splitlines()[-40:])
        manifest = self.run.snapshot.manifest if self.run.snapshot_id else []
        return hints.Failure(
            status=status,
            # A script the executor stopped (cancel, timeout, its own error) was killed on
            # purpose: its exit code says nothing about the script.
            exit_code=error.get("exit_code") if self.stop_reason is None else None,
            traceback=error.get("traceback", ""),
            timeout_seconds=self.timeout_limit,
            build_error=error["message"] if self.failed_build_log else None,
            build_log=build_log,
            peak_memory=self.memory.peak if self.memory else None,
            oom_killed=self.container_oom or self.oom_killed(),
            in_container=self.built is not None and self.built.kind == "docker",
            environment=self.hint_environment(),
            snapshot_paths=frozenset(entry["path"] for entry in manifest),
        )

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process for memory in the worker's cgroup meanwhile."""
        if self.oom_kills_before is None:
            return False
        now = oom_kill_count()
        return now is not None and now > self.oom_kills_before

    def hint_environment(self) -> hints.Environment:
        reference = self.run.definition.get("environment") or {}
        if not reference.get("id"):
            return hints.Environment()
        version = environment_version_by_pk(pk=reference["id"])
        return hints.Environment(
            name=version.name,
            version=version.version,
            curated=version.environment.is_curated,
            user_managed=version.spec["python"]["user_managed_dependencies"],
            docker=bool(version.spec["docker"]["enabled"])
            or self.run.definition.get("target_type") == "docker",
        )

    def close_logs(self) -> None:
        self.user_log.close()
        self.system_log.close()
        for log in (self.process_logs or {}).values():
            log.close()

    def sync_folder(self, folder: str) -> None:
        """Copy new or changed files of ./<folder> into the run's files; skip links that lead
        out of the working folder."""
        source_root = self.workdir / folder
        if not source_root.is_dir():
            return
        work = Path(os.path.realpath(self.workdir))
        for current, dirs, names in os.walk(source_root):
            dirs[:] = [d for d in dirs if not (Path(current) / d).is_symlink()]
            for name in names:
                path = Path(current) / name
                relative = path.relative_to(self.workdir).as_posix()
                real = Path(os.path.realpath(path))
                if work not in real.parents:
                    if relative not in self._synced:
                        self.say(f"Skipped {relative}: it links outside the run's folder")
                        self._synced[relative] = (-1, -1)
                    continue
                if not real.is_file():  # gone meanwhile, or a pipe or socket
                    continue
                try:
                    self._sync_file(relative, real)
                except OSError as exc:  # it vanished or cannot be read: skip it, go on
                    self.say(f"Could not collect {relative}: {exc.strerror or exc}")

    def _sync_file(self, relative: str, real: Path) -> None:
        stat = real.stat()
        if self._synced.get(relative) == (stat.st_size, stat.st_mtime_ns):
            return
        target = store.run_file(self.run.pk, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        synced_size = self._synced.get(relative, (0, 0))[0]
        if (
            EVENT_MARK in real.name
            and 0 < synced_size <= stat.st_size
            and target.is_file()
            and target.stat().st_size == synced_size
            and target.stat().st_nlink == 1  # a registered model's blob shares a linked file
        ):
            # Event files only grow, and a TensorBoard watching the copy follows it as it
            # grows: append the new bytes rather than rewrite the file under its reader.
            with open(real, "rb") as source, open(target, "ab") as copy:
                source.seek(synced_size)
                shutil.copyfileobj(source, copy)
        else:
            store.replace_file(target, real)
        self._synced[relative] = (stat.st_size, stat.st_mtime_ns)
        live.publish(self.group, {"kind": "file", "name": relative, "size": stat.st_size})


class Heartbeat(threading.Thread):
    """Keeps the run's heartbeat fresh for the whole execution, preparing a large snapshot
    and collecting large outputs included, so the lost-worker sweep never fails a live run."""

    def __init__(self, run_id: str):
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.run_id = run_id
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(HEARTBEAT_SECONDS):
                try:
                    Run.objects.filter(pk=self.run_id).update(heartbeat_at=_now())
                except DatabaseError:  # a blip; the next beat tries again
                    connection.close()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join()


class MemoryWatch(threading.Thread):
    """Samples the memory the script's processes hold, so a run killed for lack of it can say
    how much it used. `peak` is the largest total resident size seen, in bytes."""

    def __init__(self, pid: int):
        super().__init__(name=f"memory-{pid}", daemon=True)
        self.pid = pid
        self.peak = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(MEMORY_SECONDS):
            self.peak = max(self.peak, _resident(self.pid))

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join()


def _resident(pid: int) -> int:
    """Bytes resident in process `pid` and its descendants."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


class LineSplitter:
    """Cuts output into complete lines for the log.

    A carriage return (tqdm, progress bars) overwrites the line it is on, so only the last
    state of such a line is kept. Lines longer than MAX_LINE are written in pieces, each cut
    at a UTF-8 boundary, so memory stays bounded.
    """

    def __init__(self):
        self.current = bytearray()
        self.ready = bytearray()

    @property
    def pending_output(self) -> bool:
        return bool(self.ready)

    @property
    def pending_size(self) -> int:
        return len(self.ready)

    def feed(self, chunk: bytes) -> None:
        self.current += chunk
        if b"\n" in chunk:
            *complete, rest = bytes(self.current).split(b"\n")
            for line in complete:
                self.ready += _last_state(line) + b"\n"
            self.current = bytearray(rest)
        if b"\r" in self.current:
            overwriting = self.current.endswith(b"\r")
            self.current = bytearray(_last_state(bytes(self.current)) + b"\r" * overwriting)
        if len(self.current) > MAX_LINE:
            cut = store.utf8_boundary(bytes(self.current[:MAX_LINE]))
            self.ready += self.current[:cut]
            del self.current[:cut]

    def take(self) -> bytes:
        data = bytes(self.ready)
        self.ready.clear()
        return data

    def close(self) -> bytes:
        if self.current:
            self.ready += _last_state(bytes(self.current)) + b"\n"
            self.current.clear()
        return self.take()


def _last_state(line: bytes) -> bytes:
    """What a terminal shows of a line rewritten with carriage returns: its last state."""
    if b"\r" not in line:
        return line
    states = [part for part in line.split(b"\r") if part]
    return states[-1] if states else b""


def error_summary(run_id: str, exit_code: int | None, *, workdir: Path) -> dict:
    """The last traceback of the user log (or its last lines) and the exit code, with paths
    shown relative to the snapshot, as the user knows them."""
    tail = _tail(store.run_file(run_id, store.USER_LOG))
    matches = list(TRACEBACK.finditer(tail))
    if matches:
        trace = tail[matches[-1].start() :].decode("utf-8", "replace").strip()
        trace = trace.replace(f'"{workdir}/', '"')
        last = trace.splitlines()[-1]
        message = f"{last} (exit code {exit_code})"
    else:
        trace = ""
        last_lines = tail.decode("utf-8", "replace").strip().splitlines()[-20:]
        message = f"The script exited with code {exit_code}."
        if last_lines:
            message += " Last output: " + " | ".join(last_lines[-3:])
        trace = "\n".join(last_lines)
    return {"message": message, "traceback": trace, "exit_code": exit_code}


def _tail(path: Path, size: int = 64 * 1024) -> bytes:
    """The last `size` bytes of a log; nothing for a log never written."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read()
    except FileNotFoundError:
        return b""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal_all(pgid: int, processes: list[psutil.Process], sig: signal.Signals) -> None:
    signal_group(pgid, sig)
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)
