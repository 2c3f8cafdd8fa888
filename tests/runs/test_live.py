"""The run websocket: live logs that resume from an offset with no gap and no duplicate."""

import json
from urllib.parse import quote

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from mlstudio.asgi import application
from runs import services, store
from runs.consumers import RunConsumer
from runs.models import Run, RunStatus
from tests.runs.helpers import submit_script

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAST_PRINTER = """
    import time
    for i in range(30000):
        print(f"line {i:05d} " + "é" * (i % 7))
        if i % 1000 == 0:
            time.sleep(0.05)
"""


def connect(token: str, run_id: str, offsets: dict | None = None) -> WebsocketCommunicator:
    path = f"/ws/runs/{run_id}/"
    if offsets:
        path += "?offsets=" + quote(json.dumps(offsets))
    return WebsocketCommunicator(
        application,
        path,
        headers=[(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())],
    )


def submit_true(client, workspace, owner) -> str:
    """A run of `true` in a new experiment, queued with no worker to take it."""
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    response = client.post(
        f"/api/workspaces/lab/experiments/{experiment.pk}/runs",
        {"config": {"command": ["true"]}},
        content_type="application/json",
    )
    return response.json()["runId"]


async def receive_log(communicator, received: bytearray, *, until_bytes=None, until_final=False):
    while True:
        if until_bytes is not None and len(received) >= until_bytes:
            return
        if until_final:
            run = await database_sync_to_async(Run.objects.get)()
            size = (await database_sync_to_async(store.log_files)(run.pk)).get(store.USER_LOG, 0)
            if run.is_final and len(received) >= size:
                return
        event = await communicator.receive_json_from(timeout=30)
        if event["kind"] == "log" and event["name"] == store.USER_LOG:
            assert event["offset"] == len(received), "gap or duplicate"
            received += event["data"].encode()


async def test_it_resumes_from_an_offset_without_gap_or_duplicate(
    owner, workspace, api_as, local_worker
):
    client = await database_sync_to_async(api_as)(owner)
    experiment = await database_sync_to_async(services.experiment_create)(
        workspace=workspace, name="exp", user=owner
    )
    run_id = await database_sync_to_async(submit_script)(
        client, experiment, {"train.py": FAST_PRINTER}
    )
    received = bytearray()
    first = connect(client.raw_token, run_id)
    assert (await first.connect())[0]
    await receive_log(first, received, until_bytes=40_000)
    await first.disconnect()

    second = connect(client.raw_token, run_id, {store.USER_LOG: len(received)})
    assert (await second.connect())[0]
    await receive_log(second, received, until_final=True)
    await second.disconnect()

    run = await database_sync_to_async(Run.objects.get)(pk=run_id)
    assert run.status == "Completed"
    stored = store.run_file(run_id, store.USER_LOG).read_bytes()
    assert bytes(received) == stored
    assert stored.decode().splitlines()[-1].startswith("line 29999")


async def test_it_refuses_a_stranger(owner, stranger, workspace, api_as):
    owner_client = await database_sync_to_async(api_as)(owner)
    run_id = await database_sync_to_async(submit_true)(owner_client, workspace, owner)
    stranger_client = await database_sync_to_async(api_as)(stranger)
    communicator = connect(stranger_client.raw_token, run_id)
    connected, code = await communicator.connect()
    assert not connected and code == 4404
    await communicator.disconnect()  # the refusal ends inside the test, not at the loop's close


async def test_it_sends_the_status_as_it_is_once_the_client_is_listening(
    owner, workspace, api_as, monkeypatch
):
    """A worker claims the run between the consumer's permission check and its joining the
    run's group: the claim's own event is lost to this client, so the first status it gets
    must already say Preparing, numbered so later events can be told from older ones."""
    client = await database_sync_to_async(api_as)(owner)
    run_id = await database_sync_to_async(submit_true)(client, workspace, owner)
    authorise = RunConsumer.authorise

    def authorise_then_claim(self):  # the race, made certain
        group = authorise(self)
        services.run_transition(run_id=run_id, to=RunStatus.PREPARING)
        return group

    monkeypatch.setattr(RunConsumer, "authorise", authorise_then_claim)
    communicator = connect(client.raw_token, run_id)
    assert (await communicator.connect())[0]
    first = await communicator.receive_json_from(timeout=10)
    await communicator.disconnect()
    run = await database_sync_to_async(Run.objects.get)(pk=run_id)
    assert first == {
        "kind": "status",
        "run_id": run_id,
        "status": "Preparing",
        "detail": "",
        "seq": len(run.status_history),
    }


async def test_it_keeps_a_watcher_connected_through_a_quiet_spell(owner, workspace, api_as):
    """Nothing happens for longer than the channel layer's blocking read (5 s): the watcher
    keeps its websocket and gets the next event."""
    client = await database_sync_to_async(api_as)(owner)
    run_id = await database_sync_to_async(submit_true)(client, workspace, owner)
    communicator = connect(client.raw_token, run_id)
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from(timeout=10))["status"] == "Queued"
    assert await communicator.receive_nothing(timeout=8)  # raises if the consumer died
    await database_sync_to_async(services.run_transition)(run_id=run_id, to=RunStatus.PREPARING)
    event = await communicator.receive_json_from(timeout=10)
    assert (event["kind"], event["status"]) == ("status", "Preparing")
    await communicator.disconnect()


async def test_it_tells_a_client_of_the_files_written_before_it_listened(owner, workspace, api_as):
    """A file written while the page connected had its event sent to nobody: the client hears
    of every file there is once it listens (the browser's file tree adds what it lacks)."""
    client = await database_sync_to_async(api_as)(owner)
    run_id = await database_sync_to_async(submit_true)(client, workspace, owner)
    written = store.run_dir(run_id) / "logs" / "x.txt"
    written.parent.mkdir(parents=True)
    written.write_text("a log of its own\n")
    communicator = connect(client.raw_token, run_id)
    assert (await communicator.connect())[0]
    events = [await communicator.receive_json_from(timeout=10) for _ in range(2)]
    await communicator.disconnect()
    assert events[0]["kind"] == "status"
    assert events[1] == {"kind": "file", "name": "logs/x.txt", "size": 17}
