"""Where a run's files live: logs (append-only, addressed by byte offset) and collected files.

Layout under <MEDIA_ROOT>/runs/<run id>/: user_logs/, system_logs/, outputs/, logs/. The
executor appends; readers address bytes by offset, so a reader that resumes from its last
offset never sees a gap or a duplicate.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

from django.conf import settings

from mlstudio.errors import NotFound, UserError
from mlstudio.lines import utf8_boundary
from mlstudio.paths import confined

USER_LOG = "user_logs/std_log.txt"
SYSTEM_LOG = "system_logs/executor.txt"
READ_CHUNK = 256 * 1024
LOG_NAME = re.compile(r"(user_logs|system_logs)/[\w.-]+\.txt")


def run_dir(run_id: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "runs" / run_id


def run_file(run_id: str, relative: str) -> Path:
    """A path inside the run's folder, refused if it would lead outside it."""
    return confined(run_dir(run_id), relative, what="file name")


def user_file(run_id: str, relative: str) -> Path:
    """A run file that a script or user may write: anywhere in the run's folder but the logs,
    which only the executor writes."""
    target = run_file(run_id, relative)
    parts = target.relative_to(run_dir(run_id)).parts
    if parts and parts[0] in ("user_logs", "system_logs"):
        raise UserError(
            f"Cannot write {relative!r}: user_logs/ and system_logs/ are written by the executor "
            "only. Upload the file under another folder, e.g. outputs/."
        )
    return target


def log_files(run_id: str) -> dict[str, int]:
    """Every log of the run and its current size in bytes."""
    root = run_dir(run_id)
    found = {}
    for folder in ("user_logs", "system_logs"):
        for path in sorted((root / folder).glob("*.txt")):
            found[f"{folder}/{path.name}"] = path.stat().st_size
    return found


def read_log(run_id: str, name: str, offset: int, limit: int = READ_CHUNK) -> tuple[str, int]:
    """Text after byte `offset`, at most `limit` bytes, cut at a UTF-8 boundary.

    Returns the text and the offset that follows it. A log not written yet reads as empty.
    """
    if not LOG_NAME.fullmatch(name):
        raise NotFound(
            f"{name!r} is not a log name; logs are user_logs/*.txt and system_logs/*.txt."
        )
    path = run_file(run_id, name)
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(limit)
    except FileNotFoundError:
        return "", offset
    data = data[: utf8_boundary(data)]
    return data.decode("utf-8", "replace"), offset + len(data)


class AppendLog:
    """One log file opened for appending; each append returns the offset it was written at."""

    def __init__(self, run_id: str, name: str):
        self.name = name
        path = run_file(run_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "ab")  # noqa: SIM115 - kept open for the run's lifetime
        self.size = self._handle.tell()

    def append(self, data: bytes) -> int:
        offset = self.size
        self._handle.write(data)
        self._handle.flush()
        self.size += len(data)
        return offset

    def close(self) -> None:
        self._handle.close()


def list_files(run_id: str) -> list[dict]:
    root = run_dir(run_id)
    out = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_symlink():
                continue
            out.append({"name": path.relative_to(root).as_posix(), "size": path.stat().st_size})
    return sorted(out, key=lambda f: f["name"])


def write_file(
    run_id: str, relative: str, source, *, limit: int | None = None, too_big=None
) -> int:
    """Write a run file from a readable stream, atomically: a reader sees the old file or
    the whole new one. Returns its size. Past `limit` bytes it stops, keeps nothing and
    raises too_big(size so far)."""
    target = user_file(run_id, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    size = 0
    try:
        with open(partial, "wb") as out:
            while chunk := source.read(1024 * 1024):
                out.write(chunk)
                size += len(chunk)
                if limit is not None and size > limit:
                    raise too_big(size)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"Could not store {relative!r}: {exc.strerror}.") from None
    except UserError:
        partial.unlink(missing_ok=True)
        raise
    return size


def folder_size(folder: Path) -> int:
    """Bytes in the files under `folder` (0 when it does not exist)."""
    total = 0
    for current, _dirs, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(current, name)).st_size
    return total


def replace_file(target: Path, source: Path) -> None:
    """Copy `source` over `target` by a rename, never by rewriting `target` in place: readers
    see the old file or the whole new one, and a model version whose blob is a hard link to
    the old file keeps its bytes."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        shutil.copyfile(source, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
