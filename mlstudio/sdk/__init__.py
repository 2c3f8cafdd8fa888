"""MLStudio's Python SDK. It mirrors azureml-core v1 and needs only the standard library:

from mlstudio.sdk import Experiment, ScriptRunConfig, Workspace
ws = Workspace.from_config()
run = Experiment(ws, "my_experiment").submit(ScriptRunConfig(".", "train.py"))
run.wait_for_completion(show_output=True)
"""

import importlib

from mlstudio.sdk._surface import module_getattr
from mlstudio.sdk._version import VERSION

# Each name's module, imported on first use (PEP 562): a run's script that needs only `Run`
# starts without the compute, data and model modules and what they import (~40 ms).
_HOMES = {
    "mlstudio.sdk.compute_target": [
        "AmlCompute", "ComputeTarget", "ComputeTargetException", "DockerCompute",
    ],
    "mlstudio.sdk.conda_dependencies": ["CondaDependencies"],
    "mlstudio.sdk.container_registry": ["ContainerRegistry"],
    "mlstudio.sdk.dataset": ["Dataset"],
    "mlstudio.sdk.datastore": ["Datastore"],
    "mlstudio.sdk.environment": ["Environment"],
    "mlstudio.sdk.exceptions": [
        "AuthenticationException", "MLStudioException", "NotFoundException",
        "ServiceUnreachableException", "UserErrorException", "WorkspaceException",
    ],
    "mlstudio.sdk.experiment": ["Experiment"],
    "mlstudio.sdk.model": ["Model"],
    "mlstudio.sdk.run": ["ActivityFailedException", "Run"],
    "mlstudio.sdk.runconfig": [
        "MpiConfiguration", "PyTorchConfiguration", "TensorflowConfiguration",
    ],
    "mlstudio.sdk.script_run": ["ScriptRun"],
    "mlstudio.sdk.script_run_config": [
        "DockerConfiguration", "RunConfiguration", "ScriptRunConfig",
    ],
    "mlstudio.sdk.tensorboard": ["Tensorboard"],
    "mlstudio.sdk.workspace": ["Workspace"],
}  # fmt: skip
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = ["VERSION", *sorted(_HOME_OF)]

_v1_getattr = module_getattr(__name__)  # v1 names MLStudio lacks: NotImplementedError


def __getattr__(name: str):
    home = _HOME_OF.get(name)
    if home is None:
        return _v1_getattr(name)
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
