"""Real processes for integration tests: Celery workers and whole studios."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StudioProcess:
    """`python manage.py studio` on a data folder, a port and a database, its output in a file."""

    def __init__(self, data_dir, port, database_url):
        self.data_dir, self.port = data_dir, port
        self.env = {
            **os.environ,
            "MLSTUDIO_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("REDIS_URL", None)
        self.output = data_dir / "studio.out"

    def start(self, *extra: str) -> subprocess.Popen:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output, "ab") as out:
            return subprocess.Popen(
                [sys.executable, "manage.py", "studio", "--port", str(self.port), *extra],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def api_token(self) -> str:
        """A new API token of the studio's admin, as `manage.py api_token admin` prints it."""
        return subprocess.run(
            [sys.executable, "manage.py", "api_token", "admin"],
            cwd=REPO, env=self.env, capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip


@contextlib.contextmanager
def running_studio(folder: Path, *extra: str, env: dict | None = None) -> Iterator[StudioProcess]:
    """A studio on a fresh database of the session's kind, once it says it runs; stopped (and
    its database dropped) at the end. `env` adds to its environment (e.g. a REDIS_URL)."""
    database_url, drop = fresh_database_url(folder)
    studio = StudioProcess(folder / "data", free_port(), database_url)
    studio.env.update(env or {})
    studio.process = studio.start(*extra)
    try:
        wait_until(lambda: "Press Ctrl-C" in studio.text() or studio.process.poll() is not None,
                   120, "the studio to report it is running")  # fmt: skip
        assert studio.process.poll() is None, studio.text()
        yield studio
    finally:
        if studio.process.poll() is None:
            studio.process.send_signal(signal.SIGTERM)
            studio.process.wait(90)
        drop()
