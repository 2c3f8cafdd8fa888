"""Who an MLflow client is: the API token it sends as `Authorization: Bearer` (what
MLFLOW_TRACKING_TOKEN makes it send) or as the password of Basic auth
(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD). Browser sessions are not accepted:
these routes are exempt from CSRF, so a cookie must never be enough."""

from __future__ import annotations

import base64
import binascii

from mlstudio.errors import NotFound, Unauthorized
from tracking.errors import MlflowError
from workspaces.models import Role
from workspaces.selectors import workspace_get_for_user
from workspaces.services import api_token_authenticate

HOW = (
    "Send an MLStudio API token: set MLFLOW_TRACKING_TOKEN (ws.get_mlflow_tracking_uri() does "
    "it), or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD=<token>."
)


def request_identity(request):
    """The token the request carries, authenticated; UNAUTHENTICATED when there is none or it
    is refused."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    username = None
    if scheme.lower() == "basic":
        username, raw = _basic(credentials)
    elif scheme.lower() == "bearer":
        raw = credentials.strip()
    else:
        raise MlflowError(f"Authentication required. {HOW}", "UNAUTHENTICATED")
    try:
        token = api_token_authenticate(raw=raw)
    except Unauthorized as exc:
        raise MlflowError(f"{exc.message} {HOW}", "UNAUTHENTICATED") from None
    if username is not None and username != token.user.username:
        raise MlflowError(
            f"MLFLOW_TRACKING_USERNAME {username!r} is not the owner of that token; use the "
            "token owner's user name, or send the token alone as MLFLOW_TRACKING_TOKEN.",
            "UNAUTHENTICATED",
        )
    return token


def _basic(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise MlflowError(f"Malformed Basic credentials. {HOW}", "UNAUTHENTICATED") from None
    username, _, password = decoded.partition(":")
    return username, password


def workspace_for(request, name: str, role: str = Role.READER):
    """The workspace of the URL if the token's user may act on it with `role`: readers read,
    contributors write, and strangers are told it does not exist."""
    token = request.mlflow_token
    try:
        workspace, _ = workspace_get_for_user(
            user=token.user, name=name, min_role=role, token=token
        )
    except NotFound as exc:
        raise MlflowError(exc.message, "RESOURCE_DOES_NOT_EXIST") from None
    return workspace
