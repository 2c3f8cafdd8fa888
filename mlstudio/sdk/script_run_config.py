from __future__ import annotations

import json
import os

from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.environment import Environment
from mlstudio.sdk.exceptions import UserErrorException

DEFAULT_MAX_RUN_DURATION = 30 * 24 * 3600
DEFAULT_ENVIRONMENT = "mlstudio-default-environment"


class DockerConfiguration(V1Surface):
    _v1_ignored = frozenset({"shared_volumes"})

    """v1's docker_runtime_config: run in a container. `use_docker=True` builds the run's
    environment as an image; `shm_size` and `arguments` go to the container. The run's
    folder is always mounted, so `shared_volumes` is recorded and changes nothing."""

    def __init__(self, use_docker: bool = True, shm_size: str | None = None,
                 shared_volumes: bool = True, arguments: list | None = None):  # fmt: skip
        self.use_docker = bool(use_docker)
        self.shm_size = shm_size
        self.shared_volumes = shared_volumes
        self.arguments = [str(a) for a in arguments or []]

    def __repr__(self) -> str:
        return (f"DockerConfiguration(use_docker={self.use_docker}, shm_size={self.shm_size!r}, "
                f"shared_volumes={self.shared_volumes}, arguments={self.arguments!r})")  # fmt: skip


class RunConfiguration(V1Surface):
    """The `run_config` of a ScriptRunConfig, as in v1: target, environment, node_count,
    environment_variables, docker. `environment` starts as an empty Environment that is sent
    only once something in it is set."""

    def __init__(self, script: str | None = None, arguments: list | None = None,
                 framework: str | None = None, communicator: str | None = None,
                 conda_dependencies=None, _history_enabled=None, _path=None, _name=None,
                 command: list | str | None = None):  # fmt: skip
        self.target = "local"
        self._environment: Environment | None = None
        self.environment_variables: dict[str, str] = {}
        self.max_run_duration_seconds: int | None = None
        self.node_count = 1
        self.docker: DockerConfiguration | None = None
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.history = _history_enabled
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies

    def save(self, path=None, name: str | None = None, separate_environment_yaml=False) -> str:
        """Write this configuration to `<path>/.azureml/<name>.runconfig` (or the file
        `path` when no name is given), as v1; returns the file's path. The environment is
        always kept inside the file (separate_environment_yaml is accepted)."""
        from mlstudio.sdk import _runconfig_files as files

        target = files.config_file(path, name, for_writing=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(files.to_file_dict(self), indent=2) + "\n", encoding="utf-8")
        return str(target)

    @staticmethod
    def load(path=None, name: str | None = None) -> RunConfiguration:
        """The configuration save() wrote, or a .runconfig file azureml wrote (YAML, read
        with PyYAML where installed)."""
        from mlstudio.sdk import _runconfig_files as files

        config = RunConfiguration()
        files.apply(config, files.read_file(files.config_file(path, name, for_writing=False)))
        return config

    @staticmethod
    def delete(path=None, name: str | None = None) -> None:
        from mlstudio.sdk import _runconfig_files as files

        files.config_file(path, name, for_writing=False).unlink()

    @property
    def environment(self) -> Environment:
        if self._environment is None:
            self._environment = Environment(DEFAULT_ENVIRONMENT)
        return self._environment

    @environment.setter
    def environment(self, value: Environment | None) -> None:
        self._environment = value

    def _environment_to_send(self) -> Environment | None:
        environment = self._environment
        untouched = Environment(DEFAULT_ENVIRONMENT).to_dict()
        if environment is not None and environment.to_dict() == untouched:
            environment = None  # nothing set in it: the studio's default applies
        docker = self.docker
        if docker is None or not docker.use_docker:
            return environment
        environment = (environment or Environment(DEFAULT_ENVIRONMENT)).clone(
            environment.name if environment else DEFAULT_ENVIRONMENT
        )
        environment.docker.enabled = True
        environment.docker.shm_size = docker.shm_size or environment.docker.shm_size
        environment.docker.arguments = docker.arguments or environment.docker.arguments
        return environment


class ScriptRunConfig(V1Surface):
    """What to run: a script with arguments (or a command) from a source folder, where, and in
    which environment. Mirrors azureml.core.ScriptRunConfig."""

    def __init__(
        self,
        source_directory: str | os.PathLike = ".",
        script: str | None = None,
        arguments: list | None = None,
        run_config: RunConfiguration | None = None,
        compute_target=None,
        environment: Environment | None = None,
        distributed_job_config=None,
        max_run_duration_seconds: int = DEFAULT_MAX_RUN_DURATION,
        command: list | str | None = None,
        docker_runtime_config=None,
        resume_from=None,
    ):
        if script and command:
            raise UserErrorException("Give ScriptRunConfig either script= or command=, not both.")
        self.source_directory = os.fspath(source_directory)
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command
        self.run_config = run_config or RunConfiguration()
        if compute_target is not None:
            self.run_config.target = compute_target
        if environment is not None:
            self.run_config.environment = environment
        self.run_config.max_run_duration_seconds = max_run_duration_seconds
        if docker_runtime_config is not None:
            self.run_config.docker = docker_runtime_config
        self.distributed_job_config = distributed_job_config

    @property
    def compute_target(self):
        return self.run_config.target

    @property
    def environment(self) -> Environment | None:
        return self.run_config._environment

    def to_dict(self) -> dict:
        target = self.run_config.target
        environment = self.run_config._environment_to_send()
        return {
            "script": self.script,
            "command": self.command,
            "arguments": [_argument(i, a) for i, a in enumerate(self.arguments)],
            "compute_target": getattr(target, "name", target) or "local",
            "environment": environment.to_dict() if environment else None,
            "environment_variables": dict(self.run_config.environment_variables),
            "max_run_duration_seconds": self.run_config.max_run_duration_seconds,
            "distributed": _distributed(self.distributed_job_config),
            "datasets": [a.to_dict() for a in self.arguments if _is_input(a)],
        }


def _distributed(config) -> dict | None:
    if config is None:
        return None
    if not hasattr(config, "to_dict"):
        raise UserErrorException(
            f"distributed_job_config must be a PyTorchConfiguration, MpiConfiguration or "
            f"TensorflowConfiguration (from mlstudio.sdk.runconfig), not {config!r}."
        )
    return config.to_dict()


def _is_input(value) -> bool:
    """A dataset input or output: its folder takes its place when the script starts."""
    from mlstudio.sdk.data.dataset_consumption_config import DatasetConsumptionConfig
    from mlstudio.sdk.data.output_dataset_config import OutputFileDatasetConfig

    return isinstance(value, DatasetConsumptionConfig | OutputFileDatasetConfig)


def _argument(position: int, value):
    if _is_input(value):
        return str(value)  # the executor puts the input's folder in its place
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UserErrorException(
            f"Argument {position} ({value!r}, a {type(value).__name__}) is not a string or a "
            "number; pass str(value) if you mean its text."
        )
    return value
