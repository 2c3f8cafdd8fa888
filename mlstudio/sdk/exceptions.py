"""SDK errors, named after azureml.exceptions so `except` clauses port unchanged."""


class MLStudioException(Exception):
    """Base of every SDK error."""


class UserErrorException(MLStudioException):
    """Something the caller can fix: a bad argument, a missing config, a refused request."""


class AuthenticationException(UserErrorException):
    """The studio refused the token."""


class ServiceUnreachableException(MLStudioException):
    """The studio could not be reached."""


class NotFoundException(UserErrorException):
    """The object does not exist, or the token cannot see it."""


class WorkspaceException(UserErrorException):
    """The workspace could not be loaded."""


class WebserviceException(UserErrorException):
    """A model registry call was refused; v1 raised this name from azureml.core.Model."""


class ModelNotFoundException(NotFoundException, WebserviceException):
    """No model has that name, version or alias."""


# v1's other names, so `except` clauses of ported code still catch what they meant.
AzureMLException = MLStudioException


class ServiceException(MLStudioException):
    """The studio answered with an error of its own."""


class ExperimentExecutionException(UserErrorException):
    """A run could not be submitted or executed."""


class RunConfigurationException(UserErrorException):
    """A run configuration is invalid."""


class SnapshotException(UserErrorException):
    """The source folder could not be snapshotted."""


class TrainingException(UserErrorException):
    """An estimator could not be made or submitted."""


_DEFINED_ELSEWHERE = {
    "ActivityFailedException": "mlstudio.sdk.run",
    "ComputeTargetException": "mlstudio.sdk.compute_target",
}


def __getattr__(name: str):
    """ActivityFailedException and ComputeTargetException live beside what raises them; v1
    also exported them here."""
    if name in _DEFINED_ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(_DEFINED_ELSEWHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
