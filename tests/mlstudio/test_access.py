"""Walk every route the app serves and prove an anonymous visitor gets nothing from it."""

import re

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from mlstudio.asgi import application
from mlstudio.routing import websocket_urlpatterns

PUBLIC = {
    "login",  # the login page itself
    "login-link",  # the one-time link is its own credential
    "healthz",  # for load balancers and `studio` start-up
    "admin:login",
    "mlflow_version",  # MLflow's client asks these before it authenticates; they name no data
    "mlflow_server_info",
    "admin:logout",  # logs nobody out when nobody is logged in
}


def walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + sample(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", "/" + prefix + sample(entry.pattern)


def sample(pattern) -> str:
    text = str(pattern)
    text = re.sub(r"<int:\w+>", "1", text)
    text = re.sub(r"<(?:\w+:)?\w+>", "x", text)
    text = re.sub(r"\(\?P<\w+>([\w]+)\|[^)]*\)", r"\1", text)  # first of a|b|c
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "x", text)
    return text.lstrip("^").rstrip("$").replace("\\", "")


ROUTES = sorted(set(walk(get_resolver().url_patterns)))


def test_it_found_the_routes_to_check():
    names = {name for name, _ in ROUTES}
    assert {"home", "tokens", "api:workspace_detail", "admin:index", "healthz"} <= names


@pytest.mark.parametrize(("name", "path"), ROUTES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_anonymous_visitors(db, name, path, method):
    if name in PUBLIC:
        return
    response = getattr(Client(), method)(path)
    if response.status_code == 404:
        # Acceptable only for a route that serves nobody, such as the API's bare root.
        member = Client()
        member.force_login(get_user_model().objects.create_superuser("root"))
        assert getattr(member, method)(path).status_code == 404, path
        return
    if path.startswith(("/api/", "/mlflow/")):  # the REST API and the MLflow API: no redirect
        assert response.status_code in (401, 405), (path, response.status_code)
        return
    assert response.status_code in (302, 405), (path, response.status_code)
    if response.status_code == 302:
        assert "login" in response["Location"], (path, response["Location"])


WS_ROUTES = [f"/{sample(p.pattern)}" for p in websocket_urlpatterns]


@pytest.mark.parametrize("path", WS_ROUTES)
async def test_it_refuses_anonymous_websockets(path):
    communicator = WebsocketCommunicator(application, path, headers=[(b"host", b"127.0.0.1")])
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401
    await communicator.disconnect()  # the refusal ends inside the test, not at the loop's close
