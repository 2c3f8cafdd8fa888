"""Turn an environment version into something a run can start: an interpreter on this worker
(user-managed or a managed virtualenv) or a Docker image. Builds are cached by content hash.

Virtualenvs live in `<MLSTUDIO_ENVS_DIR>/<hash>`. One is built in a temporary folder beside
it and renamed into place after a marker file is written last, so a half-built environment
is never used; an fcntl lock on `<hash>.lock` makes concurrent builds of one hash (threads
or processes on this machine) wait for a single build. The last build log of each hash is
kept in `<MLSTUDIO_ENVS_DIR>/logs/<hash>.txt` for the environment's page.

The host's pip settings (index URLs, CA bundle, pip.conf) reach every pip this runs: the
process environment is passed through to virtualenv builds, and image builds get them from
environments.docker (build args and the CA bundle in the build context).
"""

from __future__ import annotations

import collections
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from django.conf import settings

from environments import conda_pip, installer, services
from environments import spec as specs
from environments.models import BuildStatus, EnvironmentVersion
from mlstudio.errors import UserError

Log = Callable[[str], None]
READY = ".mlstudio-ready"
IMAGE_REPOSITORY = "mlstudio/env"
# Variables that would point the new environment's pip or Python somewhere else.
NOT_PASSED = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PIP_USER")


class BuildError(UserError):
    """The environment could not be built; the message carries pip's or Docker's own words."""

    status = 422
    code = "environment_build_failed"


@dataclass(frozen=True)
class Built:
    """A ready environment. `python` is a path on this host (user-managed, virtualenv) or the
    interpreter inside `image` (docker). `cached` is True when nothing had to be built."""

    kind: Literal["user-managed", "virtualenv", "docker"]
    python: str
    image: str | None
    cached: bool
    hash: str
    notes: tuple[str, ...] = ()  # what the run's system log should say about this build


def environment_build(*, version: EnvironmentVersion, log: Log, docker: bool = False) -> Built:
    """Make `version` ready on this worker, building it unless its hash is cached.

    `docker=True` asks for an image whatever docker.enabled says (a docker compute target).
    Build output goes to `log` line by line as it happens. On failure the version is marked
    Failed with the tail of the output and BuildError is raised; the next call tries again.
    """
    if docker or version.spec["docker"]["enabled"]:
        return _image(version, log)
    if version.spec["python"]["user_managed_dependencies"]:
        return _user_managed(version, log)
    return _virtualenv(version, log)


def image_tag(version: EnvironmentVersion) -> str:
    return f"{IMAGE_REPOSITORY}:{version.content_hash[:32]}"


def envs_dir() -> Path:
    return Path(settings.MLSTUDIO_ENVS_DIR)


def build_log_path(content_hash: str) -> Path:
    return envs_dir() / "logs" / f"{content_hash}.txt"


def build_log_read(content_hash: str, offset: int = 0, limit: int = 256 * 1024) -> tuple[str, int]:
    """Text of the last build log of a hash from byte `offset`, and the offset after it."""
    path = build_log_path(content_hash)
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            offset = max(0, min(offset, size))
            if size - offset > limit:
                offset = size - limit
            handle.seek(offset)
            data = handle.read(limit)
    except FileNotFoundError:
        return "", 0
    return data.decode("utf-8", "replace"), offset + len(data)


def _label(version: EnvironmentVersion) -> str:
    return f"Environment {version.environment.name} v{version.number}"


# --- user-managed ---------------------------------------------------------------------------


def _user_managed(version: EnvironmentVersion, log: Log) -> Built:
    wanted = version.spec["python"]["interpreter_path"] or sys.executable
    python = shutil.which(wanted)
    if python is None:
        _fail(
            version,
            f"{_label(version)}: the interpreter {wanted!r} does not exist on worker "
            f"{socket.gethostname()}. Fix python.interpreter_path, or leave it empty to use the "
            "worker's own Python.",
        )
    log(f"{_label(version)}: user-managed, interpreter {python}")
    _succeeded(version)
    return Built("user-managed", python, None, True, version.content_hash)


# --- virtualenv -----------------------------------------------------------------------------


def _virtualenv(version: EnvironmentVersion, log: Log) -> Built:
    root, content_hash = envs_dir(), version.content_hash
    final = root / content_hash
    built = Built("virtualenv", str(final / "bin" / "python"), None, True, content_hash)
    if _ready(final):
        log(f"{_label(version)}: using cached virtualenv {content_hash[:16]}")
        _succeeded(version)
        return built
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root / f"{content_hash}.lock", version, log):
        if _ready(final):
            log(f"{_label(version)}: using cached virtualenv {content_hash[:16]}, just built")
            _succeeded(version)
            return built
        started = time.monotonic()
        notes: list[str] = []
        with _building(version, log) as build_log:
            conda = version.spec["python"]["conda_dependencies"]["conda_packages"]
            tool = conda_pip.conda_tool() if conda else None
            if tool:
                _make_conda_env(version, final, build_log, tool)
            else:
                extra = _conda_as_pip(version, conda, build_log, notes)
                _make_virtualenv(version, final, build_log, extra)
            build_log(
                f"{_label(version)}: built virtualenv {content_hash[:16]} "
                f"in {time.monotonic() - started:.1f} s"
            )
    return Built("virtualenv", built.python, None, False, content_hash, tuple(notes))


def _ready(folder: Path) -> bool:
    # The interpreter link breaks when the Python it came from is gone; rebuild then.
    return (folder / READY).is_file() and (folder / "bin" / "python").exists()


def _conda_as_pip(version: EnvironmentVersion, conda: list[str], log: Log,
                  notes: list[str]) -> list[str]:  # fmt: skip
    """Without conda on this worker, conda packages go to pip under their PyPI names; one
    that only conda has fails the build here, before anything is made."""
    if not conda:
        return []
    lines, conda_only = conda_pip.pip_requirements(conda)
    if conda_only:
        raise BuildError(
            f"{_label(version)}: conda package(s) {', '.join(conda_only)} exist only as conda "
            f"packages, and worker {socket.gethostname()} has no conda, mamba or micromamba. "
            "Install micromamba there (or name it in MLSTUDIO_CONDA), or replace them with pip "
            "packages in pip_packages."
        )
    pip = ", ".join(lines) or "nothing"
    notes.append(
        f"{_label(version)}: no conda, mamba or micromamba on worker {socket.gethostname()}; "
        f"conda packages {', '.join(conda)} are installed with pip as {pip}"
    )
    log(notes[-1])
    return lines


def _make_virtualenv(version: EnvironmentVersion, final: Path, log: Log,
                     extra: list[str] = ()) -> None:  # fmt: skip
    base = _base_python(version, log)
    for stale in final.parent.glob(f".{final.name[:16]}-*"):  # left by a killed build
        shutil.rmtree(stale, ignore_errors=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{final.name[:16]}-", dir=final.parent))
    temporary.chmod(0o755)  # runs use it as the run user, not the studio's (mlstudio.sandbox)
    try:
        _create_venv(base, temporary, log)
        _pip_install(version, temporary / "bin" / "python", log, extra)
        _point_scripts_at(temporary, final)
        _mark_ready(temporary, base)
        _replace(final, temporary)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _create_venv(base: str, folder: Path, log: Log) -> None:
    """`python -m venv`, with pip. Seeding pip from the base Python's bundled wheel with this
    worker's pip, uncompiled, takes a fraction of the time ensurepip does; where that is not
    possible (no bundled wheel, e.g. Debian's python3) plain venv does it."""
    wheel = _bundled_pip_wheel(base)
    if wheel is None:
        _run([base, "-m", "venv", str(folder)], log, what="python -m venv")
        return
    _run([base, "-m", "venv", "--without-pip", str(folder)], log, what="python -m venv")
    seed = [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install"]
    seed += ["--no-index", "--no-deps", "--no-compile", "--no-input", "--disable-pip-version-check"]
    _run([*seed, wheel], log, what="installing pip into the virtualenv")


def _bundled_pip_wheel(base: str) -> str | None:
    code = (
        "import ensurepip, glob, os; "
        "print(next(iter(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "
        "'_bundled', 'pip-*.whl'))), ''))"
    )
    try:
        out = subprocess.run([base, "-c", code], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    wheel = out.stdout.strip()
    return wheel if out.returncode == 0 and wheel else None


def _make_conda_env(version: EnvironmentVersion, final: Path, log: Log, tool: str) -> None:
    """Conda environments cannot be moved once made, so this one is made in place; the
    marker, written last, still keeps a half-made one from being used."""
    conda = version.spec["python"]["conda_dependencies"]
    shutil.rmtree(final, ignore_errors=True)
    python = conda["python_version"] or "{}.{}".format(*sys.version_info[:2])
    channels = [arg for channel in conda["channels"] for arg in ("-c", channel)]
    argv = [tool, "create", "-y", "-p", str(final), *channels, f"python={python}", "pip"]
    _run([*argv, *conda["conda_packages"]], log, what=f"{Path(tool).name} create")
    _pip_install(version, final / "bin" / "python", log)
    _mark_ready(final, tool)


def _pip_install(version: EnvironmentVersion, python: Path, log: Log, extra=()) -> None:
    text = specs.requirements_text(version.spec) + "".join(f"{line}\n" for line in extra)
    if not text:
        return
    requirements = python.parent.parent / "mlstudio-requirements.txt"
    requirements.write_text(text)
    installer.install(python, requirements, log, _run)


def _base_python(version: EnvironmentVersion, log: Log) -> str:
    """The interpreter the virtualenv is made from: interpreter_path, else one matching
    conda_dependencies.python_version, else the worker's own."""
    python = version.spec["python"]
    wanted = python["conda_dependencies"]["python_version"]
    given = python["interpreter_path"]
    candidates = [given] if given else [sys.executable, *([f"python{wanted}"] if wanted else [])]
    seen = []
    for candidate in candidates:
        path = shutil.which(candidate)
        if path is None:
            continue
        found = _python_version(path)
        seen.append(f"{path} ({found})")
        if not wanted or found == wanted or found.startswith(wanted + "."):
            log(f"{_label(version)}: making a virtualenv from {path} (Python {found})")
            return path
    if given and not seen:
        raise BuildError(
            f"{_label(version)}: the interpreter {given!r} does not exist on worker "
            f"{socket.gethostname()}. Fix python.interpreter_path, or leave it empty."
        )
    raise BuildError(
        f"{_label(version)} asks for Python {wanted}, but worker {socket.gethostname()} has "
        f"{', '.join(seen)}. Install python{wanted} there, or remove python_version."
    )


def _python_version(python: str) -> str:
    if Path(python).resolve() == Path(sys.executable).resolve():
        return "{}.{}.{}".format(*sys.version_info[:3])
    code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _point_scripts_at(temporary: Path, final: Path) -> None:
    """Scripts pip writes (bin/pip, console entry points) name the interpreter by absolute
    path; point them at where the folder will be after the rename."""
    old, new = str(temporary).encode(), str(final).encode()
    places = [temporary / "pyvenv.cfg", *(temporary / "bin").iterdir()]
    places += list(temporary.glob("lib/python*/site-packages/*.pth"))
    for path in places:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1024 * 1024:
            continue
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, new))


def _mark_ready(folder: Path, base: str) -> None:
    (folder / READY).write_text(json.dumps({"python": base, "built_at": time.time()}))


def _replace(final: Path, temporary: Path) -> None:
    if final.exists():  # a stale one whose interpreter went away; move it aside first
        stale = final.with_name(f".{final.name[:16]}-stale-{os.getpid()}")
        os.rename(final, stale)
        shutil.rmtree(stale, ignore_errors=True)
    os.rename(temporary, final)


# --- docker image ---------------------------------------------------------------------------


def _image(version: EnvironmentVersion, log: Log) -> Built:
    from environments import docker as envdocker

    tag, content_hash = image_tag(version), version.content_hash
    python = specs.image_python(version.spec)
    if envdocker.image_exists(tag):
        log(f"{_label(version)}: using cached image {tag}")
        _succeeded(version)
        return Built("docker", python, tag, True, content_hash)
    root = envs_dir()
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root / f"{content_hash}.image.lock", version, log):
        if envdocker.image_exists(tag):
            log(f"{_label(version)}: using cached image {tag}, just built")
            _succeeded(version)
            return Built("docker", python, tag, True, content_hash)
        with _building(version, log) as build_log:
            files = {"mlstudio/requirements.txt": specs.requirements_text(version.spec).encode()}
            preamble = ""
            if specs.pip_lines(version.spec):
                preamble, pip_files = envdocker.pip_settings_preamble()
                files.update(pip_files)
            dockerfile = specs.dockerfile_for(version.spec, preamble=preamble)
            build_log(f"{_label(version)}: building image {tag}")
            envdocker.build_image(
                tag=tag,
                dockerfile=dockerfile,
                context_files=files,
                registry=_registry(version),
                log=build_log,
            )
    return Built("docker", python, tag, False, content_hash)


def _registry(version: EnvironmentVersion) -> dict | None:
    registry = version.spec["docker"]["base_image_registry"]
    if not registry["address"]:
        return None
    password = services.environment_registry_password(version=version)
    return {"address": registry["address"], "username": registry["username"], "password": password}


# --- shared ---------------------------------------------------------------------------------


@contextmanager
def _lock(path: Path, version: EnvironmentVersion, log: Log) -> Iterator[None]:
    """An exclusive lock on a file, across threads and processes of this machine."""
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"{_label(version)}: waiting for another build of the same environment")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _building(version: EnvironmentVersion, log: Log) -> Iterator[Log]:
    """Mark the version Building, copy every line into the hash's build log, and mark it
    Succeeded or Failed (with the error) at the end."""
    path = build_log_path(version.content_hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    services.environment_build_mark(version=version, status=BuildStatus.BUILDING)
    with path.open("w", encoding="utf-8") as kept:

        def both(line: str) -> None:
            kept.write(line + "\n")
            kept.flush()
            log(line)

        try:
            yield both
        except UserError as exc:
            both(f"{_label(version)}: build failed: {exc.message}")
            services.environment_build_mark(
                version=version, status=BuildStatus.FAILED, detail=exc.message
            )
            if isinstance(exc, BuildError):
                raise
            raise BuildError(exc.message) from exc
        except BaseException as exc:
            services.environment_build_mark(
                version=version, status=BuildStatus.FAILED, detail=f"{type(exc).__name__}: {exc}"
            )
            raise
    services.environment_build_mark(version=version, status=BuildStatus.SUCCEEDED)


def _run(argv: list[str], log: Log, *, what: str, env: dict | None = None) -> None:
    """Run a build step, sending each output line to `log` as it comes; BuildError with the
    tool's own error lines when it fails. `env` adds variables."""
    env = {**{k: v for k, v in os.environ.items() if k not in NOT_PASSED}, **(env or {})}
    env["PYTHONUNBUFFERED"] = "1"
    tail: collections.deque[str] = collections.deque(maxlen=40)
    try:
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        raise BuildError(f"{what} could not start: {exc}") from None
    with process:
        for raw in process.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            log(line)
    if process.returncode:
        errors = [line for line in tail if line.startswith(("ERROR", "error:", "  \u00d7"))]
        errors = errors or list(tail)[-15:]
        raise BuildError(
            f"{what} failed (exit code {process.returncode}):\n" + "\n".join(errors).strip()
        )


def _succeeded(version: EnvironmentVersion) -> None:
    if version.build_status != BuildStatus.SUCCEEDED:
        services.environment_build_mark(version=version, status=BuildStatus.SUCCEEDED)


def _fail(version: EnvironmentVersion, message: str):
    services.environment_build_mark(version=version, status=BuildStatus.FAILED, detail=message)
    raise BuildError(message)
