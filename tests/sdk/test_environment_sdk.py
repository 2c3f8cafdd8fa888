"""The seed's environment snippets (custom Docker image, private registry, Dockerfile) and the
rest of azureml's Environment API, through the SDK against a live studio."""

import pytest

from mlstudio.sdk import (
    ActivityFailedException,
    CondaDependencies,
    ContainerRegistry,
    Environment,
    Experiment,
    ScriptRunConfig,
    UserErrorException,
)
from mlstudio.sdk.conda_dependencies import CondaDependencies as CondaDependenciesByPath
from tests.environments.helpers import make_wheel, offline_packages

PASSWORD = "sdk-registry-password-77"


def test_it_registers_the_seeds_custom_image_with_a_private_registry(ws):
    fastai_env = Environment("fastai2")
    fastai_env.docker.enabled = True
    fastai_env.docker.base_image = "fastdotai/fastai2:latest"
    fastai_env.python.user_managed_dependencies = True
    fastai_env.docker.base_image_registry.address = "myregistry.azurecr.io"
    fastai_env.docker.base_image_registry.username = "username"
    fastai_env.docker.base_image_registry.password = PASSWORD

    registered = fastai_env.register(ws)
    assert registered.version == "1" and fastai_env.version == "1"
    fetched = Environment.get(ws, "fastai2")
    assert fetched.version == "1"
    assert fetched.docker.base_image == "fastdotai/fastai2:latest"
    assert fetched.python.user_managed_dependencies is True
    registry = fetched.docker.base_image_registry
    assert (registry.address, registry.username, registry.password) == (
        "myregistry.azurecr.io",
        "username",
        None,
    )
    assert registry.password_set is True
    assert PASSWORD not in repr(registry) and PASSWORD not in repr(
        fastai_env.docker.base_image_registry
    )
    # An edited copy of the fetched one keeps the stored password.
    fetched.environment_variables["EPOCHS"] = "3"
    again = fetched.register(ws)
    assert again.version == "2" and again.docker.base_image_registry.password_set


def test_it_takes_the_seeds_dockerfile_as_text_or_as_a_file(ws, tmp_path, monkeypatch):
    dockerfile = r"""
FROM mcr.microsoft.com/azureml/base:intelmpi2018.3-ubuntu16.04
RUN echo "Hello from custom container!"
"""
    fastai_env = Environment("fastai2")
    fastai_env.docker.enabled = True
    fastai_env.docker.base_image = None
    fastai_env.docker.base_dockerfile = dockerfile
    assert fastai_env.register(ws).version == "1"

    monkeypatch.chdir(tmp_path)
    (tmp_path / "Dockerfile").write_text(dockerfile)
    from_file = Environment("fastai2")
    from_file.docker.enabled = True
    from_file.docker.base_image = None
    from_file.docker.base_dockerfile = "./Dockerfile"
    assert from_file.register(ws).version == "1"  # the same Dockerfile: the same version
    assert "Hello from custom container!" in Environment.get(ws, "fastai2").docker.base_dockerfile


def test_it_refuses_a_base_image_together_with_a_dockerfile(ws):
    env = Environment("both")
    env.docker.base_image = "python:3.11"
    env.docker.base_dockerfile = "FROM python:3.11\n"
    with pytest.raises(UserErrorException, match=r"both docker\.base_image"):
        env.register(ws)
    with pytest.raises(UserErrorException, match="No environment 'both'"):
        Environment.get(ws, "both")


def test_it_refuses_a_dockerfile_path_that_does_not_exist(ws):
    env = Environment("nofile")
    env.docker.base_dockerfile = "./Missing.Dockerfile"
    with pytest.raises(UserErrorException, match="is not a Dockerfile"):
        env.register(ws)


def test_it_versions_registrations_and_lists_the_latest(ws):
    env = Environment("sk")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn==1.9.1"])
    assert env.register(ws).version == "1"
    assert env.register(ws).version == "1"
    env.python.conda_dependencies.add_pip_package("scikit-learn==1.9.0")
    assert env.register(ws).version == "2"
    listed = Environment.list(ws)
    assert listed["sk"].version == "2"
    assert listed["sk"].python.conda_dependencies.pip_packages == ["scikit-learn==1.9.0"]
    assert {"MLStudio-Minimal", "MLStudio-SKLearn", "MLStudio-PyTorch-CPU"} <= set(listed)
    first = Environment.get(ws, "sk", version="1")
    assert first.python.conda_dependencies.pip_packages == ["scikit-learn==1.9.1"]


def test_it_refuses_the_reserved_prefix_but_lets_you_clone_a_curated_one(ws):
    with pytest.raises(UserErrorException, match="reserved"):
        Environment("MLStudio-Mine").register(ws)
    curated = Environment.get(ws, "MLStudio-SKLearn")
    mine = curated.clone("my-sklearn")
    mine.python.conda_dependencies.add_pip_package("joblib==1.5.0")
    registered = mine.register(ws)
    assert (registered.name, registered.version) == ("my-sklearn", "1")
    assert "joblib==1.5.0" in registered.python.conda_dependencies.pip_packages


def test_it_refuses_packages_with_user_managed_dependencies(ws):
    env = Environment("um")
    env.python.user_managed_dependencies = True
    env.python.conda_dependencies.add_pip_package("numpy")
    with pytest.raises(UserErrorException, match="silently ignored"):
        env.register(ws)


def test_it_makes_environments_from_files_and_images(ws, tmp_path):
    (tmp_path / "base.txt").write_text("numpy==2.4.6\n")
    (tmp_path / "requirements.txt").write_text("-r base.txt\n# comment\npandas==3.1.1\n")
    env = Environment.from_pip_requirements("reqs", str(tmp_path / "requirements.txt"))
    assert env.python.conda_dependencies.pip_packages == ["numpy==2.4.6", "pandas==3.1.1"]
    assert env.register(ws).version == "1"

    (tmp_path / "env.yml").write_text(
        "name: project_environment\nchannels:\n  - conda-forge\ndependencies:\n"
        "  - python=3.11\n  - libgomp\n  - pip\n  - pip:\n    - rich==13.0.0\n"
    )
    conda = Environment.from_conda_specification("conda", str(tmp_path / "env.yml"))
    dependencies = conda.python.conda_dependencies
    assert dependencies.conda_packages == ["libgomp"]
    assert dependencies.pip_packages == ["rich==13.0.0"]
    assert dependencies.conda_channels == ["conda-forge"]
    assert dependencies.get_python_version() == "3.11"

    registry = ContainerRegistry(address="localhost:5000", username="ann", password=PASSWORD)
    image = Environment.from_docker_image(
        "img",
        "team/base:1",
        container_registry=registry,
        pip_requirements=str(tmp_path / "base.txt"),
    )
    assert image.docker.enabled and image.docker.base_image == "team/base:1"
    assert image.register(ws).docker.base_image_registry.password_set

    (tmp_path / "Dockerfile").write_text("FROM team/base:1\nRUN echo hi\n")
    built = Environment.from_dockerfile("df", str(tmp_path / "Dockerfile"))
    assert built.docker.base_dockerfile.startswith("FROM team/base:1")
    assert built.register(ws).docker.enabled


def test_it_builds_conda_dependencies_like_azureml():
    deps = CondaDependenciesByPath.create(
        pip_packages=["numpy==2.0.0", "rich"], conda_packages=["libgomp"], python_version="3.11"
    )
    deps.add_pip_package("numpy==2.4.6")
    deps.add_conda_package("zlib")
    deps.remove_pip_package("rich")
    assert deps.pip_packages == ["numpy==2.4.6"]
    assert deps.conda_packages == ["libgomp", "zlib"]
    text = deps.serialize_to_string()
    assert "  - python=3.11\n" in text and "    - numpy==2.4.6\n" in text


def test_it_adds_tensorflow_as_v1_did_with_todays_package_names():
    deps = CondaDependencies.create(pip_packages=["pandas"])
    deps.set_pip_index_url("https://pypi.example/simple")
    deps.add_tensorflow_pip_package(core_type="gpu", version="2.16.1")
    assert deps.pip_packages[-1] == "tensorflow==2.16.1"  # one wheel for CPUs and GPUs
    assert deps.pip_options == ["--index-url https://pypi.example/simple"]
    deps.add_tensorflow_conda_package(core_type="gpu")
    assert deps.conda_packages == ["tensorflow-gpu"]  # pip installs it as tensorflow
    with pytest.raises(UserErrorException, match="core_type must be 'cpu' or 'gpu'"):
        deps.add_tensorflow_pip_package(core_type="tpu")
    with pytest.raises(NotImplementedError, match="CNTK is retired"):
        deps.add_cntk_package()


def test_it_keeps_the_run_configs_environment_shape(ws):
    env = Environment("cfg")
    env.python.interpreter_path = "/usr/bin/python3"
    env.environment_variables = {"A": "1"}
    body = ScriptRunConfig(".", "train.py", environment=env).to_dict()["environment"]
    assert body["name"] == "cfg" and body["version"] is None
    assert body["python"]["user_managed_dependencies"] is False
    assert body["python"]["interpreter_path"] == "/usr/bin/python3"
    assert body["environment_variables"] == {"A": "1"}
    assert body["docker"]["enabled"] is False and "conda_dependencies" in body["python"]


def test_it_ports_azureml_curated_names(ws):
    myenv = Environment.get(workspace=ws, name="AzureML-Minimal")
    assert myenv.name == "MLStudio-Minimal" and myenv.python.user_managed_dependencies


@pytest.mark.slow
def test_build_makes_the_environment_ahead_of_its_first_run(ws, local_worker, tmp_path, capsys):
    make_wheel(tmp_path / "wheels")
    env = Environment("prebuilt")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=offline_packages(tmp_path / "wheels", "tinypkg")
    )
    build = env.build(workspace=ws)
    assert build.wait_for_completion(show_output=True) is build
    out = capsys.readouterr().out
    assert "tinypkg==1.0" in out and "Image build Succeeded: prebuilt version 1" in out
    assert build.status == "Succeeded" and env.version == "1"
    assert "built virtualenv" in build.get_log()

    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "train.py").write_text("import tinypkg; print(tinypkg.GREETING)\n")
    src = ScriptRunConfig(tmp_path / "project", "train.py", environment=env)
    run = Experiment(ws, "after-build").submit(src)
    run.wait_for_completion()
    system = run.get_details_with_logs()["logFiles"]["system_logs/executor.txt"]
    assert "virtualenv, cached" in system


@pytest.mark.slow
def test_a_failed_build_says_failed_and_why(ws, local_worker, tmp_path, capsys):
    env = Environment("broken")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=offline_packages(tmp_path, "no-such-package-here")
    )
    build = env.build(ws, image_build_compute="local").wait_for_completion(show_output=True)
    assert build.status == "Failed"
    out = capsys.readouterr().out
    assert "Image build Failed: broken version 1" in out and "no-such-package-here" in out


FAKE_CONDA = """#!/bin/sh
# A fake of conda (none can be installed here): `env export -n NAME --no-builds` prints
# what conda prints for an environment named myenv, and fails for any other.
if [ "$1 $2 $3 $4 $5" != "env export -n myenv --no-builds" ]; then
  echo "EnvironmentLocationNotFound: $4" >&2
  exit 1
fi
cat <<'YAML'
name: myenv
channels:
  - conda-forge
dependencies:
  - python=3.11.7
  - numpy=2.4.6
  - pip:
      - rich==13.0.0
prefix: /opt/conda/envs/myenv
YAML
"""


def test_it_reads_an_existing_conda_environment_with_conda_export(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserErrorException, match="needs conda, mamba or micromamba"):
        Environment.from_existing_conda_environment("copy", "myenv")
    (tmp_path / "conda").write_text(FAKE_CONDA)
    (tmp_path / "conda").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    env = Environment.from_existing_conda_environment("copy", "myenv")
    dependencies = env.python.conda_dependencies
    assert (env.name, dependencies.get_python_version()) == ("copy", "3.11.7")
    assert dependencies.conda_packages == ["numpy=2.4.6"]
    assert dependencies.pip_packages == ["rich==13.0.0"]
    assert dependencies.conda_channels == ["conda-forge"]
    with pytest.raises(UserErrorException, match="could not export conda environment 'other'"):
        Environment.from_existing_conda_environment("copy", "other")


def test_it_gives_the_image_details_of_a_registered_version(ws):
    env = Environment.from_docker_image("img", "team/base:1")
    env.python.conda_dependencies.add_pip_package("rich==13.0.0")
    env.register(ws)
    details = env.get_image_details(ws)
    assert details.image.startswith("mlstudio/env:") and details.repository == "mlstudio/env"
    assert details["dockerImage"]["name"] == details.image  # a dict, as v1's
    assert details.dockerfile.startswith("FROM team/base:1")
    assert details.image_exist is False  # nothing built yet
    assert details.interpreter_path == "/opt/mlstudio/env/bin/python"
    assert details.environment_path == "/opt/mlstudio/env"
    assert Environment("img").get_image_details(ws).image == details.image  # the latest


@pytest.mark.slow
def test_conda_packages_without_conda_go_to_pip_and_the_run_says_so(ws, local_worker, tmp_path):
    make_wheel(tmp_path / "wheels")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "train.py").write_text("import tinypkg; print(tinypkg.GREETING)\n")
    env = Environment("conda-via-pip")
    env.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["tinypkg=1.0"], pip_packages=offline_packages(tmp_path / "wheels")
    )
    run = Experiment(ws, "conda").submit(ScriptRunConfig(tmp_path / "project", "train.py",
                                                         environment=env))  # fmt: skip
    run.wait_for_completion()
    logs = run.get_details_with_logs()["logFiles"]
    assert "hello from tinypkg 1.0" in logs["user_logs/std_log.txt"]
    said = [line for line in logs["system_logs/executor.txt"].splitlines() if "with pip" in line]
    assert len(said) == 1 and said[0].endswith(
        "tinypkg=1.0 are installed with pip as tinypkg==1.0.*"
    )

    cuda = Environment("cuda")
    cuda.python.conda_dependencies = CondaDependencies.create(conda_packages=["cudatoolkit=11.8"])
    failed = Experiment(ws, "conda").submit(ScriptRunConfig(tmp_path / "project", "train.py",
                                                            environment=cuda))  # fmt: skip
    with pytest.raises(ActivityFailedException, match=r"cudatoolkit=11\.8 exist only as conda"):
        failed.wait_for_completion()
    never_ran = failed.get_details_with_logs()["logFiles"].get("user_logs/std_log.txt", "")
    assert "hello from tinypkg" not in never_ran and "Error" not in never_ran
