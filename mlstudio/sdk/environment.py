"""Environments, as azureml.core.Environment:

    env = Environment("fastai2")
    env.docker.enabled = True
    env.docker.base_image = "fastdotai/fastai2:latest"
    env.python.user_managed_dependencies = True
    env.register(ws)                       # version "1", or the same version when unchanged
    Environment.get(ws, "fastai2")         # the latest version; Environment.list(ws) for all

A registered environment is an immutable version. The registry password goes to the studio
with a registration and never comes back: a fetched environment has `password` None, and
registering an edited copy keeps the stored password while the registry is unchanged.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

from mlstudio.sdk._http import segment
from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.conda_dependencies import CondaDependencies, _read_text, requirement_lines
from mlstudio.sdk.container_registry import ContainerRegistry
from mlstudio.sdk.exceptions import UserErrorException

# v1's file names in a folder written by save_to_directory.
DEFINITION_FILE = "azureml_environment.json"
CONDA_FILE = "conda_dependencies.yml"
DOCKERFILE_FILE = "BaseDockerfile"


class PythonSection(V1Surface):
    """`env.python`: who manages the packages, which interpreter, and which packages."""

    def __init__(self):
        self.user_managed_dependencies = False
        self.interpreter_path: str | None = None
        self.conda_dependencies = CondaDependencies()

    def to_dict(self) -> dict:
        return {
            "user_managed_dependencies": self.user_managed_dependencies,
            "interpreter_path": self.interpreter_path,
            "conda_dependencies": self.conda_dependencies._to_dict(),
        }


class DockerSection(V1Surface):
    _v1_ignored = frozenset({"shared_volumes", "gpu_support"})

    """`env.docker`: the image to run in. Give base_image or base_dockerfile (its text or the
    path of a file), not both; with neither, the studio's default base image is used."""

    def __init__(self):
        self.enabled = False
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.base_image_registry = ContainerRegistry()
        self.shm_size: str | None = None
        self.arguments: list[str] = []
        # v1 names that change nothing here: the run's folder is always mounted, and GPUs
        # are given to a container whenever its node has them.
        self.shared_volumes = True
        self.gpu_support = False

    def to_dict(self) -> dict:
        return {
            "enabled": self.enabled,
            "base_image": self.base_image,
            "base_dockerfile": _dockerfile_text(self.base_dockerfile),
            "base_image_registry": self.base_image_registry.to_dict(),
            "shm_size": self.shm_size,
            "arguments": list(self.arguments or []),
        }


class Environment(V1Surface):
    """`Environment(name)` with `.python`, `.docker` and `.environment_variables`."""

    # The base images MLStudio builds Docker environments from (MLSTUDIO_DEFAULT_BASE_IMAGE
    # on the studio picks another); v1 named its Ubuntu images here.
    DEFAULT_CPU_IMAGE = "mlstudio/python:bookworm"
    DEFAULT_GPU_IMAGE = "mlstudio/python:bookworm"

    def __init__(self, name: str):
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}

    # --- the studio ---------------------------------------------------------------------

    def register(self, workspace) -> Environment:
        """Register this definition: the next version when it changed, the latest version
        when it did not. Returns the registered Environment; this one gets its version."""
        data = workspace._client.post(_base(workspace), self.to_dict())
        for message in data.get("warnings") or []:
            warnings.warn(message, UserWarning, stacklevel=2)
        registered = Environment._from_api(data)
        self.version = registered.version
        return registered

    def build(self, workspace, image_build_compute=None):
        """Register this definition and build it now on `image_build_compute` (a compute
        target or its name; `local` by default), so its first run starts from the cache.
        Returns an ImageBuildDetails: `wait_for_completion(show_output=True)`, `status`,
        `get_log()`."""
        from mlstudio.sdk._environment_build import environment_build

        return environment_build(self, workspace, image_build_compute)

    def get_image_details(self, workspace):
        """The image of the registered version (this one's, else the latest): a dict with
        `image`, `dockerfile`, `image_exist`, `interpreter_path`, as v1's DockerImageDetails."""
        from mlstudio.sdk._environment_build import image_details

        return image_details(self, workspace)

    @staticmethod
    def get(workspace, name: str, version: str | None = None) -> Environment:
        """A registered environment: the given version, or the latest."""
        path = f"{_base(workspace)}/{segment(name)}/versions/{segment(version or 'latest')}"
        return Environment._from_api(workspace._client.get(path))

    @staticmethod
    def list(workspace) -> dict[str, Environment]:
        """Name → latest version of every environment the workspace sees, curated included."""
        found = workspace._client.get(_base(workspace))
        return {name: Environment._from_api(data) for name, data in found.items()}

    # --- making one ---------------------------------------------------------------------

    @staticmethod
    def from_pip_requirements(name: str, file_path, pip_version: str | None = None):
        """An environment whose pip packages are the lines of a requirements file (files it
        includes with -r are read in)."""
        env = Environment(name)
        text = _read_text(file_path, "requirements file")
        base_dir = os.path.dirname(os.path.abspath(file_path))
        for line in requirement_lines(text, base_dir=base_dir):
            env.python.conda_dependencies._pip.append(line)
        if pip_version:
            env.python.conda_dependencies.add_pip_package(f"pip=={pip_version}")
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path) -> Environment:
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    @staticmethod
    def from_existing_conda_environment(name: str, conda_environment_name: str) -> Environment:
        """The packages of a conda environment on this machine (read with `conda env
        export`), as v1."""
        text = _conda_export(conda_environment_name)
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies._from_text(text)
        return env

    @staticmethod
    def from_dockerfile(
        name: str, dockerfile: str, conda_specification=None, pip_requirements=None
    ) -> Environment:
        """An environment built from a Dockerfile (its text or the path of a file)."""
        env = _with_packages(name, conda_specification, pip_requirements)
        env.docker.enabled = True
        env.docker.base_dockerfile = _dockerfile_text(dockerfile)
        return env

    @staticmethod
    def from_docker_image(
        name: str,
        image: str,
        container_registry: ContainerRegistry | None = None,
        conda_specification=None,
        pip_requirements=None,
    ) -> Environment:
        env = _with_packages(name, conda_specification, pip_requirements)
        env.docker.enabled = True
        env.docker.base_image = image
        if container_registry is not None:
            env.docker.base_image_registry = copy.copy(container_registry)
        return env

    def clone(self, new_name: str) -> Environment:
        """An unregistered copy under another name (the way to start from a curated one)."""
        env = copy.deepcopy(self)
        env.name, env.version = new_name, None
        return env

    # --- v1's folder form -----------------------------------------------------------------

    def save_to_directory(self, path, overwrite: bool = False) -> None:
        """The definition as files a person edits, as v1 wrote them: azureml_environment.json,
        with the conda dependencies in conda_dependencies.yml and a Dockerfile in
        BaseDockerfile. A registry password is never written."""
        os.makedirs(path, exist_ok=overwrite)
        definition = self.to_dict()
        definition["python"].pop("conda_dependencies")
        self.python.conda_dependencies.save(os.path.join(path, CONDA_FILE))
        dockerfile = definition["docker"].pop("base_dockerfile")
        if dockerfile:
            Path(path, DOCKERFILE_FILE).write_text(dockerfile, encoding="utf-8")
        definition["docker"]["base_image_registry"]["password"] = None
        with open(os.path.join(path, DEFINITION_FILE), "w", encoding="utf-8") as handle:
            json.dump(definition, handle, indent=4)

    @staticmethod
    def load_from_directory(path) -> Environment:
        """The environment save_to_directory wrote (v1's camelCase keys are read too)."""
        definition_path = os.path.join(path, DEFINITION_FILE)
        if not os.path.isfile(definition_path):
            raise FileNotFoundError(definition_path)
        with open(definition_path, encoding="utf-8") as handle:
            try:
                definition = _snake_keys(json.load(handle))
            except ValueError as exc:
                raise UserErrorException(f"{definition_path} is not valid JSON: {exc}") from None
        env = Environment._from_api(definition)
        if os.path.isfile(os.path.join(path, CONDA_FILE)):
            env.python.conda_dependencies = CondaDependencies(os.path.join(path, CONDA_FILE))
        if os.path.isfile(os.path.join(path, DOCKERFILE_FILE)):
            env.docker.base_dockerfile = Path(path, DOCKERFILE_FILE).read_text(encoding="utf-8")
        return env

    # --- the wire format ----------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "python": self.python.to_dict(),
            "docker": self.docker.to_dict(),
            "environment_variables": dict(self.environment_variables),
        }

    @staticmethod
    def _from_api(data: dict) -> Environment:
        spec = data.get("spec", data)
        env = Environment(spec["name"])
        env.version = str(spec.get("version") or data.get("version") or "") or None
        python, docker = spec.get("python") or {}, spec.get("docker") or {}
        env.python.user_managed_dependencies = bool(python.get("user_managed_dependencies"))
        env.python.interpreter_path = python.get("interpreter_path")
        env.python.conda_dependencies = CondaDependencies._from_dict(
            python.get("conda_dependencies")
        )
        env.docker.enabled = bool(docker.get("enabled"))
        env.docker.base_image = docker.get("base_image")
        env.docker.base_dockerfile = docker.get("base_dockerfile")
        registry = docker.get("base_image_registry") or {}
        env.docker.base_image_registry = ContainerRegistry(
            address=registry.get("address"), username=registry.get("username")
        )
        env.docker.base_image_registry.password_set = bool(registry.get("password_set"))
        env.docker.shm_size = docker.get("shm_size")
        env.docker.arguments = list(docker.get("arguments") or [])
        env.environment_variables = dict(spec.get("environment_variables") or {})
        return env

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"


def _snake_keys(definition: dict) -> dict:
    """v1's files spell the definition's keys in camelCase (userManagedDependencies), the
    studio in snake_case; the names of environment variables stay as they are."""

    def snake(section) -> dict:
        if not isinstance(section, dict):
            return {}
        return {re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower(): value
                for key, value in section.items()}  # fmt: skip

    found = snake(definition)
    found["python"] = snake(found.get("python"))
    found["docker"] = snake(found.get("docker"))
    found["docker"]["base_image_registry"] = snake(found["docker"].get("base_image_registry"))
    return found


def _base(workspace) -> str:
    return f"workspaces/{segment(workspace.name)}/environments"


def _conda_export(conda_environment_name: str) -> str:
    tool = shutil.which("conda") or shutil.which("mamba") or shutil.which("micromamba")
    if tool is None:
        raise UserErrorException(
            f"from_existing_conda_environment needs conda, mamba or micromamba on this "
            f"machine's PATH to read {conda_environment_name!r}. Use "
            "Environment.from_conda_specification(name, 'environment.yml') instead."
        )
    argv = [tool, "env", "export", "-n", conda_environment_name, "--no-builds"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise UserErrorException(
            f"{Path(tool).name} could not export conda environment "
            f"{conda_environment_name!r}: {result.stderr.strip()[-500:]}"
        )
    return result.stdout


def _with_packages(name: str, conda_specification, pip_requirements) -> Environment:
    if conda_specification and pip_requirements:
        raise UserErrorException("Give conda_specification or pip_requirements, not both.")
    if conda_specification:
        return Environment.from_conda_specification(name, conda_specification)
    if pip_requirements:
        return Environment.from_pip_requirements(name, pip_requirements)
    return Environment(name)


def _dockerfile_text(value: str | None) -> str | None:
    """A Dockerfile's text, reading it when `value` is the path of an existing file."""
    if not value:
        return value
    candidate = value.strip()
    if "\n" not in candidate and os.path.isfile(candidate):
        return _read_text(candidate, "Dockerfile")
    return value
