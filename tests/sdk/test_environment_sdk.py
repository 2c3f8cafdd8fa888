"""The seed's environment snippets (custom Docker image, private registry, Dockerfile) and the
rest of azureml's Environment API, through the SDK against a live studio."""

import pytest

from mlstudio.sdk import (
    CondaDependencies,
    ContainerRegistry,
    Environment,
    ScriptRunConfig,
    UserErrorException,
)
from mlstudio.sdk.conda_dependencies import CondaDependencies as CondaDependenciesByPath

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
