"""The Docker engine, through docker-py and the docker CLI: image builds whose log streams live,
base images pulled with a private registry's credentials, and containers that look like a
process to the run executor. No database here: callers pass plain values.

Registries are plain dicts `{"address": "host[:port]", "username": ..., "password": ...}`
(the spec's `docker.base_image_registry`).
"""

from __future__ import annotations

import configparser
import io
import ipaddress
import os
import re
import subprocess
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import docker
from django.conf import settings
from docker import errors as docker_errors
from docker.utils import parse_repository_tag

from mlstudio.errors import UserError

Log = Callable[[str], None]

# Inside a container the SDK lives here, read-only, on PYTHONPATH.
SDK_DIR = "/opt/mlstudio-sdk"
# The host's CA bundle, as placed in a build context and in the image by pip_settings_preamble().
CA_BUNDLE_CONTEXT_PATH = "mlstudio-pip-ca.crt"
CA_BUNDLE_IMAGE_PATH = "/etc/mlstudio/pip-ca.crt"
PIP_BUILD_ARGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST")
# Docker's predefined build args: honoured without an ARG line and kept out of `docker history`.
PROXY_BUILD_ARGS = tuple(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
AUTH_REFUSED = ("unauthorized", "authentication required", "no basic auth", "denied")


class BuildError(UserError):
    """An image could not be built or pulled; the message says why and what to change."""

    code = "build_failed"


# --- the engine ------------------------------------------------------------------------------


def client(*, timeout: int | None = 60) -> docker.DockerClient:
    """A docker-py client that has answered a ping; the caller closes it."""
    try:
        engine = docker.from_env(timeout=timeout)
        engine.ping()
    except docker_errors.DockerException as error:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (default)"
        raise UserError(
            f"No Docker engine at DOCKER_HOST={where}: start dockerd (scripts/docker-up does) "
            f"or set DOCKER_HOST. Docker said: {error}"
        ) from error
    return engine


def engine_is_remote() -> bool:
    """True when DOCKER_HOST names another machine: its containers can't see this host's
    folders, so runs copy files in and out (container_create, copy_out) instead of mounting."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host or host.startswith(("unix://", "npipe://")):
        return False
    hostname = urlsplit(host).hostname or ""
    if hostname == "localhost":
        return False
    try:
        return not ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return True


def copies_files() -> bool:
    """Whether run containers get their files by copy (put_archive/get_archive) instead of a
    mount: always for a remote engine, and when MLSTUDIO_DOCKER_COPY_FILES is set."""
    return engine_is_remote() or settings.MLSTUDIO_DOCKER_COPY_FILES


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def is_not_found(error: Exception) -> bool:
    return isinstance(error, docker_errors.NotFound)


def image_exists(tag: str) -> bool:
    engine = client()
    try:
        engine.images.get(tag)
        return True
    except docker_errors.ImageNotFound:
        return False
    finally:
        engine.close()


def image_user(tag: str) -> str:
    """The user an image says its processes run as (its USER), "" when it names none."""
    engine = client()
    try:
        return engine.api.inspect_image(tag).get("Config", {}).get("User") or ""
    except docker_errors.ImageNotFound:
        return ""
    finally:
        engine.close()


# --- pip settings for builds -----------------------------------------------------------------


def host_pip_settings() -> dict[str, str]:
    """The host's pip index settings (pip.conf files, then PIP_* variables), as PIP_* names.

    Only http(s) indexes: a `file://` index is a folder on this host that no build can see.
    """
    settings: dict[str, str] = {}
    for path in _pip_config_files():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path)
        except configparser.Error:
            continue
        for section in ("global", "install"):
            for key in ("index-url", "extra-index-url", "trusted-host"):
                if parser.has_option(section, key):
                    settings[f"PIP_{key.upper().replace('-', '_')}"] = parser.get(section, key)
    settings.update({name: os.environ[name] for name in PIP_BUILD_ARGS if os.environ.get(name)})
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        urls = [url for url in settings.get(name, "").split() if url.startswith("http")]
        if urls:
            settings[name] = " ".join(urls)
        else:
            settings.pop(name, None)
    settings["PIP_TRUSTED_HOST"] = " ".join(settings.get("PIP_TRUSTED_HOST", "").split())
    return {name: value for name, value in settings.items() if value}


def host_ca_bundle() -> Path | None:
    """The CA bundle this host's pip trusts: the one a TLS-inspecting proxy is in, if any."""
    candidates = [
        os.environ.get("PIP_CERT"),
        _pip_config_value("cert"),
        os.environ.get("REQUESTS_CA_BUNDLE"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ]
    try:
        import certifi

        candidates.append(certifi.where())
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def pip_settings_preamble() -> tuple[str, dict[str, bytes]]:
    """Dockerfile lines to put right after a FROM line, and the files they need in the context.

    They declare PIP_INDEX_URL, PIP_EXTRA_INDEX_URL and PIP_TRUSTED_HOST as build args
    (build_image fills them from host_pip_settings(); unset ones stay unset) and copy the host's
    CA bundle into the image as PIP_CERT. The lines are the same on every host, so they can
    be part of a content hash; the bundle's bytes and the index URLs are host facts, not
    environment facts, and should stay out of it.
    """
    lines = ["# MLStudio: the host's pip settings (index URLs come as build args)"]
    lines += [f"ARG {name}" for name in PIP_BUILD_ARGS]
    files: dict[str, bytes] = {}
    bundle = host_ca_bundle()
    if bundle is not None:
        files[CA_BUNDLE_CONTEXT_PATH] = bundle.read_bytes()
        lines.append(f"COPY {CA_BUNDLE_CONTEXT_PATH} {CA_BUNDLE_IMAGE_PATH}")
        lines.append(f"ENV PIP_CERT={CA_BUNDLE_IMAGE_PATH}")
    return "\n".join(lines) + "\n", files


def _pip_config_files() -> list[Path]:
    home = Path.home()
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    files = [
        Path("/etc/xdg/pip/pip.conf"),
        Path("/etc/pip.conf"),
        home / ".pip" / "pip.conf",
        config_home / "pip" / "pip.conf",
    ]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    return [path for path in files if path.is_file()]


def _pip_config_value(key: str) -> str | None:
    value = None
    for path in _pip_config_files():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path)
        except configparser.Error:
            continue
        if parser.has_option("global", key):
            value = parser.get("global", key)
    return value


# --- builds and pulls ------------------------------------------------------------------------


def build_image(
    *,
    tag: str,
    dockerfile: str,
    context_files: dict[str, bytes],
    registry: dict | None,
    log: Log,
) -> None:
    """Build `dockerfile` with `context_files` as its context and tag it `tag`.

    Each line of Docker's output reaches `log` as it arrives. Base images missing on the
    engine are pulled first, with `registry`'s credentials. The build uses the host's
    network, so `pip install` reaches the same index the host does. Any failure raises
    BuildError with Docker's (or pip's) message; no intermediate container is left behind.
    """
    engine = client(timeout=None)  # a quiet RUN step may take hours
    try:
        for image in base_images(dockerfile):
            if not _has_image(engine, image):
                pull(image, registry, log)
        _build(engine, tag, dockerfile, context_files, log)
    finally:
        engine.close()


def pull(image: str, registry: dict | None, log: Log) -> None:
    """Pull `image` onto the engine, with `registry`'s credentials when given.

    An image named without a registry host (`team/base:1`) is pulled from the registry's
    address and also tagged under its short name, so `FROM team/base:1` builds.
    """
    engine = client(timeout=600)
    try:
        _pull(engine, image, registry, log)
    finally:
        engine.close()


def base_images(dockerfile: str) -> list[str]:
    """The images the Dockerfile's FROM lines name, minus `scratch`, earlier stages and
    references to build args that have no default."""
    defaults: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    seen_from = False
    for instruction, words in _instructions(dockerfile):
        if instruction == "ARG" and not seen_from and words:
            name, _, default = words[0].partition("=")
            defaults[name] = default.strip("\"'")
        elif instruction == "FROM":
            seen_from = True
            words = [word for word in words if not word.startswith("--")]
            if not words:
                continue
            image = _expand(words[0], defaults)
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.add(words[2].lower())
            if image and image.lower() not in stages and image != "scratch":
                images.append(image)
    return list(dict.fromkeys(images))


def _instructions(dockerfile: str) -> Iterator[tuple[str, list[str]]]:
    logical = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instruction, _, rest = logical.partition(" ")
        yield instruction.upper(), rest.split()
        logical = ""


def _expand(word: str, defaults: dict[str, str]) -> str | None:
    unresolved = []

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if not defaults.get(name):
            unresolved.append(name)
        return defaults.get(name, "")

    expanded = re.sub(r"\$\{(\w+)\}|\$(\w+)", value, word)
    return None if unresolved else expanded


def _has_image(engine: docker.DockerClient, image: str) -> bool:
    try:
        engine.images.get(image)
        return True
    except docker_errors.APIError:  # not found, or a malformed name the pull will explain
        return False


def _registry_host(image: str) -> str | None:
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def _normalised_address(address: str) -> str:
    return re.sub(r"^[a-z]+://", "", address.strip()).rstrip("/")


def _pull(engine: docker.DockerClient, image: str, registry: dict | None, log: Log) -> None:
    address = _normalised_address((registry or {}).get("address") or "")
    host = _registry_host(image)
    source, where = image, host or "docker.io"
    if address and host is None:
        source, where = f"{address}/{image}", address
    auth = None
    if registry and registry.get("username") and where in (address, address.split("/")[0]):
        auth = {
            "username": registry["username"],
            "password": registry.get("password") or "",
            "serveraddress": address,
        }
    repository, tag = parse_repository_tag(source)
    log(f"Pulling base image {source} from {where}")
    try:
        for event in engine.api.pull(
            repository, tag=tag or "latest", auth_config=auth, stream=True, decode=True
        ):
            if "error" in event:
                raise docker_errors.APIError(event["error"])
            _log_pull_event(event, log)
    except docker_errors.APIError as error:
        raise _pull_error(image, where, auth, error) from error
    if source != image:
        repository, tag = parse_repository_tag(image)
        engine.api.tag(source, repository, tag=tag or "latest")


def _log_pull_event(event: dict, log: Log) -> None:
    status = event.get("status", "")
    if status in ("Downloading", "Extracting", "Waiting", "Verifying Checksum"):
        return
    log(f"{event['id']}: {status}" if event.get("id") else status)


def _pull_error(image: str, where: str, auth: dict | None, error: Exception) -> BuildError:
    said = getattr(error, "explanation", None) or str(error)
    if any(word in said.lower() for word in AUTH_REFUSED):
        if auth is None:
            return BuildError(
                f"Registry {where} asks for credentials to pull {image} ({said}): set "
                "docker.base_image_registry.address/username/password."
            )
        return BuildError(
            f"Registry {where} refused the credentials for {auth['username']}: {said}. "
            "Fix docker.base_image_registry.username/password."
        )
    return BuildError(
        f"Base image {image} not found locally or in registry {where}: {said}. Check "
        "docker.base_image (name and tag), or docker.base_image_registry.address."
    )


def _build(
    engine: docker.DockerClient,
    tag: str,
    dockerfile: str,
    context_files: dict[str, bytes],
    log: Log,
) -> None:
    files = {**context_files, "Dockerfile": dockerfile.encode()}
    context = _tar(files)
    lines = _LineSplitter(log)
    try:
        events = engine.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            network_mode="host",
            buildargs=_build_args(dockerfile),
        )
        for event in events:
            if "stream" in event:
                lines.feed(event["stream"])
            elif "status" in event:
                _log_pull_event(event, lines.emit)
            elif "errorDetail" in event or "error" in event:
                lines.flush()
                message = (event.get("errorDetail") or {}).get("message") or event.get("error")
                raise BuildError(_build_failure(tag, message, lines.recent))
    except docker_errors.APIError as error:
        lines.flush()
        said = error.explanation or str(error)
        log(f"ERROR: {said}")
        raise BuildError(
            f"Docker refused the Dockerfile of {tag}: {said}. Fix docker.base_dockerfile."
        ) from error
    lines.flush()


def _build_failure(tag: str, message: str, recent: Iterable[str]) -> str:
    errors = [line.strip() for line in recent if line.lstrip().startswith("ERROR")]
    detail = f" The build said: {' '.join(errors[-3:])}" if errors else ""
    return (
        f"The image build of {tag} failed: {message.strip()}.{detail} The image build log "
        "has the full output."
    )


def _build_args(dockerfile: str) -> dict[str, str]:
    declared = {
        words[0].partition("=")[0]
        for instruction, words in _instructions(dockerfile)
        if instruction == "ARG" and words
    }
    declared &= set(PIP_BUILD_ARGS)
    args = {name: value for name, value in host_pip_settings().items() if name in declared}
    args.update({name: os.environ[name] for name in PROXY_BUILD_ARGS if os.environ.get(name)})
    return args


def _tar(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


class _LineSplitter:
    """Docker's `stream` chunks are not lines: hand `log` whole lines, remember the last few."""

    def __init__(self, log: Log):
        self.log = log
        self.pending = ""
        self.recent: deque[str] = deque(maxlen=40)

    def feed(self, chunk: str) -> None:
        *complete, self.pending = (self.pending + chunk).split("\n")
        for line in complete:
            self.emit(line)

    def emit(self, line: str) -> None:
        # The engine paints a step's stderr red; a log file wants the words.
        line = ANSI_ESCAPE.sub("", line).rstrip("\r ")
        self.recent.append(line)
        self.log(line)

    def flush(self) -> None:
        if self.pending:
            self.emit(self.pending)
            self.pending = ""


# --- containers ------------------------------------------------------------------------------

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
    "--network": "runs use the host network, which MLStudio sets itself",
    "--net": "runs use the host network, which MLStudio sets itself",
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


def validate_shm_size(shm_size: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?([bkmgBKMG][bB]?)?", shm_size):
        raise UserError(
            f"docker.shm_size {shm_size!r} is not a size: use a number with an optional unit, "
            "like 512m or 2g."
        )
    return shm_size


def container_argv(
    *,
    name: str,
    image: str,
    argv: list[str],
    workdir: str,
    env: dict[str, str],
    shm_size: str | None = None,
    arguments: Sequence[str] = (),
    sdk_path: str,
    user: str | None = None,
) -> list[str]:
    """A `docker run` command line to start with subprocess.Popen, as if it were the script.

    Pass `env=container_env(env)` to Popen: the command line names the variables but carries
    no values, so tokens never show in `ps`. `workdir` (a host folder) is mounted at the same
    path, so paths in `env` stay valid; the `mlstudio` package under `sdk_path` is mounted
    read-only and importable. stdout and stderr stay separate pipes and the CLI's exit code
    is the script's. The container is kept after it exits (for copy_out and the exit code):
    container_remove it afterwards. For a remote engine use container_create instead.
    """
    workdir = _absolute(workdir, "workdir")
    sdk_package = _absolute(str(Path(sdk_path) / "mlstudio"), "sdk_path")
    mounts = ["-v", f"{workdir}:{workdir}", "-v", f"{sdk_package}:{SDK_DIR}/mlstudio:ro"]
    options = _run_options(name, workdir, env, shm_size, arguments, user)
    return ["docker", "run", *options, *mounts, image, *argv]


def container_create(
    *,
    name: str,
    image: str,
    argv: list[str],
    workdir: str,
    env: dict[str, str],
    shm_size: str | None = None,
    arguments: Sequence[str] = (),
    sdk_path: str,
    user: str | None = None,
) -> list[str]:
    """For an engine that can't see this host's folders (engine_is_remote()): create the
    container, copy `workdir` and the SDK into it, and return the `docker start` command
    line to Popen exactly like container_argv's. Afterwards copy_out(name, workdir) brings
    outputs and logs back, then container_remove(name)."""
    workdir = _absolute(workdir, "workdir")
    options = _run_options(name, workdir, env, shm_size, arguments, user)
    created = subprocess.run(
        ["docker", "create", *options, image, *argv],
        env=container_env(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if created.returncode != 0:
        raise UserError(f"Docker could not create container {name}: {created.stderr.strip()}")
    copy_in(name, workdir)
    copy_in(name, str(Path(sdk_path) / "mlstudio"), dest=f"{SDK_DIR}/mlstudio")
    return ["docker", "start", "--attach", name]


def container_env(env: dict[str, str]) -> dict[str, str]:
    """The environment for the docker CLI process of container_argv/container_create: the
    worker's own (DOCKER_HOST and friends) plus the run's variables, which the CLI passes on."""
    return {**os.environ, **{key: str(value) for key, value in env.items()}}


def _run_options(
    name: str,
    workdir: str,
    env: dict[str, str],
    shm_size: str | None,
    arguments: Iterable[str],
    user: str | None,
) -> list[str]:
    options = ["--name", name, "--label", "mlstudio.run-container=1", "--init"]
    options += ["--network", "host", "--workdir", workdir]
    for key in env:
        if key == "PYTHONPATH":
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UserError(f"Environment variable name {key!r} is not valid.")
        options += ["--env", key]
    python_path = ":".join(filter(None, [SDK_DIR, env.get("PYTHONPATH")]))
    options += ["--env", f"PYTHONPATH={python_path}"]
    if shm_size:
        options += ["--shm-size", validate_shm_size(shm_size)]
    if user:
        if not re.fullmatch(r"[\w.-]+(:[\w.-]+)?", user):
            raise UserError(f"Container user {user!r} is not a user[:group] name or id.")
        options += ["--user", user]
    return options + validate_arguments(list(arguments))


def _absolute(path: str, what: str) -> str:
    if not os.path.isabs(path):
        raise ValueError(f"{what} must be an absolute path, not {path!r}")
    return os.path.normpath(path)


def container_stop(name: str, timeout: int = 10) -> None:
    """SIGTERM the container's process, SIGKILL after `timeout` seconds; fine if it is gone."""
    engine = client()
    try:
        engine.api.stop(name, timeout=timeout)
    except docker_errors.NotFound:
        pass
    finally:
        engine.close()


def container_remove(name: str) -> None:
    """Remove the container, running or not; fine if it is already gone."""
    engine = client()
    try:
        engine.api.remove_container(name, force=True)
    except docker_errors.NotFound:
        pass
    except docker_errors.APIError as error:
        if "already in progress" not in str(error):
            raise
    finally:
        engine.close()


def container_state(name: str) -> dict:
    """Docker's State of the container (Running, ExitCode, OOMKilled, …); {} when it is gone."""
    engine = client()
    try:
        return engine.api.inspect_container(name)["State"]
    except docker_errors.NotFound:
        return {}
    finally:
        engine.close()


def container_exit_code(name: str) -> int | None:
    """The exit code of a finished container; None while it runs or when there is none."""
    state = container_state(name)
    return None if not state or state.get("Running") else state.get("ExitCode")


def copy_in(name: str, folder: str, *, dest: str | None = None) -> None:
    """Copy a host folder into a (created or running) container at `dest`, by default the
    same path; missing parent folders are created."""
    dest = _absolute(dest or folder, "dest")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(folder, arcname=dest.lstrip("/"))
    buffer.seek(0)
    engine = client(timeout=600)
    try:
        engine.api.put_archive(name, "/", buffer)
    finally:
        engine.close()


def copy_out(name: str, folder: str) -> None:
    """Copy the container's `folder` back over the host folder of the same path (new and
    changed files; nothing is deleted). Links and paths that would leave it are skipped."""
    folder = _absolute(folder, "folder")
    engine = client(timeout=600)
    try:
        stream, _ = engine.api.get_archive(name, folder)
        with tempfile.TemporaryFile() as spool:
            for chunk in stream:
                spool.write(chunk)
            spool.seek(0)
            with tarfile.open(fileobj=spool, mode="r") as archive:
                # Safe: every member goes through tarfile.data_filter first.
                archive.extractall(Path(folder).parent, filter=_inside_only)  # noqa: S202
    finally:
        engine.close()


def _inside_only(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    # A venv's link to /usr/bin/python3 must not cost the run its other outputs: skip, go on.
    try:
        return tarfile.data_filter(member, path)
    except tarfile.FilterError:
        return None
