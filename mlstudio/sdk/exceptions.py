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
