"""MLStudio's Python SDK. It mirrors azureml-core v1 and needs only the standard library:

from mlstudio.sdk import Experiment, ScriptRunConfig, Workspace
ws = Workspace.from_config()
run = Experiment(ws, "my_experiment").submit(ScriptRunConfig(".", "train.py"))
run.wait_for_completion(show_output=True)
"""

from mlstudio.sdk._surface import module_getattr
from mlstudio.sdk._version import VERSION
from mlstudio.sdk.compute_target import (
    AmlCompute,
    ComputeTarget,
    ComputeTargetException,
    DockerCompute,
)
from mlstudio.sdk.conda_dependencies import CondaDependencies
from mlstudio.sdk.container_registry import ContainerRegistry
from mlstudio.sdk.dataset import Dataset
from mlstudio.sdk.datastore import Datastore
from mlstudio.sdk.environment import Environment
from mlstudio.sdk.exceptions import (
    AuthenticationException,
    MLStudioException,
    NotFoundException,
    ServiceUnreachableException,
    UserErrorException,
    WorkspaceException,
)
from mlstudio.sdk.experiment import Experiment
from mlstudio.sdk.model import Model
from mlstudio.sdk.run import ActivityFailedException, Run
from mlstudio.sdk.runconfig import MpiConfiguration, PyTorchConfiguration, TensorflowConfiguration
from mlstudio.sdk.script_run import ScriptRun
from mlstudio.sdk.script_run_config import DockerConfiguration, RunConfiguration, ScriptRunConfig
from mlstudio.sdk.tensorboard import Tensorboard
from mlstudio.sdk.workspace import Workspace

__all__ = [
    "VERSION",
    "ActivityFailedException",
    "AmlCompute",
    "AuthenticationException",
    "ComputeTarget",
    "ComputeTargetException",
    "CondaDependencies",
    "ContainerRegistry",
    "Dataset",
    "Datastore",
    "DockerCompute",
    "DockerConfiguration",
    "Environment",
    "Experiment",
    "MLStudioException",
    "Model",
    "MpiConfiguration",
    "NotFoundException",
    "PyTorchConfiguration",
    "Run",
    "RunConfiguration",
    "ScriptRun",
    "ScriptRunConfig",
    "ServiceUnreachableException",
    "Tensorboard",
    "TensorflowConfiguration",
    "UserErrorException",
    "Workspace",
    "WorkspaceException",
]

__getattr__ = module_getattr(__name__)  # v1 names MLStudio lacks: NotImplementedError
