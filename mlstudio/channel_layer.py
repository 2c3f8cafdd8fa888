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
- `group_send` is two round trips: the group's members in one pipeline, the send script and
  its expiry clean-up in another. `group_send_blocking` is the same on a blocking client,
  for the threads that publish without an event loop (the executor's stream loop).

Messages, their order (by send time), capacity and expiry are channels_redis' own.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

import redis
from channels_redis.core import RedisChannelLayer

logger = logging.getLogger("channels_redis")
PUBLISH_TIMEOUT = 5.0

# Adds message i to key i if it has room (fewer messages than its capacity), and expires the
# key; returns how many keys were full. channels_redis' group send, with its clean-up of
# expired messages folded in. The send time stays a string, so Lua's 14 significant digits
# do not round it (it orders the messages).
SEND_TO_KEYS = """
local count = #KEYS
local now, expiry = ARGV[2 * count + 1], tonumber(ARGV[2 * count + 2])
local oldest = math.floor(tonumber(now)) - expiry
local full = 0
for i = 1, count do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, oldest)
    if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[count + i]) then
        redis.call('ZADD', KEYS[i], now, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        full = full + 1
    end
end
return full
"""


class BatchingRedisChannelLayer(RedisChannelLayer):
    batch = 256

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._taken: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._fetches: dict[str, asyncio.Future] = {}
        # redis-py's pool opens new connections in a forked child. No lock, so none is
        # inherited held: two threads that race here make a client each, and one is kept.
        self._blocking_clients: dict[int, redis.Redis] = {}

    async def receive_single(self, channel):
        if "!" not in channel:  # a general channel: channels_redis' own, at-least-once path
            return await super().receive_single(channel)
        assert self.require_valid_channel_name(channel, receive=True), "Channel name invalid"
        key = self.prefix + channel
        taken = self._taken[key]
        while not taken:
            fetch = self._fetches.get(key)
            if fetch is None or fetch.done():
                fetch = self._fetches[key] = asyncio.ensure_future(
                    self._take(self.consistent_hash(channel), key)
                )
            await asyncio.shield(fetch)
        message = self.deserialize(taken.popleft())
        return message.pop("__asgi_channel__", channel), message

    async def _take(self, index: int, key: str) -> None:
        connection = self.connection(index)
        popped = await connection.zpopmin(key, self.batch)
        if popped:
            self._taken[key].extend(member for member, _ in popped)
            return
        result = await connection.bzpopmin(key, timeout=self.brpop_timeout)
        if result is not None:
            self._taken[key].append(result[1])

    async def group_send(self, group, message):
        key = self._group_key(group)
        pipe = self.connection(self.consistent_hash(group)).pipeline(transaction=False)
        _, members = await self._members(pipe, group, key).execute()
        for index, keys, args in self._sends(members, message):
            full = await self.connection(index).eval(SEND_TO_KEYS, len(keys), *keys, *args)
            _log_full(group, full, len(members))

    def group_send_blocking(self, group, message) -> None:
        """`group_send` for a thread with no event loop (the executor's stream loop, Celery
        tasks), on a blocking Redis client: no hop to an event loop's thread and back."""
        key = self._group_key(group)
        pipe = self._blocking(self.consistent_hash(group)).pipeline(transaction=False)
        _, members = self._members(pipe, group, key).execute()
        for index, keys, args in self._sends(members, message):
            full = self._blocking(index).eval(SEND_TO_KEYS, len(keys), *keys, *args)
            _log_full(group, full, len(members))

    def _members(self, pipe, group, key):
        assert self.require_valid_group_name(group), "Group name not valid"
        pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        return pipe.zrange(key, 0, -1)

    def _sends(self, members: list[bytes], message: dict):
        """(connection index, keys, script arguments) for each Redis the members are on."""
        by_connection, messages, capacities = self._map_channel_keys_to_connection(
            [member.decode() for member in members], message
        )
        for index, keys in by_connection.items():
            args = [messages[k] for k in keys] + [capacities[k] for k in keys]
            yield index, keys, [*args, time.time(), self.expiry]

    def _blocking(self, index: int) -> redis.Redis:
        client = self._blocking_clients.get(index)
        if client is None:
            host = dict(self.hosts[index])
            # A publisher waits for its send; a Redis that stopped answering must not hold the
            # executor's output for channels_redis' 30 s.
            host.update(socket_timeout=PUBLISH_TIMEOUT, socket_connect_timeout=PUBLISH_TIMEOUT)
            client = redis.Redis.from_url(host.pop("address"), **host)
            client = self._blocking_clients.setdefault(index, client)
        return client

    async def close_pools(self):
        for fetch in self._fetches.values():
            fetch.cancel()
        self._fetches.clear()
        await super().close_pools()


def _log_full(group: str, full: int, members: int) -> None:
    if full:
        logger.info("%s of %s channels over capacity in group %s", full, members, group)
