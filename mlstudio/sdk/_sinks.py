"""Where a run's metric records go."""

from __future__ import annotations

import atexit
import collections
import json
import os
import sys
import threading
import time
from pathlib import Path

FLUSH_SECONDS = 0.05
TICK_SECONDS = 0.2
REST_BATCH = 5_000
REST_FLUSH_SECONDS = 1.0


class FileSink:
    """Inside a submitted run: append JSON lines to a run-private file the executor tails.

    Works without network (in a container too) and costs the script about a microsecond a
    call. There is one sink per process and folder (`FileSink.shared`), writing
    metrics-<pid>.jsonl: one writer per file keeps every record whole and in log order. A
    busy script writes at least every FLUSH_SECONDS from its logging calls; a background
    tick writes what a quiet one left within TICK_SECONDS, so a chart follows a script that
    logs and then sleeps, and a crash loses at most that. A forked child forgets the records
    its parent had not written yet (the parent writes them) and starts its own file.
    """

    _shared: dict[str, FileSink] = {}

    def __init__(self, folder: str):
        self.folder = Path(folder)
        self._fd: int | None = None
        self._start()
        atexit.register(self.flush)
        os.register_at_fork(after_in_child=self._after_fork_in_child)

    @classmethod
    def shared(cls, folder: str) -> FileSink:
        """The process's sink for `folder`: every Run.get_context() of a script uses it."""
        key = os.path.abspath(folder)
        return cls._shared.get(key) or cls._shared.setdefault(key, cls(key))

    def _start(self) -> None:
        self._pending: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()  # a fork may copy it held by a thread the child lacks
        self._ticker: threading.Thread | None = None
        self._last_flush = 0.0  # the first record is written at once, and starts the tick

    def _after_fork_in_child(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the parent's file: the child writes its own
            self._fd = None
        self._start()

    def write_line(self, line: str, at: float) -> None:
        self._pending.append(line)
        if at - self._last_flush > FLUSH_SECONDS:
            self._flush_due(at)

    def send(self, record: dict) -> None:
        self.write_line(json.dumps(record, allow_nan=False) + "\n", record.get("t") or time.time())

    def _flush_due(self, at: float) -> None:
        self._last_flush = at
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="mlstudio-metrics", daemon=True)
            self._ticker.start()
        self.flush()

    def _tick(self) -> None:
        ticker = self._ticker
        while self._ticker is ticker:  # of two threads that raced to start one, one stops
            time.sleep(TICK_SECONDS)
            if self._pending:
                self.flush()

    def flush(self) -> None:
        """Write every pending record. Records are taken from the left of the queue while
        writers append on the right, so none is lost and none needs a lock to log."""
        with self._lock:
            pending = self._pending
            lines = [pending.popleft() for _ in range(len(pending))]
            if not lines:
                return
            if self._fd is None:
                path = self.folder / f"metrics-{os.getpid()}.jsonl"
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            data = memoryview("".join(lines).encode())
            while data:
                data = data[os.write(self._fd, data) :]


class RestSink:
    """From a notebook: batch records and post them to the run's metrics endpoint."""

    def __init__(self, client, path: str):
        self.client = client
        self.path = path
        self._buffer: list[dict] = []
        self._last_flush = time.time()
        self._lock = threading.Lock()
        atexit.register(self._flush_at_exit)

    def write_line(self, line: str, at: float) -> None:
        self.send(json.loads(line))

    def send(self, record: dict) -> None:
        with self._lock:
            self._buffer.append(record)
            due = (
                len(self._buffer) >= REST_BATCH
                or time.time() - self._last_flush > REST_FLUSH_SECONDS
            )
        if due:
            self.flush()

    def _flush_at_exit(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # the interpreter is ending: say so, never raise
            print(f"MLStudio: could not send the last metric records: {exc}", file=sys.stderr)

    def flush(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
            self._last_flush = time.time()
        for start in range(0, len(batch), REST_BATCH):
            self.client.post(self.path, {"records": batch[start : start + REST_BATCH]})
