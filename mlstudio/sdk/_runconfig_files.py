"""v1's RunConfiguration files: `run_config.save(path, name)` and `RunConfiguration.load(path,
name)`, at `<path>/.azureml/<name>.runconfig` (or `aml_config/`), or at the file `path` when
no name is given.

The file is written as JSON, which is also YAML, so v1 reads it too. A file v1 wrote (YAML)
is read with PyYAML where it is installed; the SDK itself needs only the standard library.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlstudio.sdk.exceptions import UserErrorException

FOLDERS = (".azureml", "aml_config")


def config_file(path, name: str | None, *, for_writing: bool) -> Path:
    if name is None:
        if path is None:
            raise UserErrorException("Give RunConfiguration a file path, or a folder and a name.")
        return Path(path)
    folder = Path(path or os.getcwd())
    for sub in FOLDERS:
        candidate = folder / sub / f"{name}.runconfig"
        if candidate.is_file() or (for_writing and (folder / sub).is_dir()):
            return candidate
    if for_writing:
        return folder / FOLDERS[0] / f"{name}.runconfig"
    raise UserErrorException(
        f"No {name}.runconfig in {folder / FOLDERS[0]} or {folder / FOLDERS[1]}."
    )


def to_file_dict(config) -> dict:
    """v1's keys (camelCase) for what MLStudio's RunConfiguration holds."""
    docker = config.docker
    environment = config._environment
    return {
        "script": config.script,
        "arguments": list(config.arguments),
        "command": config.command,
        "target": getattr(config.target, "name", config.target),
        "framework": config.framework,
        "communicator": config.communicator,
        "nodeCount": config.node_count,
        "maxRunDurationSeconds": config.max_run_duration_seconds,
        "environmentVariables": dict(config.environment_variables),
        "environment": environment.to_dict() if environment is not None else None,
        "docker": None if docker is None else {
            "useDocker": docker.use_docker, "sharedVolumes": docker.shared_volumes,
            "shmSize": docker.shm_size, "arguments": list(docker.arguments),
        },
    }  # fmt: skip


def read_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserErrorException(f"Cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = _yaml(text, path)
    if not isinstance(data, dict):
        raise UserErrorException(f"{path} does not hold a run configuration (a mapping).")
    return data


def _yaml(text: str, path: Path):
    try:
        import yaml
    except ImportError:
        raise UserErrorException(
            f"{path} is YAML, as azureml wrote it; `pip install pyyaml` to read it, or save it "
            "again with MLStudio's RunConfiguration.save."
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserErrorException(f"{path} is neither JSON nor valid YAML: {exc}") from None


def apply(config, data: dict) -> None:
    """Set on `config` what a file holds (v1's keys, or snake_case ones)."""
    from mlstudio.sdk.environment import Environment, _snake_keys
    from mlstudio.sdk.script_run_config import DockerConfiguration

    found = _snake_keys(data)
    config.script = found.get("script")
    config.arguments = list(found.get("arguments") or [])
    config.command = found.get("command")
    config.target = found.get("target") or "local"
    config.framework = found.get("framework") or "Python"
    config.communicator = found.get("communicator") or "None"
    config.node_count = int(found.get("node_count") or 1)
    config.max_run_duration_seconds = found.get("max_run_duration_seconds")
    config.environment_variables = dict(found.get("environment_variables") or {})
    environment = data.get("environment")
    if isinstance(environment, dict) and environment.get("name"):
        spec = _snake_keys(environment)
        spec["python"]["conda_dependencies"] = _conda(spec["python"].get("conda_dependencies"))
        config.environment = Environment._from_api(spec)
    docker = found.get("docker")
    if isinstance(docker, dict) and "use_docker" in docker:
        config.docker = DockerConfiguration(
            use_docker=bool(docker["use_docker"]), shm_size=docker.get("shm_size"),
            shared_volumes=docker.get("shared_volumes", True), arguments=docker.get("arguments"),
        )  # fmt: skip


def _conda(section) -> dict | None:
    """MLStudio's form of an environment's conda dependencies; v1's files hold a conda
    environment file's mapping there (channels, dependencies with a pip list)."""
    from mlstudio.sdk.conda_dependencies import CondaDependencies

    if not isinstance(section, dict) or "dependencies" not in section:
        return section
    dependencies = CondaDependencies()
    dependencies._read_items("channels", [str(c) for c in section.get("channels") or []])
    for item in section["dependencies"] or []:
        if isinstance(item, dict):
            for package in item.get("pip") or []:
                dependencies.add_pip_package(str(package))
        else:
            dependencies._read_items("dependencies", [str(item)])
    return dependencies._to_dict()
