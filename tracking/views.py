"""The MLflow REST API of one workspace, under /mlflow/w/<workspace>/: `api/2.0/mlflow/…`
(and `ajax-api/2.0/mlflow/…`, which MLflow's own UI calls), `api/2.0/mlflow-artifacts/…`,
`version` and `server-info`. One view authenticates, finds the handler of the route and turns
user errors into MLflow's error format; the handlers call tracking's services and selectors."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from mlstudio.errors import UserError
from tracking import api_experiments, api_models, api_registry, api_runs, artifacts, routing
from tracking.auth import request_identity, workspace_for
from tracking.errors import MlflowError, response_for
from tracking.protocol import body_of
from workspaces.models import Role

ROUTES = {**api_experiments.ROUTES, **api_runs.ROUTES, **api_models.ROUTES, **api_registry.ROUTES}
MLFLOW_VERSION = "3.0.0"


@dataclass
class Call:
    """One request: its fields, and the workspace it names once access is checked."""

    request: object
    ws: str
    body: dict
    args: tuple = ()

    @property
    def user(self):
        return self.request.mlflow_token.user

    def workspace(self, role: str = Role.READER):
        return workspace_for(self.request, self.ws, role)

    def writer(self):
        return self.workspace(Role.CONTRIBUTOR)


def _guarded(handler):
    @csrf_exempt
    @login_not_required
    def view(request, ws: str, **kwargs):
        try:
            request.mlflow_token = request_identity(request)
            return handler(request, ws, **kwargs)
        except UserError as exc:
            return response_for(exc)

    return view


@_guarded
def api(request, ws: str, route: str):
    handler, args = routing.match(ROUTES, request.method, route)
    if handler is None:
        raise MlflowError(
            f"No MLflow API route {request.method} {route!r} on this studio; MLStudio speaks "
            "MLflow 3's tracking API (see the README, 'Using MLflow with MLStudio').",
            "ENDPOINT_NOT_FOUND",
        )
    result = handler(Call(request, ws, body_of(request)), *args)
    if isinstance(result, HttpResponse):
        return result
    # orjson: a 25,000-point history page is encoded in a tenth of json.dumps' time.
    return HttpResponse(orjson.dumps(result or {}), content_type="application/json")


@_guarded
def artifact(request, ws: str, path: str = ""):
    return artifacts.dispatch(Call(request, ws, {}), path)


@csrf_exempt
@login_not_required
def version(request, ws: str):
    return HttpResponse(MLFLOW_VERSION, content_type="text/plain")


@csrf_exempt
@login_not_required
def server_info(request, ws: str):
    return JsonResponse({"store_type": "MLStudio"})
