"""MLStudio's Python SDK. It mirrors azureml-core v1 and needs only the standard library:

from mlstudio.sdk import Workspace
ws = Workspace.from_config()
"""

from mlstudio.sdk.exceptions import (
    AuthenticationException,
    MLStudioException,
    NotFoundException,
    ServiceUnreachableException,
    UserErrorException,
    WorkspaceException,
)
from mlstudio.sdk.workspace import Workspace

__all__ = [
    "AuthenticationException",
    "MLStudioException",
    "NotFoundException",
    "ServiceUnreachableException",
    "UserErrorException",
    "Workspace",
    "WorkspaceException",
]
