"""v1's RunConfiguration files: save(path, name) and load(path, name) at
<path>/.azureml/<name>.runconfig, including a file in the YAML form azureml wrote."""

import textwrap

import pytest

from mlstudio.sdk import Environment, ScriptRunConfig
from mlstudio.sdk.conda_dependencies import CondaDependencies
from mlstudio.sdk.exceptions import UserErrorException
from mlstudio.sdk.runconfig import DockerConfiguration, RunConfiguration


def a_config() -> RunConfiguration:
    config = RunConfiguration(script="train.py", arguments=["--lr", 0.1])
    config.target = "cpu"
    config.node_count = 2
    config.environment_variables["EPOCHS"] = "3"
    env = Environment("trainer")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["pandas==3.1.1"])
    config.environment = env
    config.docker = DockerConfiguration(shm_size="2g", arguments=["--ipc=host"])
    return config


def test_it_saves_under_azureml_and_loads_the_same_configuration(tmp_path):
    config = a_config()
    written = config.save(path=str(tmp_path), name="train")
    assert written == str(tmp_path / ".azureml" / "train.runconfig")
    loaded = RunConfiguration.load(path=str(tmp_path), name="train")
    assert (loaded.script, loaded.arguments, loaded.target) == ("train.py", ["--lr", 0.1], "cpu")
    assert (loaded.node_count, loaded.environment_variables) == (2, {"EPOCHS": "3"})
    assert loaded.environment.python.conda_dependencies.pip_packages == ["pandas==3.1.1"]
    assert (loaded.docker.shm_size, loaded.docker.arguments) == ("2g", ["--ipc=host"])
    sent = ScriptRunConfig(".", "train.py", run_config=loaded).to_dict()
    assert sent == ScriptRunConfig(".", "train.py", run_config=config).to_dict()

    RunConfiguration.delete(path=str(tmp_path), name="train")
    with pytest.raises(UserErrorException, match=r"No train\.runconfig in .*\.azureml"):
        RunConfiguration.load(path=str(tmp_path), name="train")


def test_it_saves_to_a_file_path_and_keeps_an_existing_aml_config_folder(tmp_path):
    assert a_config().save(path=str(tmp_path / "my.runconfig")) == str(tmp_path / "my.runconfig")
    assert RunConfiguration.load(str(tmp_path / "my.runconfig")).target == "cpu"
    (tmp_path / "aml_config").mkdir()
    assert a_config().save(str(tmp_path), "old").endswith("aml_config/old.runconfig")


V1_YAML = """\
    script: train.py
    arguments: [--data-folder, /data]
    target: gpu-cluster
    framework: Python
    communicator: None
    nodeCount: 1
    environmentVariables:
      EXAMPLE_ENV_VAR: EXAMPLE_VALUE
    environment:
      name: project_environment
      version:
      python:
        userManagedDependencies: false
        interpreterPath: python
        condaDependencies:
          name: project_environment
          channels:
          - conda-forge
          dependencies:
          - python=3.11
          - libgomp
          - pip:
            - scikit-learn==1.9.1
      docker:
        enabled: true
        baseImage: mlstudio/python:bookworm
        shmSize: 2g
    docker:
      useDocker: true
      sharedVolumes: true
      shmSize: 1g
      arguments: []
"""


def test_it_loads_a_runconfig_in_the_yaml_azureml_wrote(tmp_path):
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "v1.runconfig").write_text(textwrap.dedent(V1_YAML))
    loaded = RunConfiguration.load(str(tmp_path), "v1")
    assert (loaded.script, loaded.target) == ("train.py", "gpu-cluster")
    assert loaded.arguments == ["--data-folder", "/data"]
    assert loaded.environment_variables == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
    env = loaded.environment
    assert env.name == "project_environment" and env.docker.base_image.endswith(":bookworm")
    dependencies = env.python.conda_dependencies
    assert dependencies.pip_packages == ["scikit-learn==1.9.1"]
    assert dependencies.conda_packages == ["libgomp"]
    assert dependencies.conda_channels == ["conda-forge"]
    assert dependencies.get_python_version() == "3.11"
    assert (loaded.docker.use_docker, loaded.docker.shm_size) == (True, "1g")


def test_a_file_that_is_no_configuration_is_named(tmp_path):
    (tmp_path / "bad.runconfig").write_text("- just\n- a list\n")
    with pytest.raises(UserErrorException, match=r"bad\.runconfig does not hold a run config"):
        RunConfiguration.load(str(tmp_path / "bad.runconfig"))
    (tmp_path / "broken.runconfig").write_text("script: [unclosed\n")
    with pytest.raises(UserErrorException, match="neither JSON nor valid YAML"):
        RunConfiguration.load(str(tmp_path / "broken.runconfig"))
