"""A worker survives its Redis broker going away with runs in flight.

When the connection drops, kombu closes the channel and, through that closed channel, tries
to put the worker's unacked messages (the runs in flight: acks_late) back on their queues,
and later to ack each of them as its run ends. Both make a client from a connection kombu
has already let go, and the AttributeError ('NoneType' object has no attribute 'hostname' /
'client') stops the whole worker ("Unrecoverable error"). The runs themselves go on in the
pool and record their end in the database; their messages stay in the broker's unacked set,
and a redelivery after the visibility timeout finds its run final and does nothing.
"""

from __future__ import annotations

import functools
import logging

from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)


def _on_a_closed_channel_too(method, what: str):
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except AttributeError:
            if getattr(self.channel.connection, "client", None) is not None:
                raise
            logger.warning("The broker connection this message came on is gone: %s.", what)
            return None

    guarded.guarded = True
    return guarded


def keep_workers_up_on_broker_loss() -> None:
    qos = kombu_redis.QoS
    if getattr(qos.restore_unacked, "guarded", False):
        return
    qos.restore_unacked = _on_a_closed_channel_too(
        qos.restore_unacked, "the runs in flight go on; nothing is put back on the queue"
    )
    qos.ack = _on_a_closed_channel_too(
        qos.ack, "its run has ended and is recorded; the message is not acknowledged"
    )
