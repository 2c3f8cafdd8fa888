"""MLflow's error format: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}` with
the HTTP status MLflow gives each code. MLStudio's own UserErrors map onto these in one place,
so the services' messages reach MLflow clients unchanged."""

from __future__ import annotations

from django.http import JsonResponse

from mlstudio.errors import Conflict, Forbidden, NotFound, TooLarge, Unauthorized, UserError

STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_LIMIT_EXCEEDED": 413,
    "NOT_IMPLEMENTED": 501,
}
# A 5xx other than 501 would make MLflow's client retry for minutes: users' mistakes are 4xx.
FROM_USER_ERROR = (
    (Unauthorized, "UNAUTHENTICATED"),
    (Forbidden, "PERMISSION_DENIED"),
    (NotFound, "RESOURCE_DOES_NOT_EXIST"),
    (Conflict, "INVALID_STATE"),
    (TooLarge, "RESOURCE_LIMIT_EXCEEDED"),
)


class MlflowError(UserError):
    def __init__(self, message: str, code: str = "INVALID_PARAMETER_VALUE"):
        super().__init__(message)
        self.code = code
        self.status = STATUS.get(code, 400)


def invalid(message: str) -> MlflowError:
    return MlflowError(message, "INVALID_PARAMETER_VALUE")


def missing(message: str) -> MlflowError:
    return MlflowError(message, "RESOURCE_DOES_NOT_EXIST")


def response_for(exc: UserError) -> JsonResponse:
    if isinstance(exc, MlflowError):
        code, status = exc.code, exc.status
    else:
        code = next((c for kind, c in FROM_USER_ERROR if isinstance(exc, kind)), None)
        code = code or "INVALID_PARAMETER_VALUE"
        status = 400 if code == "INVALID_STATE" else STATUS[code]
    return JsonResponse({"error_code": code, "message": exc.message}, status=status)
