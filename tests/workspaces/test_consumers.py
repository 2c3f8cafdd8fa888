import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from mlstudio import live
from mlstudio.asgi import application
from workspaces import services

pytestmark = pytest.mark.django_db(transaction=True)


def headers(token: str | None = None):
    result = [(b"host", b"127.0.0.1")]
    if token:
        result.append((b"authorization", f"Bearer {token}".encode()))
    return result


async def connect(path: str, token: str | None):
    communicator = WebsocketCommunicator(application, path, headers=headers(token))
    connected, code = await communicator.connect()
    if not connected:  # the refused consumer ends inside the test, not at its loop's close
        await communicator.wait()
    return communicator, connected, code


async def test_it_forwards_workspace_events_to_a_member(owner, workspace):
    _, raw = await database_sync_to_async(services.api_token_create)(user=owner, name="ws")
    communicator, connected, _ = await connect("/ws/workspaces/lab/", raw)
    assert connected
    await database_sync_to_async(live.publish)(
        live.workspace_group(workspace.pk), {"kind": "status", "seq": 1, "status": "Running"}
    )
    assert await communicator.receive_json_from(timeout=5) == {
        "kind": "status",
        "seq": 1,
        "status": "Running",
    }
    await communicator.disconnect()


async def test_it_refuses_a_stranger_as_not_found(stranger, workspace):
    _, raw = await database_sync_to_async(services.api_token_create)(user=stranger, name="ws")
    _, connected, code = await connect("/ws/workspaces/lab/", raw)
    assert not connected
    assert code == 4404


async def test_it_refuses_a_wrong_token(workspace):
    _, connected, code = await connect("/ws/workspaces/lab/", "mls_wrong")
    assert not connected
    assert code == 4401


async def session_connect(user, origin: bytes):
    from django.test import Client

    client = Client()
    await database_sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(
        application,
        "/ws/workspaces/lab/",
        headers=[(b"host", b"127.0.0.1"), (b"origin", origin), (b"cookie", cookie)],
    )
    return communicator, await communicator.connect()


async def test_it_accepts_a_browser_session_from_our_origin(owner, workspace):
    communicator, (connected, _) = await session_connect(owner, b"http://127.0.0.1:8000")
    assert connected
    await communicator.disconnect()


async def test_it_refuses_a_browser_session_from_a_foreign_origin(owner, workspace):
    communicator, (connected, _) = await session_connect(owner, b"http://evil.example")
    assert not connected
    # The refusing consumer ends inside the test, not in the loop's close (where, once in a
    # full run, cancelling it hung for pytest-timeout's 300 s).
    await communicator.disconnect()
