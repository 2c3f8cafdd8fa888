"""The websocket half of the authorization matrix: every route of the served ASGI app's
websocket URLconf (a route added without a rule here fails the first test), tried through the
real application by every kind of caller. Anonymous, wrong and revoked tokens are refused
(4401), a stranger is refused as if nothing were there (4404), members are accepted; a browser
session is accepted only from the studio's own origin."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from mlstudio.asgi import application
from mlstudio.routing import websocket_urlpatterns
from tests.security.matrix import ROLES, world_make
from workspaces import services

PATHS = {
    "ws/workspaces/<str:name>/": "/ws/workspaces/lab/",
    "ws/runs/<str:run_id>/": "/ws/runs/{run_id}/",
}
HOST = (b"host", b"127.0.0.1")


def test_every_websocket_route_has_a_path_here():
    assert sorted(str(p.pattern) for p in websocket_urlpatterns) == sorted(PATHS)


def expected(role: str) -> int | None:
    """The close code the handshake is refused with, or None for accepted."""
    if role in ("anonymous", "wrong token", "revoked token"):
        return 4401
    return 4404 if role == "stranger" else None


async def handshake(path: str, headers: list) -> tuple[bool, int | None]:
    communicator = WebsocketCommunicator(application, path, headers=[HOST, *headers])
    connected, code = await communicator.connect(timeout=10)
    if connected:
        await communicator.disconnect()
        return True, None
    return False, code


def bearer_of(client: Client) -> list:
    header = client.defaults.get("HTTP_AUTHORIZATION")
    return [(b"authorization", header.encode())] if header else []


@pytest.mark.django_db(transaction=True)
async def test_every_websocket_route_answers_every_caller_as_its_role_allows():
    world = await database_sync_to_async(world_make)()
    wrong = []
    for path in PATHS.values():
        path = path.format(**world.values)
        for role in ROLES:
            connected, code = await handshake(path, bearer_of(world.clients[role]))
            want = expected(role)
            if (want is None) != connected or (want is not None and code != want):
                wrong.append(f"{role:>13} {path} -> {'accepted' if connected else code}, "
                             f"expected {want or 'accepted'}")  # fmt: skip
    print(f"websocket matrix: {len(PATHS)} routes x {len(ROLES)} callers, {len(wrong)} wrong")
    assert not wrong, "\n".join(wrong)


def scoped_elsewhere(world) -> str:
    """The owner's token scoped to another workspace the owner also owns."""
    owner = world.users["owner"]
    services.workspace_create(name="elsewhere", owner=owner)
    return services.api_token_create(user=owner, name="scoped", workspace_name="elsewhere")[1]


@pytest.mark.django_db(transaction=True)
async def test_a_token_scoped_to_another_workspace_is_refused_as_a_stranger():
    world = await database_sync_to_async(world_make)()
    raw = await database_sync_to_async(scoped_elsewhere)(world)
    bearer = [(b"authorization", f"Bearer {raw}".encode())]
    answers = {
        path: await handshake(path.format(**world.values), bearer) for path in PATHS.values()
    }
    assert answers == dict.fromkeys(PATHS.values(), (False, 4404))
    assert await handshake("/ws/workspaces/elsewhere/", bearer) == (True, None)


@pytest.mark.django_db(transaction=True)
async def test_a_browser_session_is_accepted_only_from_the_studios_origin():
    world = await database_sync_to_async(world_make)()
    results = {}
    for role in ("stranger", "reader"):
        client = Client()
        await database_sync_to_async(client.force_login)(world.users[role])
        cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
        for path in PATHS.values():
            path = path.format(**world.values)
            for origin in (b"http://127.0.0.1:8000", b"http://evil.example"):
                results[role, path, origin] = (
                    await handshake(path, [cookie, (b"origin", origin)])
                )[0]
    ours = b"http://127.0.0.1:8000"
    accepted = sorted(key for key, ok in results.items() if ok)
    assert accepted == sorted(("reader", p.format(**world.values), ours) for p in PATHS.values())
