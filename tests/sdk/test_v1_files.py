"""v1's file forms of a definition: Environment.save_to_directory / load_from_directory and
CondaDependencies.save_to_file, read back as a person (or v1) left them."""

import json

import pytest

from mlstudio.sdk import Environment
from mlstudio.sdk.conda_dependencies import CondaDependencies
from mlstudio.sdk.exceptions import UserErrorException


def an_environment() -> Environment:
    env = Environment("trainer")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["scikit-learn==1.5.0"], conda_packages=["numpy"], python_version="3.11"
    )
    env.docker.enabled = True
    env.docker.base_dockerfile = "FROM mlstudio/python:bookworm\nRUN echo hi\n"
    env.docker.base_image_registry.address = "registry.local:5000"
    env.docker.base_image_registry.username = "ci"
    env.docker.base_image_registry.password = "s3cret"
    env.environment_variables = {"DATA_ROOT": "/data", "lowerCase": "x"}
    return env


def test_it_saves_an_environment_as_v1s_files_and_loads_it_back(tmp_path):
    folder = tmp_path / "env"
    an_environment().save_to_directory(str(folder))
    assert sorted(p.name for p in folder.iterdir()) == [
        "BaseDockerfile", "azureml_environment.json", "conda_dependencies.yml",
    ]  # fmt: skip
    assert "scikit-learn==1.5.0" in (folder / "conda_dependencies.yml").read_text()
    assert "s3cret" not in (folder / "azureml_environment.json").read_text()

    loaded = Environment.load_from_directory(str(folder))
    assert loaded.name == "trainer"
    assert loaded.python.conda_dependencies.pip_packages == ["scikit-learn==1.5.0"]
    assert loaded.python.conda_dependencies.conda_packages == ["numpy"]
    assert loaded.python.conda_dependencies.get_python_version() == "3.11"
    assert loaded.docker.enabled and loaded.docker.base_dockerfile.endswith("RUN echo hi\n")
    assert loaded.docker.base_image_registry.address == "registry.local:5000"
    assert loaded.docker.base_image_registry.password is None
    assert loaded.environment_variables == {"DATA_ROOT": "/data", "lowerCase": "x"}


def test_it_refuses_to_overwrite_a_folder_unless_asked(tmp_path):
    an_environment().save_to_directory(str(tmp_path / "env"))
    with pytest.raises(FileExistsError):
        an_environment().save_to_directory(str(tmp_path / "env"))
    an_environment().save_to_directory(str(tmp_path / "env"), overwrite=True)


def test_it_loads_a_folder_v1_wrote_with_camel_case_keys(tmp_path):
    (tmp_path / "azureml_environment.json").write_text(json.dumps({
        "name": "from-v1", "version": None,
        "python": {"userManagedDependencies": True, "interpreterPath": "/opt/py/bin/python"},
        "environmentVariables": {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"},
        "docker": {"enabled": True, "baseImage": "mlstudio/python:bookworm", "shmSize": "2g",
                   "arguments": [], "baseImageRegistry": {"address": None, "username": None,
                                                          "password": None}},
    }))  # fmt: skip
    loaded = Environment.load_from_directory(str(tmp_path))
    assert loaded.python.user_managed_dependencies is True
    assert loaded.python.interpreter_path == "/opt/py/bin/python"
    assert loaded.docker.base_image == "mlstudio/python:bookworm" and loaded.docker.shm_size == "2g"
    assert loaded.environment_variables == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}


def test_a_folder_without_a_definition_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"azureml_environment\.json"):
        Environment.load_from_directory(str(tmp_path))
    (tmp_path / "azureml_environment.json").write_text("{not json")
    with pytest.raises(UserErrorException, match="is not valid JSON"):
        Environment.load_from_directory(str(tmp_path))


def test_save_to_file_writes_under_azureml_and_returns_the_relative_path(tmp_path):
    deps = CondaDependencies.create(pip_packages=["pandas"])
    assert deps.save_to_file(str(tmp_path)) == ".azureml/conda_dependencies.yml"
    assert CondaDependencies(str(tmp_path / ".azureml/conda_dependencies.yml")).pip_packages == [
        "pandas"
    ]
    assert deps.save_to_file(str(tmp_path), conda_file_path="env.yml") == "env.yml"
    assert "pandas" in (tmp_path / "env.yml").read_text()
    (tmp_path / "aml_config").mkdir()
    assert deps.save_to_file(str(tmp_path)) == "aml_config/conda_dependencies.yml"
