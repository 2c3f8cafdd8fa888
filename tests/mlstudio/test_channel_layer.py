"""The studio's channel layer on the real Redis: channels_redis' behaviour (every message, in
order, capacity, groups), with a process's messages taken in batches."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from mlstudio.channel_layer import BatchingRedisChannelLayer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def layer():
    layer = get_channel_layer()
    assert isinstance(layer, BatchingRedisChannelLayer)
    yield layer
    await layer.flush()


async def test_a_group_send_reaches_each_member_in_order(layer):
    watchers = [await layer.new_channel() for _ in range(3)]
    for channel in watchers:
        await layer.group_add("run-order", channel)
    for number in range(600):  # more than one batch
        await layer.group_send("run-order", {"type": "live.event", "n": number})
    for channel in watchers:
        received = [(await layer.receive(channel))["n"] for _ in range(600)]
        assert received == list(range(600))


async def test_a_receive_cancelled_while_waiting_leaves_the_next_one_working(layer):
    leaving, staying = await layer.new_channel(), await layer.new_channel()
    waiting = [asyncio.ensure_future(layer.receive(name)) for name in (leaving, staying)]
    await asyncio.sleep(0.2)  # both wait, one of them on Redis
    waiting[0].cancel()
    waiting[1].cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await layer.send(staying, {"type": "live.event", "text": "still here"})
    message = await asyncio.wait_for(layer.receive(staying), 10)
    assert message["text"] == "still here"


async def test_a_full_queue_drops_new_messages_until_it_is_read(layer):
    layer.capacity = 5
    watcher = await layer.new_channel()
    await layer.group_add("run-full", watcher)
    for number in range(8):
        await layer.group_send("run-full", {"type": "live.event", "n": number})
    assert [(await layer.receive(watcher))["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
    await layer.group_send("run-full", {"type": "live.event", "n": 8})
    assert (await layer.receive(watcher))["n"] == 8


async def test_a_general_channel_still_works(layer):
    await layer.send("jobs", {"type": "job", "id": 1})
    assert (await layer.receive("jobs"))["id"] == 1


async def test_a_send_from_a_thread_without_an_event_loop_keeps_its_order(layer):
    watcher = await layer.new_channel()
    await layer.group_add("run-blocking", watcher)

    def publish():  # as the executor's stream loop does
        for number in range(50):
            layer.group_send_blocking("run-blocking", {"type": "live.event", "n": number})

    await asyncio.to_thread(publish)
    assert [(await layer.receive(watcher))["n"] for _ in range(50)] == list(range(50))
