"""API authentication: a bearer token (SDK, CLI) or the browser's session (with CSRF)."""

from functools import wraps

from django.http import JsonResponse
from ninja.security import HttpBearer, django_auth

from mlstudio.errors import Unauthorized
from workspaces.models import Role, Workspace
from workspaces.selectors import workspace_get_for_user
from workspaces.services import api_token_authenticate


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str):
        api_token = api_token_authenticate(raw=token)
        request.user = api_token.user
        request.api_token = api_token
        return api_token.user


def api_auth() -> list:
    return [BearerToken(), django_auth]


def request_token(request):
    """The API token the request came with, or None for a browser session."""
    return getattr(request, "api_token", None)


def workspace_for(request, ws: str, role: str = Role.READER) -> Workspace:
    """The workspace named `ws` if the request's user (or token) holds `role` in it; a
    stranger gets NotFound, as if it did not exist."""
    return workspace_get_for_user(
        user=request.user, name=ws, min_role=role, token=request_token(request)
    )[0]


def docs_require_auth(view):
    """Guard the OpenAPI schema and docs pages like every other API route."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        try:
            authenticated = any(auth(request) for auth in api_auth())
        except Unauthorized as exc:
            return JsonResponse({"detail": exc.message, "code": exc.code}, status=401)
        if not authenticated:
            return JsonResponse(
                {
                    "detail": "Authentication required to read the API schema.",
                    "code": "unauthorized",
                },
                status=401,
            )
        return view(request, *args, **kwargs)

    return guarded
