"""Real processes for integration tests: Celery workers and whole studios."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.db import connection

REPO = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """A DATABASE_URL for the database this test session really uses (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def fresh_database_url(folder: Path) -> tuple[str, callable]:
    """An empty database of the kind this session tests, and a function that drops it."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{folder / 'studio.sqlite3'}", lambda: None
    import psycopg

    name = f"mlstudio_{uuid.uuid4().hex[:10]}"
    params = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"]}
    if db["PASSWORD"]:
        params["password"] = db["PASSWORD"]
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or 'localhost'}:{params['port']}/{name}", drop


def start_worker(queues: list[str], *, log: Path, extra_env: dict | None = None):
    """A real Celery worker subprocess on the test database and the test Redis."""
    name = f"test-{uuid.uuid4().hex[:8]}@{os.uname().nodename}"
    env = {**os.environ, "DATABASE_URL": test_database_url(), **(extra_env or {})}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mlstudio.celery", "worker",
             "-Q", ",".join(queues), "-n", name, "--pool", "solo", "--loglevel", "INFO"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return name, process


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
