"""The run's script on this node: placed on the host, in the run's sandbox, or in a container
of its image (runs.placement), run under a Django-free mlstudio.processes.Supervisor, and
what it left behind as evidence of how it ended (exit code, peak memory, OOM kills)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from mlstudio.processes import Every, Streaming, Supervisor, oom_kill_count
from runs import faults, placement
from runs.launch import LaunchPlan, PreparationError
from runs.outputs import RunContainer


class RunProcess:
    """The processes of one node of a run: a process group on this host, or a container."""

    def __init__(self, run_id: str, rank: int, workdir: Path, *, say: Callable[[str], None]):
        self.run_id = run_id
        self.rank = rank
        self.workdir = workdir
        self.say = say
        self.container: RunContainer | None = None
        self.container_name: str | None = None  # kept after the container is removed
        self.container_oom = False
        self.supervisor: Supervisor | None = None
        self.popen = subprocess.Popen  # sandbox.Popen for a sandboxed command
        self.oom_kills_before: int | None = None

    @property
    def exit_code(self) -> int | None:
        return self.supervisor.returncode if self.supervisor else None

    def place(self, plan: LaunchPlan, *, python: str) -> tuple[list[str], dict[str, str]]:
        """The command and environment that run the plan where it belongs."""
        if plan.container is None:
            argv, env, self.popen = placement.on_host(
                plan, python=python, workdir=self.workdir, say=self.say
            )
            return argv, env
        self.container = RunContainer(plan.container.name, self.workdir, say=self.say)
        self.container_name = plan.container.name
        return placement.in_container(plan, self.container)

    def start(self, argv: list[str], env: dict[str, str]) -> None:
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
            popen=self.popen,
            # A script yields the CPU to the studio's own processes (its output's path to the
            # browser), never to another run: all runs get the same niceness.
            niceness=settings.MLSTUDIO_RUN_NICENESS if on_host else 0,
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
        return env.get("MLSTUDIO_RUN_ID") == self.run_id and env.get(
            "MLSTUDIO_NODE_RANK", "0"
        ) == str(self.rank)

    def stream(self, output: Callable, *, checks: list[Every]) -> None:
        """Until the processes end: their output to `output`, and the periodic `checks`."""
        self.supervisor.stream(output, checks=checks, how=Streaming())

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()

    def copy_out(self, *folders: str) -> None:
        if self.container is not None:
            self.container.copy_out(*folders)

    def end(self) -> None:
        """Read Docker's own record of an OOM kill, then remove the container: a finished
        run has no container left."""
        if self.container is not None:
            self.container_oom = faults.container_oom_killed(self.container.name)
        self.remove_container()

    def evidence(self) -> dict:
        """What the failure hint needs to know of the processes (runs.hints.Evidence)."""
        return {
            "peak_memory": self.supervisor.peak_memory if self.supervisor else None,
            "oom_killed": self.container_oom or self.oom_killed(),
            "in_container": self.container_name is not None,
        }

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process for memory in the worker's cgroup meanwhile."""
        if self.oom_kills_before is None:
            return False
        now = oom_kill_count()
        return now is not None and now > self.oom_kills_before

    def remove_container(self) -> None:
        if self.container is not None:
            self.container.remove()

    def close(self) -> None:
        self.remove_container()
        if self.supervisor is not None:
            self.supervisor.close()
