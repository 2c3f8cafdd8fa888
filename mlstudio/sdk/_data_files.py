"""Local files for datastores and datasets: hash a folder or a list of files into manifest
entries (hashes cached between calls, as for snapshots), and fetch files, each checked."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from mlstudio.sdk._http import Client
from mlstudio.sdk._snapshot import CHUNK_SIZE, ManifestEntry, _entry, _Found, _HashCache
from mlstudio.sdk.exceptions import UserErrorException


def clean_target(target_path) -> str:
    """'' or a relative folder; `..` and absolute paths are refused before anything is sent."""
    if target_path in (None, "", ".", "/"):
        return ""
    text = str(target_path).replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UserErrorException(
            f"target_path {target_path!r} is absolute; give a folder relative to the "
            "datastore's root, e.g. 'mnist/'."
        )
    parts = [p for p in PurePosixPath(text).parts if p != "."]
    if ".." in parts:
        raise UserErrorException(
            f"target_path {target_path!r} contains '..'; give a folder inside the datastore."
        )
    return "/".join(parts)


def folder_entries(src_dir) -> list[ManifestEntry]:
    base = Path(os.path.realpath(Path(src_dir).expanduser()))
    if not base.is_dir():
        raise UserErrorException(f"src_dir {src_dir!r} is not a folder on this machine.")
    found = []
    for folder, dirs, names in os.walk(base):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and Path(os.path.realpath(path)).is_relative_to(base):
                found.append(_Found(path.relative_to(base).as_posix(), path, path.stat()))
    return _hashed(base, found)


def files_entries(files, relative_root=None) -> list[ManifestEntry]:
    paths = [Path(os.path.abspath(Path(f).expanduser())) for f in files]
    for path in paths:
        if not path.is_file():
            raise UserErrorException(f"{path} is not a file on this machine; list files only.")
    root = Path(os.path.abspath(relative_root)) if relative_root else None
    if root is None:
        root = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path.cwd()
    found = []
    for path in paths:
        if not path.is_relative_to(root):
            raise UserErrorException(
                f"{path} is not under relative_root {str(root)!r}; pass a relative_root that "
                "holds every file."
            )
        found.append(_Found(path.relative_to(root).as_posix(), path, path.stat()))
    return _hashed(root, found)


def _hashed(root: Path, found: list[_Found]) -> list[ManifestEntry]:
    cache = _HashCache(root)
    entries = [_entry(item, cache) for item in sorted(found, key=lambda f: f.path)]
    cache.save()
    return entries


def fetch(client: Client, url: str, entry: dict, target: Path, progress=None,
          damaged: str = "") -> None:  # fmt: skip
    """One file into `target`, replaced by a rename after its sha256 matched (when known)."""
    download = _Download(client, url, entry, target, progress, damaged)
    download.run()
    download.finish()


@contextlib.contextmanager
def streamed(client: Client, url: str, entry: dict, target: Path, answer=None):
    """One file's bytes as they arrive (a binary file object, read while a thread downloads
    the rest into a part file beside `target`), so a first read can parse during the
    download. The bytes are the rest of `answer` if given, else a GET of `url`. On leaving,
    the file is at `target` only if its sha256 matched; a mismatch is raised in place of
    whatever the reading raised, since damage explains it."""
    download = _Download(client, url, entry, target, answer=answer)
    reader = _Growing(download)
    worker = threading.Thread(target=download.run, name="mlstudio-fetch", daemon=True)
    worker.start()
    try:
        yield reader
    except BaseException as exc:
        if not isinstance(exc, Exception):  # e.g. Ctrl-C: stop, rather than finish, the download
            download.cancel()
        raise
    finally:
        reader.close()  # before the rename: Windows renames no open file
        worker.join()
        download.finish()


class _Download:
    """A GET (or the rest of an open answer) into a part file, hashed as it is written;
    finish() renames it to `target` once its sha256 matched and removes it otherwise.
    `written` and `done` tell a reader in another thread how far the part file is complete."""

    def __init__(self, client: Client, url: str, entry: dict, target: Path, progress=None,
                 damaged: str = "", answer=None):  # fmt: skip
        target.parent.mkdir(parents=True, exist_ok=True)
        self._client, self._url, self._entry, self._target = client, url, entry, target
        self._answer = answer  # an open answer whose rest is the file, instead of a GET
        self._progress, self._damaged = progress, damaged
        self._fd, self.part = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        self._digest = hashlib.sha256()
        self._error: BaseException | None = None
        self._cancelled = False
        self._changed = threading.Condition()
        self.written = 0
        self.done = False

    def run(self) -> None:
        try:
            answer = (
                self._answer if self._answer is not None else self._client.open("GET", self._url)
            )
            with answer:
                self._copy(answer)
        except BaseException as exc:  # kept for finish(), in the caller's thread
            self._error = exc
        finally:
            os.close(self._fd)
            with self._changed:
                self.done = True
                self._changed.notify_all()

    def _copy(self, answer) -> None:
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        while not self._cancelled and (count := answer.readinto(buffer)):
            self._digest.update(view[:count])  # hashlib and os.write release the GIL
            _write_all(self._fd, view[:count])
            with self._changed:
                self.written += count
                self._changed.notify_all()
            if self._progress is not None:
                self._progress(count)

    def wait_beyond(self, offset: int) -> bool:
        """Whether bytes past `offset` are (or, after waiting, became) in the part file."""
        with self._changed:
            self._changed.wait_for(lambda: self.written > offset or self.done)
            return self.written > offset

    def cancel(self) -> None:
        self._cancelled = True

    def finish(self) -> None:
        try:
            if self._error is not None:
                raise self._error
            if self._cancelled:
                return
            if self._entry.get("sha256") and self._digest.hexdigest() != self._entry["sha256"]:
                raise UserErrorException(
                    self._damaged
                    or f"{self._entry['path']} does not have the content the dataset pinned "
                    "(sha256 mismatch): the file changed in its local datastore, or arrived "
                    "damaged. Register a new version, or download again."
                )
            os.chmod(self.part, self._entry.get("mode", 0o644))
            os.replace(self.part, self._target)
        finally:
            if os.path.exists(self.part):
                os.unlink(self.part)


class _Growing(io.RawIOBase):
    """A download's part file read while it is written: at its current end a read waits for
    more bytes, and the end of the download is the end of the file."""

    def __init__(self, download: _Download):
        self._download = download
        self._fd = os.open(download.part, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._offset = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = size if size and size > 0 else CHUNK_SIZE
        while not (data := os.read(self._fd, size)):
            if not self._download.wait_beyond(self._offset):
                return b""
        self._offset += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def confined(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise UserErrorException(f"The studio sent a file path outside the folder: {relative!r}.")
    return target


def quoted(path: str) -> str:
    return quote(path)


def digest_of(entries: list[dict]) -> str:
    canonical = "\n".join(f"{e['path']}\0{e['sha256']}" for e in entries)
    return hashlib.sha256(canonical.encode()).hexdigest()


def dataset_cache(digest: str) -> Path:
    """The cache folder of the files a manifest with this digest_of names."""
    return cache_home() / "datasets" / digest


def resolved_memo(url: str, workspace: str, definition: dict) -> Path:
    """Where the digest of the manifest an unregistered definition last resolved to is kept:
    sent as `unless`, it spares a read whose files are cached from receiving them again."""
    named = json.dumps([url, workspace, definition], sort_keys=True)
    return cache_home() / "datasets" / "resolved" / hashlib.sha256(named.encode()).hexdigest()


def cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    home = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return home / "mlstudio"


def apply_file_transforms(entries: list[dict], transforms: list) -> list[dict]:
    """take/skip on a file dataset count files, in path order."""
    for step in transforms or []:
        if step[0] == "take":
            entries = entries[: step[1]]
        elif step[0] == "skip":
            entries = entries[step[1] :]
    return entries


def copy_local(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)
