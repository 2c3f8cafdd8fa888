"""No SQLite connection crosses a fork of a Celery worker's main process.

SQLite keeps its lock state per process, in memory: a child forked while any thread of the
parent holds a connection (let alone a transaction) inherits that state without the locks it
describes, and its writes then go unprotected ("database is locked", "disk I/O error",
"database disk image is malformed", commits lost). Celery's Django fixup closes, in the
child, only the connections of the thread that forked; an autoscaled node forks its pool
processes while its heartbeat thread is writing.

So in a worker's main process every background thread uses the database only inside
`database_turn()`, which closes its connections before it ends, and every fork first waits for
the turn in progress to end and closes the forking thread's own connections. Pool processes
(and anything else forked from the worker) do not inherit the arming: their forks exec at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Iterator

from django.db import connections
from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)
_turn = threading.RLock()
_armed = False
_wrappers: weakref.WeakSet = weakref.WeakSet()


@contextlib.contextmanager
def database_turn() -> Iterator[None]:
    """Use the database from a background thread; no fork happens until the turn has ended and
    this thread's connections are closed."""
    with _turn:
        try:
            yield
        finally:
            connections.close_all()


def arm() -> None:
    """Make forks of this process safe for its SQLite connections (a worker's main process)."""
    global _armed
    if _armed or connections["default"].vendor != "sqlite":
        return
    _armed = True
    connection_created.connect(_track, dispatch_uid="mlstudio.forksafe")
    os.register_at_fork(before=_before_fork, after_in_parent=_after_in_parent,
                        after_in_child=_after_in_child)  # fmt: skip


def _track(sender, connection, **kwargs) -> None:
    _wrappers.add(connection)


def _before_fork() -> None:
    if not _armed:
        return
    _turn.acquire()
    connections.close_all()
    for wrapper in list(_wrappers):
        if wrapper.connection is not None:
            # A thread that used the database outside a turn; it reconnects when it next
            # needs to, which costs less than a child with borrowed lock state.
            logger.warning("closing an SQLite connection another thread left open, before a fork")
            with contextlib.suppress(Exception):
                wrapper.connection.close()
            wrapper.connection = None


def _after_in_parent() -> None:
    if _armed:
        _turn.release()


def _after_in_child() -> None:
    global _armed
    if _armed:
        _armed = False
        _wrappers.clear()
        _turn.release()
