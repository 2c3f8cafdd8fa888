"""Where a run's script runs: on this host, in the run's sandbox as the run user
(mlstudio.sandbox), or in a container of its environment's image (environments.docker)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from environments import containers
from environments import docker as envdocker
from mlstudio import sandbox
from runs.launch import LaunchPlan
from runs.outputs import RunContainer

REPO_ROOT = Path(__file__).resolve().parent.parent  # the studio's checkout: the SDK's home
_NO_NETWORK = (
    "Network: none (MLSTUDIO_RUN_NETWORK is off); the run reaches no host, the studio's files "
    "{how}. Metrics still arrive (files in the working folder); MLflow logging and SDK calls "
    "to the studio's API do not."
)
_NETWORK_KEPT = (
    "MLSTUDIO_RUN_NETWORK is off, but without bubblewrap this run gets no network namespace "
    "of its own: it keeps the host's network. Install bubblewrap to cut it."
)

_READ_ONLY = {
    False: "Read-only volumes in the container (linked dataset files): {}",
    True: "Dataset folders copied into the container (the copies are the script's to "
    "change; the store's files are not reached): {}",
}


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
    if not found.network:
        say(_NO_NETWORK.format(how="are in its folder") if found.bwrap else _NETWORK_KEPT)
    argv, env = sandbox.sandbox_argv(plan.argv, found), sandbox.sandbox_env(plan.env)
    # Only bwrap gives the run a PID namespace (and its exit codes): a run that merely
    # drops to the run user is started, and its orphans looked for, like any process.
    return argv, env, sandbox.Popen if found.bwrap else subprocess.Popen


def in_container(plan: LaunchPlan, container: RunContainer) -> tuple[list[str], dict[str, str]]:
    """The docker CLI command that runs the plan in its image as the run user: the working
    folder mounted at the same path, the SDK mounted read-only; or, for an engine on another
    machine, a container the files are copied into (the working folder the run user's, the SDK
    root's). The host's network so the SDK reaches the studio, or none when
    MLSTUDIO_RUN_NETWORK is off."""
    spec = plan.container
    containers.container_remove(spec.name)  # a redelivery's leftover
    start_container = (
        containers.container_create if container.copies_files else containers.container_argv
    )
    if container.copies_files:
        container.say(f"Docker engine {envdocker.engine_address()}: copying files in and out")
    env = plan.env
    user = _container_user(spec.image)
    if user and not container.copies_files:  # a copy is made the run user's as it goes in
        sandbox.workdir_hand_over(container.workdir, user)
    elif not user and not container.copies_files:
        _mounted_for_image_user(spec.image, container)
    if user:  # a user the image does not know has no home of its own
        env = {**env, "HOME": "/tmp"}  # noqa: S108 - the container's own /tmp
    if spec.read_only:
        container.say(_READ_ONLY[container.copies_files].format(", ".join(spec.read_only)))
    network = settings.MLSTUDIO_RUN_NETWORK
    if not network:
        how = "come by copy" if container.copies_files else "come by mount"
        container.say(_NO_NETWORK.format(how=how))
    run = containers.ContainerRun(name=spec.name, image=spec.image, argv=plan.argv,
                                  workdir=spec.workdir, env=env, sdk_path=spec.sdk_path,
                                  shm_size=spec.shm_size, arguments=list(spec.arguments),
                                  user=f"{user[0]}:{user[1]}" if user else None,
                                  network=network, read_only=spec.read_only)  # fmt: skip
    argv = start_container(run)
    return argv, containers.container_env(env)


def _mounted_for_image_user(image: str, container: RunContainer) -> None:
    """An image with its own numeric USER gets the mounted working folder as its own; a
    named one only the image can resolve, which the system log says."""
    named = envdocker.image_user(image)
    found = re.fullmatch(r"(\d+)(?::(\d+))?", named)
    if found:
        uid = int(found[1])
        sandbox.workdir_hand_over(container.workdir, (uid, int(found[2] or uid)))
    elif named and named != "root":
        container.say(f"The image runs as {named!r}, a user only the image knows: the mounted "
                      "working folder stays the studio's, so that user may not write "
                      "./outputs. Give the image a numeric USER (uid:gid) to have it handed "
                      "over.")  # fmt: skip


def _container_user(image: str) -> tuple[int, int] | None:
    """The (uid, gid) a run's container runs as: the run user (or, without one, the studio's
    own); None when the image names its own USER, or when that would be root."""
    if envdocker.image_user(image):
        return None
    found = sandbox.isolation().user or (os.getuid(), os.getgid())
    return None if found[0] == 0 else found
