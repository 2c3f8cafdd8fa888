"""The web server's kept SQLite connection: the write-ahead log outlives a request's
connection, instead of being checkpointed, synced and deleted each time it closes."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from mlstudio import sqlite_keep


def _write_and_close(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE IF NOT EXISTS t (x)")
    connection.execute("INSERT INTO t VALUES (1)")
    connection.commit()
    connection.close()


class FakeWrapper:
    """What _keep reads of Django's connection wrapper."""

    vendor = "sqlite"

    def __init__(self, name: str):
        self.settings_dict = {"NAME": name}

    def is_in_memory_db(self) -> bool:
        return self.settings_dict["NAME"] == ":memory:"


@pytest.fixture
def clean_kept(monkeypatch):
    monkeypatch.setattr(sqlite_keep, "_kept", {})
    yield sqlite_keep._kept
    for connection in sqlite_keep._kept.values():
        connection.close()


def test_the_log_stays_once_a_connection_is_kept(tmp_path, clean_kept):
    path = tmp_path / "db.sqlite3"
    _write_and_close(path)
    assert not Path(f"{path}-wal").exists()  # the last connection checkpointed and deleted it
    sqlite_keep._keep(None, FakeWrapper(str(path)))
    _write_and_close(path)
    assert Path(f"{path}-wal").exists()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone() == (2,)
    sqlite_keep._keep(None, FakeWrapper(str(path)))
    assert list(clean_kept) == [os.getpid()]  # one per process


def test_it_keeps_nothing_of_a_database_in_memory(clean_kept):
    sqlite_keep._keep(None, FakeWrapper(":memory:"))
    assert clean_kept == {}
