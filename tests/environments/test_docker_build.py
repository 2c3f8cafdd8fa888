"""Image builds and base-image pulls against a real Docker engine (scripts/docker-up)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from docker import errors as docker_errors

from environments import docker

pytest_plugins = ["tests.docker_fixtures"]
BASE_IMAGE = settings.MLSTUDIO_DEFAULT_BASE_IMAGE


class Recorder:
    """A build log callback that remembers each line and when it came."""

    def __init__(self):
        self.lines: list[tuple[float, str]] = []

    def __call__(self, line: str) -> None:
        self.lines.append((time.monotonic(), line))

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


def build_refused(tag: str, dockerfile: str, *, registry: dict | None = None, log=print) -> str:
    """The message of the BuildError that building `dockerfile` (no context files) raises."""
    with pytest.raises(docker.BuildError) as error:
        docker.build_image(
            tag=tag, dockerfile=dockerfile, context_files={}, registry=registry, log=log
        )
    return error.value.message


def test_it_builds_a_dockerfile_and_streams_the_log_live(image_names):
    tag = image_names("live")
    log = Recorder()
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo first-step && sleep 2 && echo second-step\n"

    docker.build_image(tag=tag, dockerfile=dockerfile, context_files={}, registry=None, log=log)
    finished = time.monotonic()

    step = next(at for at, line in log.lines if line.startswith("Step 1/2 : FROM"))
    first = next(at for at, line in log.lines if line == "first-step")
    assert finished - step > 1.5
    assert finished - first > 1.5, "RUN output arrives while the step still runs"
    assert "Successfully tagged " + tag in log.text
    assert docker.image_exists(tag)


def test_it_tells_an_existing_image_from_a_missing_one(image_names):
    assert docker.image_exists(BASE_IMAGE)
    assert not docker.image_exists(image_names("never-built"))


def test_it_copies_context_files_into_the_image(image_names, docker_engine):
    tag = image_names("context")
    dockerfile = f"FROM {BASE_IMAGE}\nCOPY data/greeting.txt /greeting.txt\n"
    files = {"data/greeting.txt": b"hello from the context\n"}

    docker.build_image(
        tag=tag, dockerfile=dockerfile, context_files=files, registry=None, log=print
    )

    output = docker_engine.containers.run(tag, ["cat", "/greeting.txt"], remove=True)
    assert output == b"hello from the context\n"


def test_it_names_the_parse_error_of_a_malformed_dockerfile(image_names):
    log = Recorder()
    dockerfile = f"FROM {BASE_IMAGE}\nRUNN echo typo\n"

    message = build_refused(image_names("malformed"), dockerfile, log=log)

    assert "unknown instruction: RUNN" in message
    assert "line 2" in message
    assert "unknown instruction: RUNN" in log.text


def test_it_reports_the_failing_step_of_a_build(image_names):
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo 'ERROR: disk on fire' >&2; exit 3\n"

    message = build_refused(image_names("failing"), dockerfile)

    assert "returned a non-zero code: 3" in message
    assert "ERROR: disk on fire" in message


def test_it_refuses_an_unknown_base_image(image_names):
    message = build_refused(image_names("unknown-base"), "FROM nosuch/base-image:9\n")

    assert message.startswith(
        "Base image nosuch/base-image:9 not found locally or in registry docker.io"
    )


@pytest.mark.parametrize("short_name", [False, True], ids=["full-name", "name-under-address"])
def test_it_pulls_a_missing_base_image_with_the_registry_credentials(
    short_name, private_registry, push_to_registry, docker_engine, image_names
):
    pushed = push_to_registry(f"team/base-{short_name:d}")
    base = pushed.removeprefix(private_registry["address"] + "/") if short_name else pushed
    tag = image_names(f"from-registry-{short_name:d}")
    log = Recorder()
    dockerfile = f"FROM {base}\nLABEL made-by=mlstudio\n"

    try:
        docker.build_image(
            tag=tag, dockerfile=dockerfile, context_files={}, registry=private_registry, log=log
        )
        labels = docker_engine.images.get(tag).labels
    finally:
        for name in {pushed, base}:
            docker_engine.images.remove(name, force=True)

    assert f"Pulling base image {pushed} from {private_registry['address']}" in log.text
    assert labels["made-by"] == "mlstudio"


def test_it_says_when_the_registry_refuses_the_credentials(
    private_registry, push_to_registry, docker_engine, image_names
):
    pushed = push_to_registry("team/guarded")
    wrong = {**private_registry, "password": "not-the-password"}

    message = build_refused(image_names("wrong-password"), f"FROM {pushed}\n", registry=wrong)

    assert message.startswith(
        f"Registry {private_registry['address']} refused the credentials for team: "
    )
    assert "docker.base_image_registry.username/password" in message
    with pytest.raises(docker_errors.ImageNotFound):
        docker_engine.images.get(pushed)


def test_it_says_when_the_registry_wants_credentials(push_to_registry):
    pushed = push_to_registry("team/anonymous")

    with pytest.raises(docker.BuildError) as error:
        docker.pull(pushed, None, print)

    assert "asks for credentials" in error.value.message


def test_it_names_a_tag_missing_from_the_registry(private_registry):
    missing = f"{private_registry['address']}/team/base-0:404"

    with pytest.raises(docker.BuildError) as error:
        docker.pull(missing, private_registry, print)

    assert error.value.message.startswith(
        f"Base image {missing} not found locally or in registry {private_registry['address']}"
    )


def test_it_finds_the_base_images_of_a_dockerfile():
    dockerfile = (
        "ARG TAG=3.11\n"
        "# a comment\n"
        "FROM --platform=linux/amd64 python:${TAG} AS builder\n"
        "RUN echo \\\n  continued\n"
        "FROM builder\n"
        "FROM scratch\n"
        "from 127.0.0.1:5000/team/base:1 as final\n"
        "FROM image:$UNSET\n"
    )

    assert docker.base_images(dockerfile) == ["python:3.11", "127.0.0.1:5000/team/base:1"]


def test_it_hands_the_hosts_pip_settings_to_the_build(monkeypatch, image_names):
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.org/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///only/on/this/host https://extra.test/s")
    preamble, files = docker.pip_settings_preamble()
    log = Recorder()
    dockerfile = (
        f"FROM {BASE_IMAGE}\n{preamble}"
        'RUN echo "index=$PIP_INDEX_URL extra=$PIP_EXTRA_INDEX_URL"; test -s "$PIP_CERT"\n'
    )

    docker.build_image(
        tag=image_names("pip-settings"),
        dockerfile=dockerfile,
        context_files=files,
        registry=None,
        log=log,
    )

    assert "index=https://pypi.org/simple extra=https://extra.test/s" in log.text
    assert files[docker.CA_BUNDLE_CONTEXT_PATH] == docker.host_ca_bundle().read_bytes()


def test_it_pip_installs_from_the_index_inside_a_build_and_reports_pips_error(image_names):
    preamble, files = docker.pip_settings_preamble()
    installed = image_names("pip-install")
    venv = "/opt/env/bin/python -m pip install --no-cache-dir --disable-pip-version-check"
    dockerfile = (
        f"FROM {BASE_IMAGE}\n{preamble}"
        f"RUN python3 -m venv /opt/env && {venv} six==1.16.0\n"
        "RUN /opt/env/bin/python -c 'import six; print(\"six\", six.__version__)'\n"
    )
    log = Recorder()

    docker.build_image(
        tag=installed, dockerfile=dockerfile, context_files=files, registry=None, log=log
    )

    assert "six 1.16.0" in log.text
    message = build_refused(
        image_names("pip-unresolvable"),
        f"FROM {installed}\nRUN {venv} mlstudio-no-such-package-4711\n",
    )
    assert "No matching distribution found for mlstudio-no-such-package-4711" in message
