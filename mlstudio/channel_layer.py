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
  its expiry clean-up in another.

Messages, their order (by send time), capacity and expiry are channels_redis' own.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

from channels_redis.core import RedisChannelLayer

logger = logging.getLogger("channels_redis")

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
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        pipe = self.connection(self.consistent_hash(group)).pipeline(transaction=False)
        pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        pipe.zrange(key, 0, -1)
        _, members = await pipe.execute()
        by_connection, messages, capacities = self._map_channel_keys_to_connection(
            [member.decode() for member in members], message
        )
        for index, keys in by_connection.items():
            args = [messages[k] for k in keys] + [capacities[k] for k in keys]
            full = await self.connection(index).eval(
                SEND_TO_KEYS, len(keys), *keys, *args, time.time(), self.expiry
            )
            if full:
                logger.info(
                    "%s of %s channels over capacity in group %s", full, len(members), group
                )

    async def close_pools(self):
        for fetch in self._fetches.values():
            fetch.cancel()
        self._fetches.clear()
        await super().close_pools()
