"""Where a run's script runs: on this host, in the run's sandbox as the run user
(mlstudio.sandbox), or in a container of its environment's image (environments.docker)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from environments import containers
from environments import docker as envdocker
from mlstudio import sandbox
from runs.launch import LaunchPlan
from runs.outputs import RunContainer

REPO_ROOT = Path(__file__).resolve().parent.parent  # the studio's checkout: the SDK's home


def on_host(plan: LaunchPlan, *, python: str, workdir: Path,
            say: Callable[[str], None]) -> tuple[list[str], dict[str, str], type]:  # fmt: skip
    """The command run in the run's sandbox as the run user, the working folder handed over
    to that user, and the Popen that starts it; the plan as it is where no sandbox can be
    made."""
    found = sandbox.sandbox_for(workdir=workdir, python=python, sdk=REPO_ROOT / "mlstudio")
    say(sandbox.isolation().summary)
    if found is None:
        return plan.argv, plan.env, subprocess.Popen
    sandbox.workdir_hand_over(workdir, found.user)
    argv, env = sandbox.sandbox_argv(plan.argv, found), sandbox.sandbox_env(plan.env)
    return argv, env, sandbox.Popen


def in_container(plan: LaunchPlan, container: RunContainer) -> tuple[list[str], dict[str, str]]:
    """The docker CLI command that runs the plan in its image: the working folder mounted at
    the same path, the SDK mounted read-only, host networking so the SDK reaches the studio;
    or, for an engine on another machine, a container the files are copied into."""
    spec = plan.container
    containers.container_remove(spec.name)  # a redelivery's leftover
    start_container = (
        containers.container_create if container.copies_files else containers.container_argv
    )
    if container.copies_files:
        container.say(f"Docker engine {envdocker.engine_address()}: copying files in and out")
    env = plan.env
    user = None if container.copies_files else _container_user(spec.image, container.workdir)
    if user:  # a user the image does not know has no home of its own
        env = {**env, "HOME": "/tmp"}  # noqa: S108 - the container's own /tmp
    run = containers.ContainerRun(name=spec.name, image=spec.image, argv=plan.argv,
                                  workdir=spec.workdir, env=env, sdk_path=spec.sdk_path,
                                  shm_size=spec.shm_size, arguments=list(spec.arguments),
                                  user=user)  # fmt: skip
    argv = start_container(run)
    return argv, containers.container_env(env)


def _container_user(image: str, workdir: Path) -> str | None:
    """The run user (uid:gid) unless the image names its own USER; the working folder
    becomes theirs, so the script can write it."""
    if envdocker.image_user(image):
        return None
    found = sandbox.isolation().user or (os.getuid(), os.getgid())
    sandbox.workdir_hand_over(workdir, found)
    return None if found[0] == 0 else f"{found[0]}:{found[1]}"
