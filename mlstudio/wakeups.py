"""Wake-ups over Redis pub/sub: one process says "look now" (`wake`), another that waits for
it (`Waiter.wait`) returns at once instead of at the end of its period.

A wake-up carries no data and is never the only way a thing is noticed: the waiter looks
anyway when its period ends, so a wake-up lost to a Redis restart only costs a period. It
lets a run's heartbeat beat every few seconds and still notice a cancel at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import redis
from django.conf import settings

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 1.0  # a Redis that does not answer within this is treated as down
# A waiter also looks at its interrupt flag this often, in case an interrupt's message raced
# its subscription; reading the socket this way sends nothing to Redis.
READ_SECONDS = 1.0
_lock = threading.Lock()
_client: redis.Redis | None = None
_client_of: tuple[int, str] | None = None  # the process and the URL it was made in and for


def channel(name: str) -> str:
    return f"mlstudio-wake:{name}"


def wake(name: str) -> None:
    """Wake whoever waits on `name`; a Redis failure is logged, never raised."""
    _send(channel(name))


def _send(to: str) -> None:
    try:
        _publisher().publish(to, b"")
    except (redis.RedisError, OSError):
        logger.warning("could not send the wake-up %s", to, exc_info=True)


class Waiter:
    """Waits on one name: `wait` returns True once `wake(name)` was called meanwhile (or
    since the last wait), False when its timeout ended first. Without Redis it just sleeps
    the timeout. One thread waits; any thread may `interrupt` it."""

    def __init__(self, name: str):
        self.channel = channel(name)
        self.own = channel(f"interrupt-{uuid.uuid4().hex}")
        self.interrupted = threading.Event()
        self._pubsub = None

    def subscribe(self) -> None:
        """Listen from now on, so a wake-up sent after this returns is not missed."""
        self._subscribed()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.interrupted.is_set() and (left := deadline - time.monotonic()) > 0:
            pubsub = self._subscribed()
            if pubsub is None:
                self.interrupted.wait(left)
                return False
            if self.interrupted.is_set():  # set while it subscribed
                break
            try:
                message = pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=min(left, READ_SECONDS)
                )
            except (redis.RedisError, OSError, ValueError):
                self._drop()  # the next wait subscribes again; this one sleeps its time out
                self.interrupted.wait(max(0.0, deadline - time.monotonic()))
                return False
            if message is not None:
                return message["channel"].decode() == self.channel
        return False

    def interrupt(self) -> None:
        """End the current and every later wait at once."""
        self.interrupted.set()
        if self._pubsub is not None:
            _send(self.own)

    def close(self) -> None:
        self._drop()

    def _subscribed(self):
        if self._pubsub is None:
            try:
                pubsub = redis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_timeout=None,  # get_message's own timeout bounds each read
                    socket_connect_timeout=TIMEOUT_SECONDS,
                ).pubsub()
                pubsub.subscribe(self.channel, self.own)
                self._pubsub = pubsub
            except (redis.RedisError, OSError):
                return None
        return self._pubsub

    def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # a broken connection has nothing left to close
                logger.debug("closing a wake-up subscription failed", exc_info=True)


def _publisher() -> redis.Redis:
    global _client, _client_of
    with _lock:
        # A forked pool process must not share its parent's sockets.
        if _client is None or _client_of != (os.getpid(), settings.REDIS_URL):
            _client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
            )
            _client_of = (os.getpid(), settings.REDIS_URL)
        return _client
