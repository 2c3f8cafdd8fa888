"""A run's logs as one node of its execution writes them: each piece is appended to the log
store and then published to the run's channel group, here and nowhere else."""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from mlstudio import live
from mlstudio.sdk._launch import untag
from runs import store

ENV_BUILD_LOG = "system_logs/environment_build_log.txt"
IMAGE_BUILD_LOG = "system_logs/image_build_log.txt"


class RunLogs:
    """The system log (what the executor says), the user log (the script's output) and, for a
    distributed job, one log per process of the lines its launcher tagged with a rank."""

    def __init__(self, run_id: str, *, system: str = store.SYSTEM_LOG,
                 user: str = store.USER_LOG):  # fmt: skip
        self.run_id = run_id
        self.group = live.run_group(run_id)
        self.system = store.AppendLog(run_id, system)
        self.user = store.AppendLog(run_id, user)
        self.per_process: dict[int, store.AppendLog] | None = None
        self._say_lock = threading.Lock()

    def say(self, message: str) -> None:
        """A line in the run's system log, persisted and then pushed like user output."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        text = f"{stamp} {message}\n"
        with self._say_lock:
            try:
                offset = self.system.append(text.encode())
            except OSError as exc:  # a full disk: the run's end must still be recorded
                if exc.errno != errno.ENOSPC:
                    raise
                return
        live.publish(self.group, live.log_event(self.system.name, offset, text))

    def split_by_process(self) -> None:
        self.per_process = {}

    def output(self, data: bytes) -> None:
        """The script's output, in complete lines."""
        if self.per_process is not None:
            data = self._write_process_logs(data)
        if data:
            self._append(self.user, data.decode("utf-8", "replace"))

    def _write_process_logs(self, data: bytes) -> bytes:
        """Each tagged line to its process's log; returns the lines for the run's own log,
        each marked with its rank."""
        combined: list[bytes] = []
        per_rank: dict[int, list[bytes]] = {}
        for line in data.splitlines(keepends=True):
            rank, text = untag(line)
            if rank is None:
                combined.append(text)
                continue
            per_rank.setdefault(rank, []).append(text)
            combined.append(b"[rank %d] " % rank + text)
        for rank, lines in per_rank.items():
            log = self.per_process.get(rank)
            if log is None:
                name = f"user_logs/std_log_process_{rank}.txt"
                log = self.per_process[rank] = store.AppendLog(self.run_id, name)
            self._append(log, b"".join(lines).decode("utf-8", "replace"))
        return b"".join(combined)

    def build_log(self, name: str) -> tuple[store.AppendLog, Callable[[str], None]]:
        """An environment's build log and the function that writes one line to it."""
        log = store.AppendLog(self.run_id, name)

        def line(text: str) -> None:
            self._append(log, text.rstrip("\n") + "\n")

        return log, line

    def _append(self, log: store.AppendLog, text: str) -> None:
        offset = log.append(text.encode())
        live.publish(self.group, live.log_event(log.name, offset, text))

    def close(self) -> None:
        self.user.close()
        self.system.close()
        for log in (self.per_process or {}).values():
            log.close()
