"""The REST API under /api/, with its OpenAPI schema at /api/openapi.json and docs at /api/docs.

Every route requires a bearer token or a browser session. User errors become 4xx here, in one
place, as `{"detail": "...", "code": "..."}`.
"""

from django.db import DatabaseError
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from compute.api import router as compute_router
from data.api import router as data_router
from environments.api import router as environments_router
from mlstudio.errors import UserError
from registry.api import router as registry_router
from runs import faults
from runs.api import router as runs_router
from runs.metrics_api import router as metrics_router
from runs.snapshot_api import router as snapshots_router
from runs.tensorboard_api import router as tensorboard_router
from sweeps.api import router as sweeps_router
from workspaces.api import router as workspaces_router
from workspaces.auth import api_auth, docs_require_auth

api = NinjaAPI(
    title="MLStudio API",
    version="1",
    description="Workspaces, experiments, runs, environments and compute targets.",
    auth=api_auth(),
    urls_namespace="api",
    docs_decorator=docs_require_auth,
)


@api.exception_handler(UserError)
def user_error(request: HttpRequest, exc: UserError):
    return api.create_response(
        request, {"detail": exc.message, "code": exc.code}, status=exc.status
    )


@api.exception_handler(OSError)
@api.exception_handler(DatabaseError)
def disk_full(request: HttpRequest, exc: Exception):
    """A full data folder is the operator's to fix, and the client's to retry later: 507."""
    if not faults.disk_full(exc):
        raise exc
    message = faults.data_folder_full_message()
    return api.create_response(
        request,
        {"detail": f"The studio has {message}; free space there and try again.",
         "code": "insufficient_storage"},
        status=507,
    )  # fmt: skip


@api.exception_handler(AuthenticationError)
def not_authenticated(request: HttpRequest, exc: AuthenticationError):
    return api.create_response(
        request,
        {
            "detail": "Authentication required: send 'Authorization: Bearer <token>' "
            "(create one on the Tokens page or with `python manage.py api_token <username>`).",
            "code": "unauthorized",
        },
        status=401,
    )


api.add_router("/", workspaces_router)
api.add_router("/", snapshots_router)
api.add_router("/", runs_router)
api.add_router("/", metrics_router)
api.add_router("/", tensorboard_router)
api.add_router("/", environments_router)
api.add_router("/", compute_router)
api.add_router("/", registry_router)
api.add_router("/", data_router)
api.add_router("/", sweeps_router)
