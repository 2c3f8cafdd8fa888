"""The Docker engine, through docker-py and the docker CLI: image builds whose log streams live,
base images pulled with a private registry's credentials; run containers are in
environments.containers. No database here: callers pass plain values.

Registries are plain dicts `{"address": "host[:port]", "username": ..., "password": ...}`
(the spec's `docker.base_image_registry`).
"""

from __future__ import annotations

import configparser
import io
import ipaddress
import os
import re
import tarfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import docker
from django.conf import settings
from docker import errors as docker_errors
from docker.utils import parse_repository_tag

from environments.dockerfiles import base_images, instructions
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
    with closing(client()) as engine:
        try:
            engine.images.get(tag)
            return True
        except docker_errors.ImageNotFound:
            return False


def image_user(tag: str) -> str:
    """The user an image says its processes run as (its USER), "" when it names none."""
    with closing(client()) as engine:
        try:
            return engine.api.inspect_image(tag).get("Config", {}).get("User") or ""
        except docker_errors.ImageNotFound:
            return ""


# --- pip settings for builds -----------------------------------------------------------------


def host_pip_settings() -> dict[str, str]:
    """The host's pip index settings (pip.conf files, then PIP_* variables), as PIP_* names.

    Only http(s) indexes: a `file://` index is a folder on this host that no build can see.
    """
    settings: dict[str, str] = {}
    for parser in _pip_configs():
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


def _pip_configs() -> Iterator[configparser.ConfigParser]:
    """The pip.conf files pip reads, parsed, in pip's order; a malformed one is skipped."""
    for path in _pip_config_files():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path)
        except configparser.Error:
            continue
        yield parser


def _pip_config_value(key: str) -> str | None:
    value = None
    for parser in _pip_configs():
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
    with closing(client(timeout=None)) as engine:  # a quiet RUN step may take hours
        for image in base_images(dockerfile):
            if not _has_image(engine, image):
                pull(image, registry, log)
        _build(engine, tag, dockerfile, context_files, log)


def pull(image: str, registry: dict | None, log: Log) -> None:
    """Pull `image` onto the engine, with `registry`'s credentials when given.

    An image named without a registry host (`team/base:1`) is pulled from the registry's
    address and also tagged under its short name, so `FROM team/base:1` builds.
    """
    with closing(client(timeout=600)) as engine:
        _pull(engine, image, registry, log)


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
            fileobj=context, custom_context=True, tag=tag, buildargs=_build_args(dockerfile),
            rm=True, forcerm=True, pull=False, decode=True, network_mode="host",
        )  # fmt: skip
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
        for _number, instruction, words in instructions(dockerfile)
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
