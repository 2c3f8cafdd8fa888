"""Run containers on the Docker engine: the options a spec may carry (validated), the command
line that starts a container like a script, and the files copied in and out of one on an
engine that cannot share this host's folders. No database here: callers pass plain values."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from docker import errors as docker_errors

from environments.docker import SDK_DIR, client
from environments.spec import shm_size_clean
from mlstudio.errors import UserError

# docker.arguments a spec may carry: resource limits and harmless settings. Anything that
# reaches the host (devices, capabilities, host namespaces, host folders) is refused.
_ARGUMENTS_WITH_VALUE = {
    "--add-host", "--blkio-weight", "-c", "--cpu-period", "--cpu-quota", "--cpu-shares",
    "--cpus", "--cpuset-cpus", "--cpuset-mems", "-e", "--env", "--gpus", "--ipc", "-l",
    "--label", "-m", "--memory", "--memory-reservation", "--memory-swap", "--memory-swappiness",
    "--mount", "--oom-score-adj", "--pids-limit", "--shm-size", "--stop-signal",
    "--stop-timeout", "--tmpfs", "--ulimit", "-v", "--volume",
}  # fmt: skip
_FLAGS = {"--read-only", "--oom-kill-disable"}
_WHY_REFUSED = {
    "--privileged": "it gives the container every device and capability of the host",
    "--cap-add": "it adds kernel capabilities",
    "--security-opt": "it can switch off seccomp and AppArmor",
    "--device": "it hands a host device to the container",
    "--pid": "it shares the host's process namespace",
    "--userns": "it can switch off user-namespace isolation",
    "--uts": "it shares the host's hostname namespace",
    "--cgroupns": "it shares the host's cgroup namespace",
    "--volumes-from": "it mounts another container's volumes",
    "--network": "MLStudio sets the network itself: the host's, or none with "
    "MLSTUDIO_RUN_NETWORK=false",
    "--net": "MLStudio sets the network itself: the host's, or none with "
    "MLSTUDIO_RUN_NETWORK=false",
    "--env-file": "it reads a file on the host",
    "--entrypoint": "MLStudio starts the script itself",
    "--name": "MLStudio names the container",
    "--rm": "MLStudio removes the container after collecting outputs",
}


def validate_arguments(arguments: Sequence[str]) -> list[str]:
    """`docker.arguments` if all are allowed; a UserError naming the first one that is not."""
    i = 0
    while i < len(arguments):
        flag, value, step = _split_argument(arguments, i)
        _check_argument(flag, value)
        i += step
    return list(arguments)


def _split_argument(arguments: Sequence[str], i: int) -> tuple[str, str | None, int]:
    word = arguments[i]
    if word.startswith("--") and "=" in word:
        flag, value = word.split("=", 1)
        return flag, value, 1
    if word in _ARGUMENTS_WITH_VALUE:
        if i + 1 >= len(arguments):
            raise UserError(f"docker.arguments: {word} needs a value.")
        return word, arguments[i + 1], 2
    if len(word) > 2 and word[0] == "-" and word[1] != "-" and word[:2] in _ARGUMENTS_WITH_VALUE:
        return word[:2], word[2:], 1
    return word, None, 1


def _check_argument(flag: str, value: str | None) -> None:
    allowed = sorted(_ARGUMENTS_WITH_VALUE | _FLAGS)
    if flag in _WHY_REFUSED:
        raise UserError(
            f"docker.arguments: {flag} is not allowed: {_WHY_REFUSED[flag]}. Allowed: "
            f"{', '.join(allowed)}."
        )
    if flag not in _ARGUMENTS_WITH_VALUE and flag not in _FLAGS:
        raise UserError(
            f"docker.arguments: {flag!r} is not an option MLStudio passes to `docker run`. "
            f"Allowed: {', '.join(allowed)}."
        )
    if flag in ("-v", "--volume") and value is not None and _names_host_path(value):
        raise UserError(
            f"docker.arguments: {flag} {value} mounts a host folder; only named volumes "
            "(name:/path) are allowed."
        )
    if flag == "--mount" and value is not None and not _plain_mount(value):
        raise UserError(
            f"docker.arguments: --mount {value} must be type=volume or type=tmpfs without "
            "volume options; host folders can't be mounted."
        )
    if flag == "--ipc" and value not in ("private", "shareable", "none"):
        raise UserError(
            f"docker.arguments: --ipc {value} is not allowed; use private, shareable or none "
            "(raise docker.shm_size for PyTorch data loaders)."
        )


def _plain_mount(mount: str) -> bool:
    fields = [field.partition("=") for field in mount.split(",")]
    types = {value for key, _, value in fields if key == "type"}
    # A local volume with volume-opt device=/… is a bind mount in disguise.
    options = {key for key, _, _ in fields if key.startswith(("volume-opt", "volume-driver"))}
    return types in ({"volume"}, {"tmpfs"}) and not options


def _names_host_path(volume: str) -> bool:
    source, colon, _ = volume.partition(":")
    # No colon: an anonymous volume at that path in the container.
    return bool(colon) and (source.startswith((".", "~")) or "/" in source)


@dataclass(frozen=True)
class ContainerRun:
    """A run's script in a container: its image and command, the host folder it works in
    (`workdir`), its variables, and the folder holding the studio's `mlstudio` package.
    `user` is who the script runs as (user[:group], None for the image's own); `network`
    False gives it no network at all (`--network none`), True the host's. `read_only` are
    folders under `workdir` mounted read-only over it (a mounted dataset's linked files)."""

    name: str
    image: str
    argv: list[str]
    workdir: str
    env: dict[str, str]
    sdk_path: str
    shm_size: str | None = None
    arguments: Sequence[str] = ()
    user: str | None = None
    network: bool = True
    read_only: Sequence[str] = ()


def container_argv(run: ContainerRun) -> list[str]:
    """A `docker run` command line to start with subprocess.Popen, as if it were the script.

    Pass `env=container_env(run.env)` to Popen: the command line names the variables but
    carries no values, so tokens never show in `ps`. `workdir` (a host folder) is mounted at
    the same path, so paths in `env` stay valid; the `mlstudio` package under `sdk_path` is
    mounted read-only and importable. stdout and stderr stay separate pipes and the CLI's exit
    code is the script's. The container is kept after it exits (for copy_out and the exit
    code): container_remove it afterwards. For a remote engine use container_create instead.
    """
    workdir = _absolute(run.workdir, "workdir")
    sdk_package = _absolute(str(Path(run.sdk_path) / "mlstudio"), "sdk_path")
    mounts = ["-v", f"{workdir}:{workdir}", "-v", f"{sdk_package}:{SDK_DIR}/mlstudio:ro"]
    for folder in run.read_only:  # over the working folder's mount: nobody inside writes them
        folder = _absolute(folder, "read_only")
        mounts += ["-v", f"{folder}:{folder}:ro"]
    return ["docker", "run", *_run_options(run, workdir), *mounts, run.image, *run.argv]


def container_create(run: ContainerRun) -> list[str]:
    """For an engine that can't see this host's folders (engine_is_remote()): create the
    container, copy `workdir` and the SDK into it, and return the `docker start` command
    line to Popen exactly like container_argv's. The copied `workdir` belongs to `user` when
    it is a uid:gid (so the script can write it), the SDK to root (so it cannot). Afterwards
    copy_out(name, workdir) brings outputs and logs back, then container_remove(name)."""
    workdir = _absolute(run.workdir, "workdir")
    created = subprocess.run(
        ["docker", "create", *_run_options(run, workdir), run.image, *run.argv],
        env=container_env(run.env),
        capture_output=True,
        text=True,
        check=False,
    )
    if created.returncode != 0:
        raise UserError(f"Docker could not create container {run.name}: {created.stderr.strip()}")
    # An image that names its own USER runs as a user only it knows: its copy is open to all
    # (the container holds this one run) so that user can write ./outputs.
    copy_in(run.name, workdir, owner=_numeric_user(run.user), open_to_all=run.user is None)
    copy_in(run.name, str(Path(run.sdk_path) / "mlstudio"), dest=f"{SDK_DIR}/mlstudio",
            owner=(0, 0))  # fmt: skip
    return ["docker", "start", "--attach", run.name]


def container_env(env: dict[str, str]) -> dict[str, str]:
    """The environment for the docker CLI process of container_argv/container_create: the
    worker's own (DOCKER_HOST and friends) plus the run's variables, which the CLI passes on."""
    return {**os.environ, **{key: str(value) for key, value in env.items()}}


def _run_options(run: ContainerRun, workdir: str) -> list[str]:
    env = run.env
    options = ["--name", run.name, "--label", "mlstudio.run-container=1", "--init"]
    options += ["--network", "host" if run.network else "none", "--workdir", workdir]
    for key in env:
        if key == "PYTHONPATH":
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UserError(f"Environment variable name {key!r} is not valid.")
        options += ["--env", key]
    python_path = ":".join(filter(None, [SDK_DIR, env.get("PYTHONPATH")]))
    options += ["--env", f"PYTHONPATH={python_path}"]
    if run.shm_size:
        options += ["--shm-size", shm_size_clean(run.shm_size)]
    if run.user:
        if not re.fullmatch(r"[\w.-]+(:[\w.-]+)?", run.user):
            raise UserError(f"Container user {run.user!r} is not a user[:group] name or id.")
        options += ["--user", run.user]
    return options + validate_arguments(list(run.arguments))


def _numeric_user(user: str | None) -> tuple[int, int] | None:
    """(uid, gid) of a "uid:gid" user; None for a name, which only the image can resolve."""
    match = re.fullmatch(r"(\d+):(\d+)", user or "")
    return (int(match[1]), int(match[2])) if match else None


def _absolute(path: str, what: str) -> str:
    if not os.path.isabs(path):
        raise ValueError(f"{what} must be an absolute path, not {path!r}")
    return os.path.normpath(path)


def container_stop(name: str, timeout: int = 10) -> None:
    """SIGTERM the container's process, SIGKILL after `timeout` seconds; fine if it is gone."""
    with closing(client()) as engine, suppress(docker_errors.NotFound):
        engine.api.stop(name, timeout=timeout)


def container_remove(name: str) -> None:
    """Remove the container, running or not; fine if it is already gone."""
    with closing(client()) as engine:
        try:
            engine.api.remove_container(name, force=True)
        except docker_errors.NotFound:
            pass
        except docker_errors.APIError as error:
            if "already in progress" not in str(error):
                raise


def container_state(name: str) -> dict:
    """Docker's State of the container (Running, ExitCode, OOMKilled, …); {} when it is gone."""
    with closing(client()) as engine:
        try:
            return engine.api.inspect_container(name)["State"]
        except docker_errors.NotFound:
            return {}


def container_exit_code(name: str) -> int | None:
    """The exit code of a finished container; None while it runs or when there is none."""
    state = container_state(name)
    return None if not state or state.get("Running") else state.get("ExitCode")


def copy_in(
    name: str,
    folder: str,
    *,
    dest: str | None = None,
    owner: tuple[int, int] | None = None,
    open_to_all: bool = False,
) -> None:
    """Copy a host folder into a (created or running) container at `dest`, by default the
    same path; missing parent folders are created (root's). Every copied file and folder
    belongs to `owner` (uid, gid) in the container, or keeps its owner on this host; with
    `open_to_all`, anyone in the container may also write them."""
    dest = _absolute(dest or folder, "dest")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(folder, arcname=dest.lstrip("/"), filter=_owned_by(owner, open_to_all))
    buffer.seek(0)
    with closing(client(timeout=600)) as engine:
        engine.api.put_archive(name, "/", buffer)


def _owned_by(owner: tuple[int, int] | None, open_to_all: bool = False):
    def own(member: tarfile.TarInfo) -> tarfile.TarInfo:
        if owner is not None:
            member.uid, member.gid = owner
            member.uname = member.gname = ""  # the engine would prefer a name it knows
        if open_to_all and (member.isdir() or member.isfile()):
            member.mode |= 0o777 if member.isdir() else 0o666
        return member

    return own


def copy_out(name: str, folder: str) -> None:
    """Copy the container's `folder` back over the host folder of the same path (new and
    changed files; nothing is deleted). Links and paths that would leave it are skipped."""
    folder = _absolute(folder, "folder")
    with closing(client(timeout=600)) as engine:
        stream, _ = engine.api.get_archive(name, folder)
        with tempfile.TemporaryFile() as spool:
            for chunk in stream:
                spool.write(chunk)
            spool.seek(0)
            with tarfile.open(fileobj=spool, mode="r") as archive:
                # Safe: every member goes through tarfile.data_filter first.
                archive.extractall(Path(folder).parent, filter=_inside_only)  # noqa: S202


def _inside_only(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    # A venv's link to /usr/bin/python3 must not cost the run its other outputs: skip, go on.
    try:
        return tarfile.data_filter(member, path)
    except tarfile.FilterError:
        return None
