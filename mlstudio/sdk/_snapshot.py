"""Snapshots of a source folder: a manifest of content hashes, and an upload that sends only the
file bodies the studio does not hold yet.

The wire contract, in three steps:
1. POST workspaces/{ws}/snapshots/negotiate {"files": [entry, ...]} -> {"missing": [sha256, ...]}
2. PUT workspaces/{ws}/blobs/{sha256} with the raw bytes, once per missing sha256
3. POST workspaces/{ws}/snapshots {"files": [...], "git": {...}}
   -> {"id", "file_count", "total_size", "digest"}
An entry is {"path": "a/b.py", "size": 12, "sha256": "<hex>", "mode": 0o644}, sorted by path.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstudio.sdk._http import Client, segment
from mlstudio.sdk._ignore import IgnoreRules
from mlstudio.sdk.exceptions import MLStudioException, UserErrorException

DEFAULT_MAX_BYTES = 300 * 1024 * 1024
DEFAULT_MAX_FILES = 2000
CHUNK_SIZE = 1024 * 1024
# A file whose mtime is this close to the start of hashing may change again within the same
# timestamp tick without its mtime moving, so its hash is not cached ("racy git").
RACY_MARGIN_NS = 2_000_000_000


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    size: int
    sha256: str
    mode: int
    local_path: Path

    def as_dict(self) -> dict[str, Any]:
        """The entry as the studio sees it: no local path."""
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "mode": self.mode}


@dataclass(frozen=True)
class Manifest:
    """The files of a snapshot, sorted by path; `ignored_count` counts ignored files plus
    ignored folders (whose contents are never looked at)."""

    root: Path
    entries: tuple[ManifestEntry, ...]
    ignored_count: int
    ignore_source: Path | None

    @property
    def file_count(self) -> int:
        return len(self.entries)

    @property
    def total_size(self) -> int:
        return sum(entry.size for entry in self.entries)

    def files(self) -> list[dict[str, Any]]:
        return [entry.as_dict() for entry in self.entries]


@dataclass(frozen=True)
class _Found:
    path: str
    local_path: Path
    stat: os.stat_result


def build_manifest(
    source_directory: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
) -> Manifest:
    """Walk `source_directory` and hash every file a run would get.

    `.git` is never included; `.amlignore` (else `.gitignore`) rules are applied and ignored
    folders are not entered. A symlink is followed when it stays inside the folder and refused
    when it leads out. The limits are checked before anything is hashed.
    """
    root = _source_root(source_directory)
    rules = IgnoreRules.from_folder(root)
    walker = _Walker(root, rules)
    walker.scan(root, "", (str(root),))
    found = sorted(walker.found, key=lambda item: item.path)
    _check_limits(root, rules, found, max_bytes=max_bytes, max_files=max_files)
    cache = _HashCache(root)
    entries = tuple(_entry(item, cache) for item in found)
    cache.save()
    return Manifest(root, entries, walker.ignored, rules.source)


def _source_root(source_directory: str | os.PathLike[str]) -> Path:
    root = Path(os.path.realpath(Path(source_directory).expanduser()))
    if not root.is_dir():
        raise UserErrorException(f"The source directory {source_directory} is not a folder.")
    return root


class _Walker:
    def __init__(self, root: Path, rules: IgnoreRules):
        self.root, self.rules = root, rules
        self.found: list[_Found] = []
        self.ignored = 0

    def scan(self, folder: Path, prefix: str, ancestors: tuple[str, ...]) -> None:
        """Collect the files under `folder`. `ancestors` are the real paths of the folders being
        walked, `folder`'s last, so a symlink back to one of them is seen as the loop it is."""
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            raise _unreadable(prefix.rstrip("/") or ".", exc) from None
        for entry in entries:
            if entry.name == ".git":
                continue
            path = prefix + entry.name
            if entry.is_symlink():
                self._symlink(entry, path, ancestors)
            elif entry.is_dir(follow_symlinks=False):
                if self._keeps(path, is_dir=True):
                    real = os.path.join(ancestors[-1], entry.name)
                    self.scan(Path(entry.path), path + "/", (*ancestors, real))
            elif entry.is_file(follow_symlinks=False) and self._keeps(path, is_dir=False):
                self.found.append(_Found(path, Path(entry.path), entry.stat(follow_symlinks=False)))
            # Sockets, FIFOs and devices have no content to snapshot.

    def _symlink(self, entry: os.DirEntry[str], path: str, ancestors: tuple[str, ...]) -> None:
        target = os.path.realpath(entry.path)
        # A link to a folder is matched as a folder, so that "data/" in .amlignore covers it.
        if not self._keeps(path, is_dir=os.path.isdir(target)) or not os.path.exists(target):
            return
        if not _inside(self.root, target):
            raise UserErrorException(
                f"{path} is a symlink to {target}, which points outside the source directory "
                f"{self.root}; copy the file in or add it to .amlignore."
            )
        if os.path.isdir(target):
            if target in ancestors:
                raise UserErrorException(
                    f"{path} is a symlink to a folder that contains it, so the folder has no "
                    "end; add it to .amlignore."
                )
            self.scan(Path(entry.path), path + "/", (*ancestors, target))
        elif os.path.isfile(target):
            self.found.append(_Found(path, Path(target), os.stat(target)))

    def _keeps(self, path: str, *, is_dir: bool) -> bool:
        if self.rules.ignores(path, is_dir):
            self.ignored += 1
            return False
        _check_name(path)
        return True


def _inside(root: Path, target: str) -> bool:
    return target == str(root) or target.startswith(str(root).rstrip(os.sep) + os.sep)


def _check_name(path: str) -> None:
    # The studio accepts only UTF-8 POSIX paths; say so here rather than after an upload.
    if "\\" in path:
        raise UserErrorException(
            f"{path!r} contains a backslash, which the studio does not accept in a path; "
            "rename it or add it to .amlignore."
        )
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise UserErrorException(
            f"{path!r} is not a UTF-8 name; rename it or add it to .amlignore."
        ) from None


def _unreadable(path: str, exc: OSError) -> UserErrorException:
    return UserErrorException(
        f"Cannot read {path} in the source directory ({exc.strerror or exc}); "
        "fix its permissions or add it to .amlignore."
    )


def _check_limits(
    root: Path, rules: IgnoreRules, found: list[_Found], *, max_bytes: int, max_files: int
) -> None:
    """Refuse a snapshot over the limits, naming what makes it big. The studio checks again."""
    total = sum(item.stat.st_size for item in found)
    if total <= max_bytes and len(found) <= max_files:
        return
    largest = sorted(found, key=lambda item: item.stat.st_size, reverse=True)[:5]
    lines = [
        f"The snapshot of {root} would hold {len(found):,} files, {human_size(total)}; the "
        f"studio takes at most {max_files:,} files and {human_size(max_bytes)}.",
        "Largest files: "
        + ", ".join(f"{item.path} ({human_size(item.stat.st_size)})" for item in largest)
        + ".",
    ]
    if len(found) > max_files:
        folders = Counter(item.path.split("/", 1)[0] for item in found if "/" in item.path)
        lines.append(
            "Folders with the most files: "
            + ", ".join(f"{name}/ ({count:,})" for name, count in folders.most_common(5))
            + "."
        )
    lines.append(_ignore_advice(root, rules))
    suggested = _suggested_rules(found, total - max_bytes, len(found) - max_files)
    lines.append("For example, these lines:\n" + "\n".join(f"    {rule}" for rule in suggested))
    raise UserErrorException("\n".join(lines))


def _suggested_rules(found: list[_Found], excess_bytes: int, excess_files: int) -> list[str]:
    """The fewest top-level folders or files, largest first, whose leaving out brings the
    snapshot within the limits (at most five), as anchored .amlignore lines."""
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for item in found:
        first, slash, _ = item.path.partition("/")
        sizes[f"/{first}{slash}"] += item.stat.st_size
        counts[f"/{first}{slash}"] += 1
    amounts = sizes if excess_bytes > 0 else counts
    rules: list[str] = []
    for rule, _ in amounts.most_common(5):
        if (
            sum(sizes[r] for r in rules) >= excess_bytes
            and sum(counts[r] for r in rules) >= excess_files
        ):
            break
        rules.append(rule)
    return rules


def _ignore_advice(root: Path, rules: IgnoreRules) -> str:
    advice = f"List what the run does not need in {root / '.amlignore'} (gitignore syntax)"
    if rules.source is not None and rules.source.name == ".gitignore":
        return advice + "; it replaces .gitignore, so copy over the rules you want to keep."
    return advice + "."


def human_size(size: int, *, byte_unit: str = "B") -> str:
    """`size` bytes in binary units: "812 B", "1.5 KiB", "300.0 MiB". The studio's messages
    spell small sizes out (byte_unit="bytes")."""
    if size < 1024:
        return f"{size} {byte_unit}"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def _entry(item: _Found, cache: _HashCache) -> ManifestEntry:
    sha256 = cache.lookup(item)
    size = item.stat.st_size
    if sha256 is None:
        sha256, size = _hash_file(item)
        if size == item.stat.st_size:
            cache.remember(item, sha256)
    return ManifestEntry(item.path, size, sha256, stat.S_IMODE(item.stat.st_mode), item.local_path)


def _hash_file(item: _Found) -> tuple[str, int]:
    """(sha256, size) of the bytes read, which may differ from the stat while the file grows."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(item.local_path, "rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise _unreadable(item.path, exc) from None
    return digest.hexdigest(), size


class _HashCache:
    """sha256 of files by (path, size, mtime_ns, inode), kept between submits of one folder.

    Only a cache: a file that cannot be read or written means hashing everything again.
    """

    _FAILURES = (OSError, ValueError, TypeError, KeyError, AttributeError, RuntimeError)

    def __init__(self, root: Path):
        self.started_ns = time.time_ns()
        self.file = _cache_file(root)
        self.known = self._load()
        self.fresh: dict[str, dict[str, Any]] = {}

    def _load(self) -> dict[str, Any]:
        if self.file is None:
            return {}
        try:
            known = json.loads(self.file.read_text(encoding="utf-8"))["files"]
        except self._FAILURES:
            return {}
        return known if isinstance(known, dict) else {}

    def lookup(self, item: _Found) -> str | None:
        key = self._key(item)
        known = self.known.get(item.path)
        if not isinstance(known, dict) or {k: known.get(k) for k in key} != key:
            return None
        sha256 = known.get("sha256")
        if not isinstance(sha256, str) or len(sha256) != 64:
            return None
        self.fresh[item.path] = known
        return sha256

    def remember(self, item: _Found, sha256: str) -> None:
        if item.stat.st_mtime_ns < self.started_ns - RACY_MARGIN_NS:
            self.fresh[item.path] = {**self._key(item), "sha256": sha256}

    def save(self) -> None:
        if self.file is None or self.fresh == self.known:
            return
        try:
            self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=self.file.parent, suffix=".tmp", delete=False, encoding="utf-8"
            ) as handle:
                json.dump({"version": 1, "files": self.fresh}, handle)
            os.replace(handle.name, self.file)
        except self._FAILURES:
            return

    @staticmethod
    def _key(item: _Found) -> dict[str, int]:
        return {
            "size": item.stat.st_size,
            "mtime_ns": item.stat.st_mtime_ns,
            "inode": item.stat.st_ino,
        }


def _cache_file(root: Path) -> Path | None:
    """~/.cache/mlstudio/hashes/<sha256 of the folder's absolute path>.json (XDG_CACHE_HOME)."""
    try:
        base = os.environ.get("XDG_CACHE_HOME", "")
        # The XDG spec says to ignore a relative XDG_CACHE_HOME.
        cache_home = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    except (RuntimeError, KeyError):
        return None
    name = hashlib.sha256(os.fsencode(root)).hexdigest()
    return cache_home / "mlstudio" / "hashes" / f"{name}.json"


def upload_snapshot(
    client: Client,
    workspace_name: str,
    source_directory: str | os.PathLike[str],
    *,
    git: dict[str, Any] | None = None,
    before_upload: Callable[[Manifest], None] | None = None,
) -> dict[str, Any]:
    """Snapshot `source_directory` in the workspace, sending only bodies the studio lacks.
    `before_upload` sees the manifest first and may refuse by raising: nothing is sent.

    Returns the studio's snapshot ({"id", "file_count", "total_size", "digest"}) plus
    "uploaded_files" and "uploaded_bytes": the blobs sent, each distinct content once.
    """
    manifest = build_manifest(source_directory)
    if before_upload is not None:
        before_upload(manifest)
    snapshots = f"workspaces/{segment(workspace_name)}/snapshots"
    files = manifest.files()
    missing = _missing(client.post(f"{snapshots}/negotiate", {"files": files}))
    from mlstudio.sdk._blob_batch import send_blobs  # it builds on this module

    # Many small bodies per request (blob-batches), not one request per file.
    sent = send_blobs(client, workspace_name, list(manifest.entries), missing=missing)
    snapshot = client.post(snapshots, {"files": files, "git": git or {}})
    return {**snapshot, **sent}


def _missing(answer: Any) -> set[str]:
    missing = answer.get("missing") if isinstance(answer, dict) else None
    if not isinstance(missing, list):
        raise MLStudioException(
            f"The studio answered the snapshot negotiation without a list of missing files: "
            f"{answer!r}. Are the SDK and the studio the same version?"
        )
    return {sha256 for sha256 in missing if isinstance(sha256, str)}


def _distinct(entries: tuple[ManifestEntry, ...]) -> Iterator[ManifestEntry]:
    seen: set[str] = set()
    for entry in entries:
        if entry.sha256 not in seen:
            seen.add(entry.sha256)
            yield entry


def put_blob(
    client: Client,
    workspace_name: str,
    entry: ManifestEntry,
    *,
    route: str = "blobs",
    progress: Callable[[int], None] | None = None,
) -> None:
    """PUT one file body to `route`/<sha256>, streamed in CHUNK_SIZE pieces (each reported to
    `progress` once sent); refuses to finish the upload if the file no longer has the
    manifest's content, so the studio never stores a wrong body."""
    try:
        handle = open(entry.local_path, "rb")  # noqa: SIM115 - closed by the `with` below
    except OSError as exc:
        raise _unreadable(entry.path, exc) from None
    path = f"workspaces/{segment(workspace_name)}/{route}/{entry.sha256}"
    # urllib sends an iterable body piece by piece when Content-Length is given.
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(entry.size)}
    body = _body(handle, entry) if progress is None else _reporting(_body(handle, entry), progress)
    with handle, client.open("PUT", path, data=body, headers=headers) as answer:
        answer.read()


def _reporting(chunks: Iterator[bytes], progress: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        progress(len(chunk))


def _body(handle: Any, entry: ManifestEntry) -> Iterator[bytes]:
    # Exactly entry.size bytes, checked against entry.sha256 before the last piece goes out.
    digest = hashlib.sha256()
    remaining = entry.size
    while remaining:
        try:
            chunk = handle.read(min(CHUNK_SIZE, remaining))
        except OSError as exc:
            raise _unreadable(entry.path, exc) from None
        remaining -= len(chunk)
        digest.update(chunk)
        if not chunk or (remaining == 0 and digest.hexdigest() != entry.sha256):
            raise UserErrorException(
                f"{entry.path} changed while it was being uploaded; submit again."
            )
        yield chunk


def submit_with_snapshot(workspace, source_directory, *, body: dict, create: str) -> dict:
    """Snapshot `source_directory` and create what `body` describes at the route `create`
    (a run, a sweep). The studio checks `body` against the manifest at `<create>/check` first,
    so a refused submit uploads nothing."""
    from mlstudio.sdk._git import git_info

    client = workspace._client

    def check(manifest: Manifest) -> None:
        paths = [entry.path for entry in manifest.entries]
        client.post(f"{create}/check", {"config": body, "paths": paths})

    snapshot = upload_snapshot(
        client,
        workspace.name,
        source_directory,
        git=git_info(source_directory),
        before_upload=check,
    )
    return client.post(create, {"snapshot_id": snapshot["id"], "config": body})
