"""Where a run's files live: logs (append-only, addressed by byte offset) and collected files.

Layout under <MEDIA_ROOT>/runs/<run id>/: user_logs/, system_logs/, outputs/, logs/. The
executor appends; readers address bytes by offset, so a reader that resumes from its last
offset never sees a gap or a duplicate.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
from pathlib import Path

from django.conf import settings
from django.utils.crypto import salted_hmac

from mlstudio.errors import NotFound, UserError
from mlstudio.lines import utf8_boundary
from mlstudio.paths import confined

USER_LOG = "user_logs/std_log.txt"
SYSTEM_LOG = "system_logs/executor.txt"
READ_CHUNK = 256 * 1024
LOG_NAME = re.compile(r"(user_logs|system_logs)/[\w.-]+\.txt")
COPY_CHUNK = 1024 * 1024
# The sha256 the store computed while writing a file, kept on the file (its inode) so that
# registering it as a model does not read it again; see file_digest.
DIGEST_XATTR = "user.mlstudio.sha256"


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


def logs_among(files: list[dict]) -> dict[str, int]:
    """The logs in a `list_files` listing and their sizes (what `log_files` reads), for a
    caller that lists every file anyway."""
    return {f["name"]: f["size"] for f in files if LOG_NAME.fullmatch(f["name"])}


def read_log(run_id: str, name: str, offset: int, limit: int = READ_CHUNK) -> tuple[str, int]:
    """Text after byte `offset`, at most `limit` bytes, cut at a UTF-8 boundary.

    Returns the text and the offset that follows it. A log not written yet reads as empty.
    """
    data = _log_bytes(run_id, name, offset, limit)
    data = data[: utf8_boundary(data)]
    return data.decode("utf-8", "replace"), offset + len(data)


def read_log_tail(run_id: str, name: str, size: int, limit: int) -> tuple[str, int, int]:
    """The whole lines among the last `limit` of the first `size` bytes of a log: the text,
    the offset it starts at and the offset that follows it (a viewer's first screen)."""
    start = max(0, size - limit)
    data = _log_bytes(run_id, name, start, size - start)
    if start > 0:  # the read began inside a line, perhaps inside a character: drop that line
        cut = data.find(b"\n") + 1
        start, data = start + cut, data[cut:]
    data = data[: utf8_boundary(data)]
    return data.decode("utf-8", "replace"), start, start + len(data)


def _log_bytes(run_id: str, name: str, offset: int, limit: int) -> bytes:
    if not LOG_NAME.fullmatch(name):
        raise NotFound(
            f"{name!r} is not a log name; logs are user_logs/*.txt and system_logs/*.txt."
        )
    try:
        with open(run_file(run_id, name), "rb") as handle:
            handle.seek(offset)
            return handle.read(limit)
    except FileNotFoundError:
        return b""


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
    raises too_big(size so far). The sha256 is computed on the way and recorded on the file
    (file_digest)."""
    target = user_file(run_id, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with open(partial, "wb") as out:
            size = _copy_recorded(source, out, limit=limit, too_big=too_big)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"Could not store {relative!r}: {exc.strerror}.") from None
    except UserError:
        partial.unlink(missing_ok=True)
        raise
    return size


def copy_hashed(source, out, *, limit: int | None = None, too_big=None) -> tuple[str, int]:
    """Copy `source` into the open file `out` in chunks, hashing on the way; (sha256, size).
    Past `limit` bytes it raises too_big(size so far)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(COPY_CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            raise too_big(size)
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest(), size


def _copy_recorded(source, out, *, limit: int | None = None, too_big=None) -> int:
    """copy_hashed, then the digest recorded on `out`; the bytes it holds."""
    sha256, size = copy_hashed(source, out, limit=limit, too_big=too_big)
    out.flush()
    _record(out.fileno(), sha256)
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
    the old file keeps its bytes. The sha256 is computed on the way (file_digest)."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with open(source, "rb") as body, open(partial, "wb") as out:
            _copy_recorded(body, out)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def file_digest(path: Path) -> tuple[str, int]:
    """(sha256, size) of the file at `path`.

    The digest recorded when the store wrote the file is reused while the file's size and
    mtime are still those it was recorded with (the store replaces files by a rename, never
    rewrites them in place, and an append changes the size); otherwise the file is hashed and
    the record refreshed. The record is signed with the studio's secret, so a script that
    writes its own attribute on a file is not believed. Where the file system keeps no
    extended attributes the file is simply hashed each time.
    """
    with open(path, "rb") as handle:
        fd = handle.fileno()
        stat = os.fstat(fd)
        recorded = _recorded(fd, stat)
        if recorded:
            return recorded, stat.st_size
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        if _unchanged(os.fstat(fd), stat):
            _record(fd, sha256)
    return sha256, stat.st_size


def _unchanged(now: os.stat_result, then: os.stat_result) -> bool:
    return (now.st_size, now.st_mtime_ns) == (then.st_size, then.st_mtime_ns)


def _signed(sha256: str, stat: os.stat_result) -> str:
    fields = f"{sha256}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_dev}:{stat.st_ino}"
    return f"{fields}:{salted_hmac(DIGEST_XATTR, fields, algorithm='sha256').hexdigest()}"


def _record(fd: int, sha256: str) -> None:
    """Keep the digest on the file, best effort: a file system without user extended
    attributes (or a full one) only costs a hash at the next file_digest."""
    if not hasattr(os, "setxattr"):
        return
    with contextlib.suppress(OSError):
        os.setxattr(fd, DIGEST_XATTR, _signed(sha256, os.fstat(fd)).encode())


def _recorded(fd: int, stat: os.stat_result) -> str | None:
    """The recorded sha256 if it was signed for this very inode, size and mtime."""
    if not hasattr(os, "getxattr"):
        return None
    try:
        value = os.getxattr(fd, DIGEST_XATTR).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    sha256 = value.split(":", 1)[0]
    return sha256 if hmac.compare_digest(value, _signed(sha256, stat)) else None
