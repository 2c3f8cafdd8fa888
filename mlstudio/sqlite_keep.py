"""The web server keeps one idle connection to its SQLite database for as long as it runs.

Django opens a connection for each request and closes it at the end (under ASGI each request
runs in a thread of its own, so a connection cannot outlive it). When the connection that
closes is the last one to the database, SQLite checkpoints the write-ahead log into the
database file, syncs it and deletes the log and its index: every request of a quiet studio
then paid for creating those files, recovering the index and a synced checkpoint. With one
more connection open, closing is cheap and the log is checkpointed as it fills, as SQLite
does for any long-running program. The kept connection reads nothing and holds no lock
between its one opening query and the end of the process.

Only the web server keeps one (mlstudio/asgi.py): a Celery worker forks, and no SQLite
connection may cross a fork (mlstudio/forksafe.py).
"""

from __future__ import annotations

import os
import sqlite3

from django.db.backends.signals import connection_created

_kept: dict[int, sqlite3.Connection] = {}


def keep_open() -> None:
    """From the first connection this process makes to an SQLite file on, keep one open."""
    connection_created.connect(_keep, dispatch_uid="mlstudio.sqlite_keep")


def _keep(sender, connection, **kwargs) -> None:
    if connection.vendor != "sqlite" or connection.is_in_memory_db() or os.getpid() in _kept:
        return
    kept = sqlite3.connect(connection.settings_dict["NAME"], check_same_thread=False)
    kept.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # opens the log's index
    _kept[os.getpid()] = kept
