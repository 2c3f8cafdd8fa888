"""channels_redis' layer, with fewer Redis round trips per live event.

Under load (50 runs printing, 100 watchers) the web server fell behind in taking messages
off Redis, not in sending them to browsers. channels_redis takes one message at a time, in
four round trips (a clean-up script, BZPOPMIN, and a backup queue's ZADD and ZPOPMIN), and a
`group_send` costs four more. Here:

- A process's messages are taken in batches: one ZPOPMIN of up to `batch` messages while
  any are waiting, one BZPOPMIN when none are. The fetch runs in a task of its own that a
  consumer only waits on (`asyncio.shield`), so a consumer that disconnects mid-fetch does
  not drop a batch that other consumers' messages are in. That replaces the backup queue,
  which existed for exactly that cancellation.
- `group_send` is one round trip: a script reads the group's members and sends to them.
  `group_send_blocking` is the same on a blocking client, for the threads that publish
  without an event loop (the executor's stream loop).

Messages, their order (by send time), capacity and expiry are channels_redis' own.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

import redis
from channels_redis.core import RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("channels_redis")
PUBLISH_TIMEOUT = 5.0

# A group send in one round trip. KEYS[1] is the group; ARGV: the message, the send time,
# the messages' expiry, the group's oldest member time, a queue's capacity, the key prefix.
# The group's members are grouped by the queue they read (a web process's channels share
# one), and each queue with room gets the message once, followed by the names of its
# channels there and their length in 8 digits (what `deserialize` reads back). channels_redis'
# own send, with its clean-up of expired members and messages. The send time stays a string,
# so Lua's 14 significant digits do not round it (it orders the messages).
GROUP_SEND = """
local body, now, expiry = ARGV[1], ARGV[2], tonumber(ARGV[3])
local capacity, prefix = tonumber(ARGV[5]), ARGV[6]
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[4])
local channels, queues = {}, {}
for _, channel in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local bang = string.find(channel, '!', 1, true)
    local queue = prefix .. (bang and string.sub(channel, 1, bang) or channel)
    if not channels[queue] then
        channels[queue] = {}
        queues[#queues + 1] = queue
    end
    table.insert(channels[queue], channel)
end
local oldest = math.floor(tonumber(now)) - expiry
local full = 0
for _, queue in ipairs(queues) do
    redis.call('ZREMRANGEBYSCORE', queue, 0, oldest)
    if redis.call('ZCARD', queue) < capacity then
        local names = table.concat(channels[queue], '\\n')
        redis.call('ZADD', queue, now, body .. names .. string.format('%08d', #names))
        redis.call('EXPIRE', queue, expiry)
    else
        full = full + 1
    end
end
return {full, #queues}
"""
NAMES_LENGTH = 8


class BatchingRedisChannelLayer(RedisChannelLayer):
    batch = 256

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.ring_size != 1 or self.channel_capacity:
            raise ImproperlyConfigured(
                "BatchingRedisChannelLayer takes one Redis host and one capacity for every "
                "channel; use channels_redis.core.RedisChannelLayer for several."
            )
        self._taken: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._fetches: dict[str, asyncio.Future] = {}
        # redis-py's pool opens new connections in a forked child. No lock, so none is
        # inherited held: two threads that race in _blocking() make a client each.
        self._blocking_client: redis.Redis | None = None

    async def receive_single(self, channel):
        if "!" not in channel:  # a general channel: channels_redis' own, at-least-once path
            return await super().receive_single(channel)
        assert self.require_valid_channel_name(channel, receive=True), "Channel name invalid"
        key = self.prefix + channel
        taken = self._taken[key]
        while not taken:
            fetch = self._fetches.get(key)
            if fetch is None or fetch.done():
                fetch = self._fetches[key] = asyncio.ensure_future(self._take(key))
            await asyncio.shield(fetch)
        message = self.deserialize(taken.popleft())
        return message.pop("__asgi_channel__", channel), message

    async def _take(self, key: str) -> None:
        connection = self.connection(0)  # the one Redis (see __init__)
        popped = await connection.zpopmin(key, self.batch)
        if popped:
            self._taken[key].extend(member for member, _ in popped)
            return
        result = await connection.bzpopmin(key, timeout=self.brpop_timeout)
        if result is not None:
            self._taken[key].append(result[1])

    async def group_send(self, group, message):
        full = await self.connection(0).eval(GROUP_SEND, 1, *self._group_send_args(group, message))
        _log_full(group, *full)

    def group_send_blocking(self, group, message) -> None:
        """`group_send` for a thread with no event loop (the executor's stream loop, Celery
        tasks), on a blocking Redis client: no hop to an event loop's thread and back."""
        full = self._blocking().eval(GROUP_SEND, 1, *self._group_send_args(group, message))
        _log_full(group, *full)

    def _group_send_args(self, group: str, message: dict) -> list:
        assert self.require_valid_group_name(group), "Group name not valid"
        now = time.time()
        body = super().serialize(message)  # the script appends the names
        return [self._group_key(group), body, now, self.expiry,
                int(now) - self.group_expiry, self.capacity, self.prefix]  # fmt: skip

    def serialize(self, message) -> bytes:
        return super().serialize(message) + b"0" * NAMES_LENGTH  # names no channel

    def deserialize(self, message: bytes) -> dict:
        length = int(message[-NAMES_LENGTH:])
        body, names = (
            message[: -NAMES_LENGTH - length],
            message[-NAMES_LENGTH - length : -NAMES_LENGTH],
        )
        unpacked = super().deserialize(body)
        if names:
            unpacked["__asgi_channel__"] = names.decode().split("\n")
        return unpacked

    def _blocking(self) -> redis.Redis:
        if self._blocking_client is None:
            host = dict(self.hosts[0])
            # A publisher waits for its send; a Redis that stopped answering must not hold the
            # executor's output for channels_redis' 30 s.
            host.update(socket_timeout=PUBLISH_TIMEOUT, socket_connect_timeout=PUBLISH_TIMEOUT)
            self._blocking_client = redis.Redis.from_url(host.pop("address"), **host)
        return self._blocking_client

    async def close_pools(self):
        for fetch in self._fetches.values():
            fetch.cancel()
        self._fetches.clear()
        await super().close_pools()


def _log_full(group: str, full: int, queues: int) -> None:
    if full:
        logger.info("%s of %s receivers over capacity in group %s", full, queues, group)
