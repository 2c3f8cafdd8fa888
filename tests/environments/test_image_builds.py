"""Environment versions built into images on the real Docker engine (scripts/docker-up)."""

import contextlib
import time

import pytest
from docker import errors as docker_errors

from environments import builders, services
from environments.models import BuildStatus
from tests.environments.helpers import Lines

pytest_plugins = ["tests.docker_fixtures"]


@pytest.fixture
def built_images(docker_engine, settings, tmp_path):
    """Tags this test builds, removed afterwards."""
    settings.MLSTUDIO_ENVS_DIR = tmp_path / "envs"
    tags: list[str] = []
    yield tags
    for tag in tags:
        with contextlib.suppress(docker_errors.ImageNotFound):
            docker_engine.images.remove(tag, force=True)


def register(workspace, owner, **spec):
    return services.environment_register(
        workspace=workspace, spec={"name": "img", **spec}, user=owner
    )[0]


def run_in(docker_engine, image: str, *argv: str) -> str:
    output = docker_engine.containers.run(image, list(argv), remove=True, network_mode="none")
    return output.decode().strip()


def test_it_builds_the_seeds_dockerfile_once_and_then_uses_the_cached_image(
    owner, workspace, docker_engine, built_images
):
    dockerfile = (
        'FROM mlstudio/python:bookworm\nRUN echo "Hello from custom container!" > /hello.txt\n'
    )
    version = register(
        workspace,
        owner,
        docker={"enabled": True, "base_dockerfile": dockerfile},
        python={"user_managed_dependencies": True},
    )
    built_images.append(builders.image_tag(version))
    log = Lines()
    built = builders.environment_build(version=version, log=log)
    assert built.kind == "docker" and not built.cached and built.python == "python3"
    assert "Hello from custom container!" in log.text
    assert "Hello from custom container!" in builders.build_log_read(version.content_hash)[0]
    assert run_in(docker_engine, built.image, "cat", "/hello.txt") == "Hello from custom container!"
    version.refresh_from_db()
    assert version.build_status == BuildStatus.SUCCEEDED

    again = Lines()
    started = time.monotonic()
    cached = builders.environment_build(version=version, log=again)
    assert time.monotonic() - started < 1
    assert cached.cached and cached.image == built.image
    assert again.text == f"Environment img v1: using cached image {built.image}"


def test_it_builds_any_environment_into_an_image_for_a_docker_target(
    owner, workspace, docker_engine, built_images
):
    version = register(workspace, owner, python={"user_managed_dependencies": True})
    built_images.append(builders.image_tag(version))
    built = builders.environment_build(version=version, log=Lines(), docker=True)
    assert run_in(docker_engine, built.image, built.python, "-c", "print(6 * 7)") == "42"


def test_it_fails_a_broken_dockerfile_with_dockers_message_and_marks_it(
    owner, workspace, docker_engine, built_images
):
    dockerfile = "FROM mlstudio/python:bookworm\nRUN exit 3\n"
    version = register(workspace, owner, docker={"enabled": True, "base_dockerfile": dockerfile})
    built_images.append(builders.image_tag(version))
    with pytest.raises(builders.BuildError) as caught:
        builders.environment_build(version=version, log=Lines())
    assert "exit 3" in caught.value.message or "non-zero code: 3" in caught.value.message
    version.refresh_from_db()
    assert version.build_status == BuildStatus.FAILED


def test_it_fails_an_unknown_base_image_clearly(owner, workspace, docker_engine, built_images):
    version = register(
        workspace, owner, docker={"enabled": True, "base_image": "mlstudio/no-such-image:0"}
    )
    built_images.append(builders.image_tag(version))
    with pytest.raises(builders.BuildError) as caught:
        builders.environment_build(version=version, log=Lines())
    assert "mlstudio/no-such-image:0" in caught.value.message
    version.refresh_from_db()
    assert version.build_status == BuildStatus.FAILED


def test_it_installs_pip_packages_into_the_image_with_the_hosts_pip_settings(
    owner, workspace, docker_engine, built_images
):
    version = register(
        workspace,
        owner,
        docker={"enabled": True},
        python={"conda_dependencies": {"pip_packages": ["six==1.17.0"]}},
    )
    built_images.append(builders.image_tag(version))
    log = Lines()
    built = builders.environment_build(version=version, log=log)
    assert built.python == "/opt/mlstudio/env/bin/python"
    assert "Successfully installed six-1.17.0" in log.text
    code = "import six, sys; print(six.__version__, sys.prefix)"
    assert run_in(docker_engine, built.image, built.python, "-c", code) == (
        "1.17.0 /opt/mlstudio/env"
    )
