"""A process forked while one of its threads is inside an SQLite transaction: the child must
be able to write (mlstudio.forksafe), as a Celery pool process forked by an autoscaled node
must while the node's heartbeat thread is writing.

Each case runs in a fresh Python process on its own SQLite file (the embedded default's
settings: WAL, IMMEDIATE transactions), whatever database the test session uses.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.processes import REPO

# argv[1]: "guarded" arms forksafe and has the heartbeat thread write inside a database
# turn, as compute.worker does; "unguarded" does neither (the code before the fix).
SCENARIO = """
import contextlib, os, sys, threading, time
import django
django.setup()
from django.db import connection, connections, transaction
from mlstudio import forksafe

guarded = sys.argv[1] == "guarded"
if guarded:
    forksafe.arm()
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE beat (n integer)")
connections.close_all()

inside = threading.Event()
def heartbeat():
    with forksafe.database_turn() if guarded else contextlib.nullcontext():
        with transaction.atomic():
            connection.cursor().execute("INSERT INTO beat VALUES (1)")
            inside.set()
            time.sleep(0.5)  # the main thread forks now
    time.sleep(5)  # unguarded, this thread's connection stays open, as Django leaves it

threading.Thread(target=heartbeat, daemon=True).start()
inside.wait()
pid = os.fork()
if pid == 0:  # the child: its first write, as a pool process's first task does
    try:
        connections.close_all()  # what Celery's Django fixup does: the forking thread's only
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 3000")  # the parent commits within 0.5 s
            cursor.execute("SELECT n FROM beat")
            print(f"child saw {[n for n, in cursor.fetchall()]}", flush=True)
            cursor.execute("INSERT INTO beat VALUES (2)")
    except Exception as exc:
        print(f"child: {exc}", flush=True)
        os._exit(1)
    os._exit(0)
_, status = os.waitpid(pid, 0)
with connection.cursor() as cursor:
    cursor.execute("SELECT n FROM beat ORDER BY n")
    print(f"child exit {os.waitstatus_to_exitcode(status)}; rows {[n for n, in cursor.fetchall()]}")
"""


def _fork_during_transaction(tmp_path, mode: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mlstudio.settings",
           "MLSTUDIO_DATA_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO, mode],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_it_lets_a_child_forked_during_a_heartbeat_transaction_write(tmp_path):
    out = _fork_during_transaction(tmp_path, "guarded")
    # The fork waited for the heartbeat's turn: the child saw its row committed at once. (An
    # unguarded fork happens inside the transaction, and the child sees no row.)
    assert out.splitlines() == ["child saw [1]", "child exit 0; rows [1, 2]"], out


def test_without_the_guard_the_fork_lands_inside_the_transaction(tmp_path):
    # The control: the same scenario unguarded forks while the heartbeat's row is uncommitted,
    # so the guarded test's "child saw [1]" is the guard's doing, not the timing's.
    out = _fork_during_transaction(tmp_path, "unguarded")
    assert out.splitlines()[0] == "child saw []", out
