"""Where a run's metric records go."""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from pathlib import Path

FLUSH_SECONDS = 0.05
REST_BATCH = 5_000
REST_FLUSH_SECONDS = 1.0


class FileSink:
    """Inside a submitted run: append JSON lines to a run-private file the executor tails.

    Works without network (in a container too) and costs the script about a microsecond a
    call. The buffer is flushed every FLUSH_SECONDS, on flush() and at exit, so what a crash
    can lose is at most the last 50 ms; one file per process keeps each file in order.
    """

    def __init__(self, folder: str):
        self.folder = Path(folder)
        self._pid = None
        self._handle = None
        self._last_flush = 0.0
        atexit.register(self.flush)

    def _open(self):
        self._pid = os.getpid()
        self._handle = open(  # noqa: SIM115 - kept open for the life of the process
            self.folder / f"metrics-{self._pid}.jsonl", "a", buffering=1 << 16, encoding="utf-8"
        )
        return self._handle

    def write_line(self, line: str, at: float) -> None:
        handle = self._handle if self._pid == os.getpid() else self._open()
        handle.write(line)
        if at - self._last_flush > FLUSH_SECONDS:
            handle.flush()
            self._last_flush = at

    def send(self, record: dict) -> None:
        self.write_line(json.dumps(record, allow_nan=False) + "\n", record.get("t") or time.time())

    def flush(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            self._handle.flush()


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
