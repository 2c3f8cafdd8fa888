import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from environments import builders, services
from environments.models import BuildStatus, EnvironmentVersion
from mlstudio.errors import UserError
from tests.environments.helpers import Lines, make_wheel, offline_packages


@pytest.fixture
def envs(settings, tmp_path):
    settings.MLSTUDIO_ENVS_DIR = tmp_path / "envs"
    return settings.MLSTUDIO_ENVS_DIR


@pytest.fixture
def wheels(tmp_path):
    folder = tmp_path / "wheels"
    make_wheel(folder)
    return folder


def register(workspace, owner, pip: list[str] | None = None, **extra) -> EnvironmentVersion:
    spec = {"name": "tiny", "python": {"conda_dependencies": {"pip_packages": pip or []}}, **extra}
    return services.environment_register(workspace=workspace, spec=spec, user=owner)[0]


def run_python(python: str, code: str) -> str:
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_it_uses_the_workers_own_python_for_a_user_managed_environment(owner, workspace):
    version = register(workspace, owner, python={"user_managed_dependencies": True})
    log = Lines()
    built = builders.environment_build(version=version, log=log)
    assert built.kind == "user-managed" and built.cached
    assert Path(built.python).resolve() == Path(sys.executable).resolve()
    assert "user-managed" in log.text
    version.refresh_from_db()
    assert version.build_status == BuildStatus.SUCCEEDED


def test_it_refuses_a_missing_interpreter_clearly(owner, workspace):
    python = {"user_managed_dependencies": True, "interpreter_path": "/nowhere/bin/python9"}
    version = register(workspace, owner, python=python)
    with pytest.raises(builders.BuildError) as caught:
        builders.environment_build(version=version, log=Lines())
    assert "/nowhere/bin/python9" in caught.value.message
    assert "interpreter_path" in caught.value.message
    version.refresh_from_db()
    assert version.build_status == BuildStatus.FAILED


def test_it_builds_a_virtualenv_then_reuses_it_from_the_cache(owner, workspace, envs, wheels):
    version = register(workspace, owner, offline_packages(wheels, "tinypkg==1.0"))
    log = Lines()
    built = builders.environment_build(version=version, log=log)
    assert built.kind == "virtualenv" and not built.cached
    assert built.python == str(envs / version.content_hash / "bin" / "python")
    assert run_python(built.python, "import tinypkg; print(tinypkg.GREETING)") == (
        "hello from tinypkg 1.0"
    )
    assert any("+ tinypkg==1.0" in line for line in log)  # uv's words
    assert run_python(built.python, "import pip; print('pip ok')") == "pip ok"
    # Console scripts still work after the build folder was renamed into place.
    script = envs / version.content_hash / "bin" / "tinypkg-hello"
    assert subprocess.run([script], capture_output=True, text=True).stdout.strip() == (
        "hello from tinypkg 1.0"
    )
    version.refresh_from_db()
    assert version.build_status == BuildStatus.SUCCEEDED and version.built_at is not None
    assert "Successfully installed" in builders.build_log_read(version.content_hash)[0]

    again = Lines()
    started = time.monotonic()
    cached = builders.environment_build(version=version, log=again)
    assert time.monotonic() - started < 1
    assert cached.cached and cached.python == built.python
    assert again == [f"Environment tiny v1: using cached virtualenv {version.content_hash[:16]}"]


def test_it_gives_a_clean_virtualenv_without_the_workers_packages(owner, workspace, envs):
    built = builders.environment_build(version=register(workspace, owner), log=Lines())
    result = subprocess.run([built.python, "-c", "import django"], capture_output=True)
    assert result.returncode != 0


def test_it_shares_one_build_between_versions_with_the_same_hash(owner, workspace, envs, wheels):
    pip = offline_packages(wheels, "tinypkg==1.0")
    first = register(workspace, owner, pip)
    second = register(workspace, owner, pip, environment_variables={"A": "1"})
    assert first.content_hash == second.content_hash and second.number == 2
    builders.environment_build(version=first, log=Lines())
    log = Lines()
    assert builders.environment_build(version=second, log=log).cached
    assert "cached" in log.text


def test_it_marks_a_failed_pip_install_and_lets_a_retry_succeed(owner, workspace, envs, tmp_path):
    empty = tmp_path / "later"
    empty.mkdir()
    version = register(workspace, owner, offline_packages(empty, "tinypkg==1.0"))
    log = Lines()
    with pytest.raises(builders.BuildError) as caught:
        builders.environment_build(version=version, log=log)
    assert "No matching distribution found for tinypkg==1.0" in caught.value.message
    assert "No matching distribution found" in log.text
    version.refresh_from_db()
    assert version.build_status == BuildStatus.FAILED
    assert "No matching distribution found" in version.build_detail
    # Nothing half-built is left where a run could find it.
    assert [p.name for p in envs.iterdir() if not p.name.endswith(".lock")] == ["logs"]

    make_wheel(empty)
    built = builders.environment_build(version=version, log=Lines())
    assert not built.cached
    assert run_python(built.python, "import tinypkg; print(tinypkg.GREETING)")
    version.refresh_from_db()
    assert version.build_status == BuildStatus.SUCCEEDED and version.build_detail == ""


def test_it_fails_with_pips_own_message_for_a_package_that_does_not_exist(
    owner, workspace, envs, tmp_path
):
    version = register(workspace, owner, offline_packages(tmp_path, "mlstudio-no-such-pkg-zz"))
    with pytest.raises(builders.BuildError) as caught:
        builders.environment_build(version=version, log=Lines())
    assert "ERROR: No matching distribution found for mlstudio-no-such-pkg-zz" in (
        caught.value.message
    )


@pytest.mark.django_db(transaction=True)
def test_it_builds_once_when_two_runs_need_the_same_hash(owner, workspace, envs, wheels):
    version = register(workspace, owner, offline_packages(wheels, "tinypkg==1.0"))
    logs, results, errors = [Lines(), Lines()], [], []

    def build(log):
        try:
            mine = EnvironmentVersion.objects.select_related("environment").get(pk=version.pk)
            results.append(builders.environment_build(version=mine, log=log))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=build, args=(log,)) for log in logs]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(120)
    assert not errors
    assert sorted(r.cached for r in results) == [False, True]
    assert len({r.python for r in results}) == 1
    built_lines = [line for log in logs for line in log if "built virtualenv" in line]
    assert len(built_lines) == 1
    (waiter,) = [log for log in logs if "built virtualenv" not in log.text]
    assert "waiting for another build" in waiter.text and "cached" in waiter.text


def test_it_needs_conda_for_a_package_only_conda_has(owner, workspace, envs, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither conda, mamba nor micromamba on it
    spec = {"conda_dependencies": {"conda_packages": ["numpy=1.26", "libgomp"]}}
    version = register(workspace, owner, python=spec)
    with pytest.raises(builders.BuildError) as caught:
        builders.environment_build(version=version, log=Lines())
    message = caught.value.message
    assert "libgomp exist only as conda packages" in message and "numpy" not in message
    assert "Install micromamba there (or name it in MLSTUDIO_CONDA)" in message
    assert "replace them with pip packages in pip_packages" in message
    assert not (envs / version.content_hash).exists()


def test_it_installs_conda_packages_with_pip_under_their_pypi_names(
    owner, workspace, envs, wheels, monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin")  # no conda
    spec = {"conda_dependencies": {"conda_packages": ["conda-forge::tinypkg=1.0", "pip"],
                                   "pip_packages": offline_packages(wheels)}}  # fmt: skip
    version = register(workspace, owner, python=spec)
    log = Lines()
    built = builders.environment_build(version=version, log=log)
    assert run_python(built.python, "import tinypkg; print(tinypkg.GREETING)") == (
        "hello from tinypkg 1.0"
    )
    (said,) = [line for line in log if "installed with pip" in line]
    assert built.notes == (said,)  # the run's system log says it too
    assert "no conda, mamba or micromamba on worker" in said
    assert said.endswith("conda packages conda-forge::tinypkg=1.0, pip are installed with pip "
                         "as tinypkg==1.0.*")  # fmt: skip


FAKE_MICROMAMBA = """#!{python}
# A fake of micromamba (none can be installed here): `create -p PREFIX ...` makes a
# virtualenv at PREFIX and records its arguments, as a conda environment would be made there.
import json, subprocess, sys
argv = sys.argv[1:]
with open({calls!r}, "a") as calls:
    calls.write(json.dumps(argv) + "\\n")
prefix = argv[argv.index("-p") + 1]
subprocess.run([sys.executable, "-m", "venv", prefix], check=True)
"""


def test_conda_packages_build_a_conda_environment_once_per_hash(
    owner, workspace, envs, wheels, settings, tmp_path
):
    calls = tmp_path / "calls.jsonl"
    fake = tmp_path / "bin" / "micromamba"
    fake.parent.mkdir()
    fake.write_text(FAKE_MICROMAMBA.format(python=sys.executable, calls=str(calls)))
    fake.chmod(0o755)
    settings.MLSTUDIO_CONDA = str(fake)
    conda = {"conda_packages": ["numpy=1.26"], "channels": ["conda-forge"],
             "python_version": "3.11",
             "pip_packages": offline_packages(wheels, "tinypkg")}  # fmt: skip
    spec = {"conda_dependencies": conda}
    version = register(workspace, owner, python=spec)
    built = builders.environment_build(version=version, log=Lines())
    assert built.python == str(envs / version.content_hash / "bin" / "python")
    assert run_python(built.python, "import tinypkg; print(tinypkg.GREETING)") == (
        "hello from tinypkg 1.0"
    )  # pip packages go into the conda environment
    (argv,) = [json.loads(line) for line in calls.read_text().splitlines()]
    assert argv == ["create", "-y", "-p", str(envs / version.content_hash), "-c", "conda-forge",
                    "python=3.11", "pip", "numpy=1.26"]  # fmt: skip
    log = Lines()
    assert builders.environment_build(version=version, log=log).cached
    assert "using cached virtualenv" in log.text
    assert len(calls.read_text().splitlines()) == 1  # made once


def test_it_installs_with_uv_and_falls_back_to_pip_without_it(
    owner, workspace, envs, wheels, monkeypatch
):
    version = register(workspace, owner, offline_packages(wheels, "tinypkg==1.0"))
    log = Lines()
    builders.environment_build(version=version, log=log)
    assert any("uv pip install" in line or "Installed 1 package" in line for line in log)
    assert not any("trying pip" in line for line in log)

    def fake_worker_without_uv():
        return None

    monkeypatch.setattr("environments.installer.uv_binary", fake_worker_without_uv)
    other = register(workspace, owner, offline_packages(wheels, "tinypkg"))
    log = Lines()
    built = builders.environment_build(version=other, log=log)
    assert "uv is not installed on this worker; installing with pip" in log.text
    assert "Successfully installed tinypkg-1.0" in log.text
    assert run_python(built.python, "import tinypkg; print(tinypkg.GREETING)")


def test_it_honours_a_python_version_the_worker_has(owner, workspace, envs, wheels):
    wanted = "{}.{}".format(*sys.version_info[:2])
    conda = {"python_version": wanted, "pip_packages": offline_packages(wheels, "tinypkg")}
    spec = {"conda_dependencies": conda}
    log = Lines()
    built = builders.environment_build(version=register(workspace, owner, python=spec), log=log)
    assert run_python(built.python, "import sys; print('%d.%d' % sys.version_info[:2])") == wanted
    assert f"(Python {wanted}." in log.text


def test_it_refuses_a_python_version_the_worker_lacks(owner, workspace, envs):
    spec = {"conda_dependencies": {"python_version": "3.2"}}
    version = register(workspace, owner, python=spec)
    with pytest.raises(builders.BuildError) as caught:
        builders.environment_build(version=version, log=Lines())
    assert "asks for Python 3.2" in caught.value.message
    assert "remove python_version" in caught.value.message


def test_it_passes_the_hosts_pip_settings_through(owner, workspace, envs, monkeypatch, wheels):
    # Only a pip.conf names the wheel folder: the build needs it to find tinypkg.
    conf = wheels.parent / "pip.conf"
    conf.write_text(f"[global]\nno-index = true\nfind-links = {wheels}\n")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    built = builders.environment_build(version=register(workspace, owner, ["tinypkg"]), log=Lines())
    assert run_python(built.python, "import tinypkg; print(tinypkg.GREETING)")


class FakeDocker:
    """A fake of environments.docker (the Docker engine is another module's tests' business):
    records what it is asked to build and says which tags exist."""

    class BuildError(UserError):
        pass

    def __init__(self, fail_with: str | None = None):
        self.images: set[str] = set()
        self.builds: list[dict] = []
        self.fail_with = fail_with

    @staticmethod
    def validate_arguments(arguments):
        return list(arguments)

    @staticmethod
    def pip_settings_preamble():
        return "ARG PIP_INDEX_URL\n", {"mlstudio-pip-ca.crt": b"CA"}

    def image_exists(self, tag: str) -> bool:
        return tag in self.images

    def build_image(self, *, tag, dockerfile, context_files, registry, log):
        self.builds.append(
            {"tag": tag, "dockerfile": dockerfile, "files": context_files, "registry": registry}
        )
        log("Step 1/4 : FROM ...")
        if self.fail_with:
            raise self.BuildError(self.fail_with)
        self.images.add(tag)


@pytest.fixture
def fake_docker(monkeypatch):
    import environments

    fake = FakeDocker()
    monkeypatch.setattr(environments, "docker", fake, raising=False)
    monkeypatch.setitem(sys.modules, "environments.docker", fake)
    return fake


def private_image(workspace, owner, **python) -> EnvironmentVersion:
    registry = {"address": "localhost:5000", "username": "ann", "password": "s3cret-pw"}
    spec = {
        "name": "img",
        "docker": {"enabled": True, "base_image": "team/base:1", "base_image_registry": registry},
        "python": python or {"conda_dependencies": {"pip_packages": ["rich==13.0.0"]}},
    }
    return services.environment_register(workspace=workspace, spec=spec, user=owner)[0]


def test_it_builds_an_image_once_per_hash_with_the_registry_login(
    owner, workspace, envs, fake_docker
):
    version = private_image(workspace, owner)
    log = Lines()
    built = builders.environment_build(version=version, log=log)
    assert built.kind == "docker" and not built.cached
    assert built.image == f"mlstudio/env:{version.content_hash[:32]}"
    assert built.python == "/opt/mlstudio/env/bin/python"
    (build,) = fake_docker.builds
    assert build["dockerfile"].startswith("FROM localhost:5000/team/base:1\n")
    assert build["files"]["mlstudio/requirements.txt"] == b"rich==13.0.0\n"
    assert build["files"]["mlstudio-pip-ca.crt"] == b"CA"
    assert "ARG PIP_INDEX_URL" in build["dockerfile"]
    assert build["registry"] == {
        "address": "localhost:5000",
        "username": "ann",
        "password": "s3cret-pw",
    }
    assert "Step 1/4" in log.text
    assert "s3cret-pw" not in builders.build_log_read(version.content_hash)[0]
    version.refresh_from_db()
    assert version.build_status == BuildStatus.SUCCEEDED

    again = Lines()
    assert builders.environment_build(version=version, log=again).cached
    assert len(fake_docker.builds) == 1 and "using cached image" in again.text


def test_it_builds_an_image_for_any_environment_on_a_docker_target(
    owner, workspace, envs, fake_docker
):
    version = register(workspace, owner, python={"user_managed_dependencies": True})
    built = builders.environment_build(version=version, log=Lines(), docker=True)
    assert built.kind == "docker" and built.python == "python3"
    assert fake_docker.builds[0]["dockerfile"] == "FROM mlstudio/python:bookworm\n"
    assert fake_docker.builds[0]["registry"] is None


def test_it_marks_a_failed_image_build_with_dockers_message(owner, workspace, envs, fake_docker):
    fake_docker.fail_with = "pull access denied for localhost:5000/team/base: unauthorized"
    version = private_image(workspace, owner)
    with pytest.raises(builders.BuildError) as caught:
        builders.environment_build(version=version, log=Lines())
    assert "unauthorized" in caught.value.message
    version.refresh_from_db()
    assert version.build_status == BuildStatus.FAILED and "unauthorized" in version.build_detail


def test_it_fails_loudly_when_the_secret_key_changed(owner, workspace, envs, fake_docker, settings):
    version = private_image(workspace, owner)
    settings.SECRET_KEY = "a-completely-different-secret-key-0123456789"
    with pytest.raises(builders.BuildError) as caught:
        builders.environment_build(version=version, log=Lines())
    message = caught.value.message
    assert "environment 'img' version 1 cannot be decrypted" in message
    assert "secret key changed" in message and "Register the environment again" in message
    assert not fake_docker.builds
    version.refresh_from_db()
    assert version.build_status == BuildStatus.FAILED
