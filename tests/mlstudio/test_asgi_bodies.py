"""The web server's ASGI application sends a file download in its 1 MiB blocks, each one
message (Django's default is a 64 KiB copy of each slice), byte for byte."""

from __future__ import annotations

import hashlib
import io

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async

from data import services as data_services
from mlstudio.asgi import application
from runs import blobs
from workspaces import services

pytestmark = pytest.mark.django_db(transaction=True)
MIB = 1024 * 1024


def _stored(workspace, path: str, body: bytes) -> None:
    sha = hashlib.sha256(body).hexdigest()
    blobs.blob_store(workspace=workspace, sha256=sha, body=io.BytesIO(body))
    data_services.datastore_files_commit(
        datastore=data_services.datastore_default(workspace=workspace),
        files=[{"path": path, "size": len(body), "sha256": sha, "mode": 0o644}],
        target_path="", overwrite=True,
    )  # fmt: skip


async def test_it_sends_a_download_in_messages_of_a_mebibyte(owner, workspace):
    body = bytes(range(256)) * (5 * MIB // 256) + b"tail"
    await database_sync_to_async(_stored)(workspace, "big/data.bin", body)
    _, raw = await database_sync_to_async(services.api_token_create)(user=owner, name="asgi")
    scope = {
        "type": "http", "method": "GET", "scheme": "http", "query_string": b"",
        "path": "/api/workspaces/lab/datastores/workspaceblobstore/files/big/data.bin",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {raw}".encode())],
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000),
    }  # fmt: skip
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    assert (await communicator.receive_output(timeout=10))["status"] == 200
    sizes, received = [], b""
    while (message := await communicator.receive_output(timeout=10)).get("more_body"):
        sizes.append(len(message["body"]))
        received += message["body"]
    assert received == body
    assert sizes == [MIB] * 5 + [4]
    await communicator.wait()
