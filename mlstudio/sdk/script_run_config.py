from __future__ import annotations

import os

from mlstudio.sdk.environment import Environment
from mlstudio.sdk.exceptions import UserErrorException

DEFAULT_MAX_RUN_DURATION = 30 * 24 * 3600


class RunConfiguration:
    """The `run_config` of a ScriptRunConfig: target and environment variables, as in v1."""

    def __init__(self):
        self.target = "local"
        self.environment: Environment | None = None
        self.environment_variables: dict[str, str] = {}
        self.max_run_duration_seconds: int | None = None


class ScriptRunConfig:
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
        self.distributed_job_config = distributed_job_config

    @property
    def compute_target(self):
        return self.run_config.target

    @property
    def environment(self) -> Environment | None:
        return self.run_config.environment

    def to_dict(self) -> dict:
        target = self.run_config.target
        environment = self.run_config.environment
        return {
            "script": self.script,
            "command": self.command,
            "arguments": [_argument(i, a) for i, a in enumerate(self.arguments)],
            "compute_target": getattr(target, "name", target) or "local",
            "environment": environment.to_dict() if environment else None,
            "environment_variables": dict(self.run_config.environment_variables),
            "max_run_duration_seconds": self.run_config.max_run_duration_seconds,
            "distributed": _distributed(self.distributed_job_config),
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


def _argument(position: int, value):
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UserErrorException(
            f"Argument {position} ({value!r}, a {type(value).__name__}) is not a string or a "
            "number; pass str(value) if you mean its text."
        )
    return value
