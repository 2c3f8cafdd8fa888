"""v1's Estimator: a ScriptRunConfig and an Environment made from one call.

est = Estimator(source_directory=".", entry_script="train.py",
                script_params={"--lr": 0.1}, compute_target="local",
                pip_packages=["scikit-learn"])
run = Experiment(ws, "exp").submit(est)
"""

from __future__ import annotations

import sys

from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.conda_dependencies import CondaDependencies
from mlstudio.sdk.container_registry import ContainerRegistry
from mlstudio.sdk.environment import Environment
from mlstudio.sdk.exceptions import UserErrorException
from mlstudio.sdk.script_run_config import DEFAULT_MAX_RUN_DURATION, ScriptRunConfig
from mlstudio.sdk.train._distributed import distributed_config

_warned = False
PACKAGE_PARAMETERS = (
    "conda_packages", "pip_packages", "conda_dependencies_file", "pip_requirements_file",
    "custom_docker_image", "user_managed",
)  # fmt: skip


def warn_deprecated(name: str) -> None:
    """v1 said once that estimators are deprecated; so does MLStudio."""
    global _warned
    if not _warned:
        _warned = True
        print(
            f"'{name}' estimators are deprecated since Azure ML SDK v1.19: they still run "
            "here, but ScriptRunConfig with an Environment is the way forward.",
            file=sys.stderr,
        )


def script_arguments(script_params) -> list:
    """v1's script_params: a dict {'--lr': 0.1, '--verbose': ''} or a list, as arguments."""
    if script_params is None:
        return []
    if isinstance(script_params, list | tuple):
        return list(script_params)
    if not isinstance(script_params, dict):
        raise UserErrorException("script_params must be a dict of name → value, or a list.")
    arguments = []
    for name, value in script_params.items():
        arguments.append(str(name))
        if value is not None and value != "":
            arguments.append(value if isinstance(value, int | float | str) else str(value))
    return arguments


class Estimator(V1Surface):
    """A generic estimator. `environment_definition` or the package parameters define its
    software; `distributed_training` (Mpi, Gloo, Nccl, ParameterServer) its processes."""

    _framework_packages: tuple[str, ...] = ()
    _curated: str | None = None

    def __init__(self, source_directory, *, compute_target=None, vm_size=None,
                 vm_priority=None, entry_script=None, script_params=None, node_count=1,
                 process_count_per_node=1, distributed_backend=None, distributed_training=None,
                 use_gpu=False, use_docker=True, custom_docker_base_image=None,
                 custom_docker_image=None, image_registry_details=None, user_managed=False,
                 conda_packages=None, pip_packages=None, conda_dependencies_file_path=None,
                 pip_requirements_file_path=None, conda_dependencies_file=None,
                 pip_requirements_file=None, environment_variables=None,
                 environment_definition=None, inputs=None, source_directory_data_store=None,
                 shm_size=None, resume_from=None,
                 max_run_duration_seconds=DEFAULT_MAX_RUN_DURATION, framework_version=None,
                 **framework_arguments):  # fmt: skip
        warn_deprecated(type(self).__name__)
        if not entry_script:
            raise UserErrorException(f"{type(self).__name__} needs entry_script, e.g. 'train.py'.")
        self.framework_version = framework_version
        software = {
            "conda_packages": conda_packages, "pip_packages": pip_packages,
            "conda_dependencies_file": conda_dependencies_file or conda_dependencies_file_path,
            "pip_requirements_file": pip_requirements_file or pip_requirements_file_path,
            "custom_docker_image": custom_docker_image or custom_docker_base_image,
            "user_managed": user_managed,
        }  # fmt: skip
        if environment_definition is not None and any(software.values()):
            given = ", ".join(name for name in PACKAGE_PARAMETERS if software[name])
            raise UserErrorException(
                f"Give environment_definition or {given}, not both: put the packages into "
                "the Environment."
            )
        self._software = software
        self._registry = image_registry_details
        self._shm_size = shm_size
        self._environment = environment_definition
        self.use_gpu, self.use_docker, self.inputs = use_gpu, use_docker, inputs
        self._config = ScriptRunConfig(
            source_directory=source_directory,
            script=entry_script,
            arguments=script_arguments(script_params),
            compute_target=compute_target or "local",
            max_run_duration_seconds=max_run_duration_seconds,
            distributed_job_config=distributed_config(
                distributed_training, distributed_backend, node_count, process_count_per_node,
                **framework_arguments,
            ),
        )  # fmt: skip
        self._config.run_config.environment_variables.update(environment_variables or {})
        self._config.run_config.node_count = node_count

    # --- what Experiment.submit reads --------------------------------------------------------
    @property
    def source_directory(self) -> str:
        return self._config.source_directory

    @property
    def run_config(self):
        return self._config.run_config

    @property
    def conda_dependencies(self) -> CondaDependencies:
        return self._packages()

    def _bind(self, workspace) -> ScriptRunConfig:
        """The ScriptRunConfig to submit to `workspace`, its Environment made now (a
        framework estimator without extra packages uses MLStudio's curated one)."""
        self._config.run_config.environment = self._environment or self._make_environment(workspace)
        return self._config

    def to_dict(self) -> dict:
        return self._config.to_dict()

    def _make_environment(self, workspace) -> Environment | None:
        software = self._software
        extra = any(software[name] for name in PACKAGE_PARAMETERS) or self.framework_version
        if self._curated and not extra and not self._shm_size:
            return Environment.get(workspace, self._curated)
        if not extra and not self._framework_packages and not self._shm_size:
            return None  # the studio's default, as a plain ScriptRunConfig
        env = Environment(f"{type(self).__name__.lower()}-estimator")
        env.python.user_managed_dependencies = bool(software["user_managed"])
        env.python.conda_dependencies = self._packages()
        if software["custom_docker_image"]:
            env.docker.enabled = True
            env.docker.base_image = software["custom_docker_image"]
            if self._registry is not None:
                env.docker.base_image_registry = self._registry
        if self._shm_size:
            env.docker.shm_size = self._shm_size
        return env

    def _packages(self) -> CondaDependencies:
        software = self._software
        if software["conda_dependencies_file"]:
            dependencies = CondaDependencies(software["conda_dependencies_file"])
        else:
            dependencies = CondaDependencies()
        if software["pip_requirements_file"]:
            for line in Environment.from_pip_requirements(
                "requirements", software["pip_requirements_file"]
            ).python.conda_dependencies.pip_packages:
                dependencies.add_pip_package(line)
        for package in self._framework_pins():
            dependencies.add_pip_package(package)
        for package in software["pip_packages"] or []:
            dependencies.add_pip_package(package)
        for package in software["conda_packages"] or []:
            dependencies.add_conda_package(package)
        return dependencies

    def _framework_pins(self) -> list[str]:
        """The framework's own package; none when user_managed (the interpreter or image
        already has it, and nothing is installed into it)."""
        if self._software["user_managed"]:
            return []
        version = self.framework_version
        return [f"{p}=={version}" if version else p for p in self._framework_packages]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(entry_script={self._config.script!r})"


class _FrameworkEstimator(Estimator):
    """An estimator for one framework (PyTorch, TensorFlow, SKLearn): v1 asks it, not the plain
    Estimator, which framework versions it supports."""

    _supported_versions: tuple[str, ...] = ()

    @classmethod
    def get_supported_versions(cls, current_version=None) -> list[str]:
        return list(cls._supported_versions)


__all__ = ["ContainerRegistry", "Estimator"]
