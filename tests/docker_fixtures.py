"""Fixtures for tests against a real Docker engine: the engine and base image that
scripts/docker-up provides, throwaway image names, and a private registry with htpasswd auth
on loopback (Debian's docker-registry). A test module uses them with
`pytest_plugins = ["tests.docker_fixtures"]`."""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import docker
import pytest
from django.conf import settings
from docker import errors as docker_errors

from tests.processes import free_port

SETUP_HINT = "run `bash scripts/docker-up` (scripts/test does) to install and start it"


@pytest.fixture(scope="session")
def docker_engine():
    """A docker-py client to a running engine that has the base image; fails, never skips."""
    base_image = settings.MLSTUDIO_DEFAULT_BASE_IMAGE
    try:
        engine = docker.from_env(timeout=120)
        engine.ping()
    except docker_errors.DockerException as error:
        pytest.fail(f"No Docker engine answers ({error}): {SETUP_HINT}.", pytrace=False)
    try:
        engine.images.get(base_image)
    except docker_errors.ImageNotFound:
        pytest.fail(f"The base image {base_image} is missing: {SETUP_HINT}.", pytrace=False)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def image_names(docker_engine):
    """`image_names("what")` gives a tag no other test run uses; all are removed at the end."""
    prefix = f"mlstudio-test-{uuid.uuid4().hex[:8]}"
    made: list[str] = []

    def make(what: str) -> str:
        name = f"{prefix}/{what}:1"
        made.append(name)
        return name

    yield make
    for name in made:
        with contextlib.suppress(docker_errors.ImageNotFound):
            docker_engine.images.remove(name, force=True)


@pytest.fixture
def container_name(docker_engine):
    """A fresh container name; whatever container got it is removed after the test."""
    name = f"mlstudio-test-{uuid.uuid4().hex[:12]}"
    yield name
    with contextlib.suppress(docker_errors.NotFound):
        docker_engine.api.remove_container(name, force=True)


@pytest.fixture
def tcp_listener():
    """A TCP port on the host's loopback that accepts connections while the test runs: a
    container on the host's network reaches it, one without a network does not."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture(scope="session")
def private_registry(tmp_path_factory, docker_engine):
    """Debian's docker-registry on a free loopback port, with htpasswd auth: a dict like the
    spec's docker.base_image_registry. Docker allows plain HTTP to 127.0.0.0/8 registries."""
    for binary in ("docker-registry", "htpasswd"):
        if shutil.which(binary) is None:
            pytest.fail(f"`{binary}` is missing: {SETUP_HINT}.", pytrace=False)
    folder = tmp_path_factory.mktemp("registry")
    username, password = "team", "registry-pw-1234"
    htpasswd = subprocess.run(
        ["htpasswd", "-Bbn", username, password], capture_output=True, text=True, check=True
    ).stdout
    (folder / "htpasswd").write_text(htpasswd)
    port = free_port()
    (folder / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  htpasswd:\n    realm: mlstudio-test\n    path: {folder / 'htpasswd'}\n"
    )
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen(
        ["docker-registry", "serve", str(folder / "config.yml")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_registry(port, process, folder / "registry.log")
        yield {"address": f"127.0.0.1:{port}", "username": username, "password": password}
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def push_to_registry(docker_engine, private_registry):
    """`push_to_registry("team/base")` pushes a one-file image (no shell, a few bytes) as
    `<address>/team/base:1` and returns that name after removing it locally, so a build has
    to pull it."""
    return lambda repository: _push_tiny_image(docker_engine, private_registry, repository)


def _push_tiny_image(engine, registry: dict, repository: str) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = b"from the private registry\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    image = f"{registry['address']}/{repository}"
    engine.api.import_image_from_data(buffer.getvalue(), repository=image, tag="1")
    auth = {"username": registry["username"], "password": registry["password"]}
    for event in engine.api.push(image, tag="1", auth_config=auth, stream=True, decode=True):
        if "error" in event:
            raise RuntimeError(f"pushing {image}:1 to the test registry failed: {event}")
    engine.images.remove(f"{image}:1", force=True)
    return f"{image}:1"


def _wait_for_registry(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited: {log.read_text()}", pytrace=False)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
        except urllib.error.HTTPError as answer:
            if answer.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"docker-registry did not answer on port {port}: {log.read_text()}")


@pytest.fixture
def image_with_user(docker_engine, tmp_path):
    """Build (from the base image, nothing pulled) an image that names its own USER, e.g.
    `image_with_user("2345:2345")`; each is removed after the test."""
    built = []

    def build(user: str) -> str:
        tag = f"mlstudio-test/own-user:{uuid.uuid4().hex[:8]}"
        context = tmp_path / f"context-{len(built)}"
        context.mkdir()
        (context / "Dockerfile").write_text(
            f"FROM {settings.MLSTUDIO_DEFAULT_BASE_IMAGE}\nUSER {user}\n"
        )
        subprocess.run(["docker", "build", "-q", "-t", tag, str(context)], check=True,
                       capture_output=True)  # fmt: skip
        built.append(tag)
        return tag

    yield build
    for tag in built:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
