"""MLStudio's Python SDK. It mirrors azureml-core v1 and needs only the standard library:

from mlstudio.sdk import Experiment, ScriptRunConfig, Workspace
ws = Workspace.from_config()
run = Experiment(ws, "my_experiment").submit(ScriptRunConfig(".", "train.py"))
run.wait_for_completion(show_output=True)
"""

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
from mlstudio.sdk.run import ActivityFailedException, Run
from mlstudio.sdk.script_run_config import RunConfiguration, ScriptRunConfig
from mlstudio.sdk.workspace import Workspace

__all__ = [
    "ActivityFailedException",
    "AuthenticationException",
    "Environment",
    "Experiment",
    "MLStudioException",
    "NotFoundException",
    "Run",
    "RunConfiguration",
    "ScriptRunConfig",
    "ServiceUnreachableException",
    "UserErrorException",
    "Workspace",
    "WorkspaceException",
]
