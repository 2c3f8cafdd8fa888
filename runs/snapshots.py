"""Snapshots: the source folder a run is submitted with, kept as content-addressed blobs.

Two ways in, one set of rules. The SDK asks which blobs the workspace lacks
(snapshot_negotiate), uploads them one by one (blob_store) and then names the files
(snapshot_create); a browser or curl sends one zip (snapshot_create_from_zip). Either way the
whole manifest is validated, limits included, before anything is stored. A workspace can only
use blobs it uploaded itself, so knowing a hash never opens another workspace's file.

Blob bytes live once per sha256 in `default_storage` under blobs/<aa>/<bb>/<sha256>; a Blob
row is written only after its bytes are in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import uuid
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit, urlunsplit

import pathspec
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from mlstudio.errors import NotFound, UserError
from mlstudio.paths import clean_relative_path, confined
from runs.models import Blob, Snapshot
from workspaces.models import Workspace
from workspaces.selectors import workspace_get_for_user

CHUNK = 1024 * 1024
SHA256 = re.compile(r"[0-9a-f]{64}")
COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
DEFAULT_MODE = 0o644
SCRATCH = "tmp"
# A zip may carry .git and ignored files beside the snapshot, so it may be larger than one.
ZIP_UPLOAD_FACTOR = 2
MAX_IGNORE_FILE = 1024 * 1024
MAX_GIT_TEXT = 1024 * 1024
GIT_TIMEOUT_SECONDS = 60
GIT_KEYS = ("repository_uri", "branch", "commit", "dirty")
MAX_GIT_JSON = 4096


class BlobCorrupt(Exception):
    """A blob's stored bytes no longer match its sha256: the file store was damaged."""


# --- blobs ---------------------------------------------------------------------------------


def blob_name(*, sha256: str) -> str:
    """Where a blob's bytes live in the file store."""
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def blob_store(
    *,
    workspace: Workspace,
    sha256: str,
    body: BinaryIO,
    declared_size: int | None = None,
    max_bytes: int | None = None,
    too_big: str = "",
) -> tuple[Blob, bool]:
    """Store one file body under its sha256; return the Blob and whether it is new here.

    The body is hashed on its way to a temporary file and only a body whose hash matches
    `sha256` is moved into place, so the store never holds a partial or mislabelled blob.
    A body over `max_bytes` (default: what a whole snapshot may hold) is refused with
    `too_big`.
    """
    sha256 = sha256.lower()
    if not SHA256.fullmatch(sha256):
        raise UserError(
            f"{sha256!r} is not a sha256; put the file's sha256 digest (64 hex characters) "
            "in the URL: /blobs/<sha256>."
        )
    limit = max_bytes or settings.MLSTUDIO_SNAPSHOT_MAX_BYTES
    too_big = too_big or (
        f"The file is over {_human(limit)}, the most a whole snapshot may hold. Add it to "
        ".amlignore, or raise the limit with the MLSTUDIO_SNAPSHOT_MAX_BYTES setting."
    )
    if declared_size is not None and declared_size > limit:
        raise UserError(too_big)
    with _temp_file() as temp:
        actual, size = _copy(body, temp, limit=limit, too_big=too_big)
        temp.flush()
        if actual != sha256:
            raise UserError(
                f"Hash mismatch: the body's sha256 is {actual}, not {sha256} as the URL says; "
                "nothing was stored. Hash the bytes you send and upload them to that URL."
            )
        _blob_put(sha256=sha256, path=Path(temp.name), size=size)
    return Blob.objects.get_or_create(workspace=workspace, sha256=sha256, defaults={"size": size})


def blob_link(*, workspace: Workspace, path: Path) -> Blob:
    """Make the file at `path` a blob of the workspace without a second copy of its bytes.

    The file is hashed, then hard linked into the store when the store is a folder on the same
    file system, so the blob and the file share one inode; elsewhere it is copied. The caller
    vouches that nobody rewrites the file in place afterwards (run files are only ever
    replaced by a rename, see store.replace_file), so the blob keeps the bytes it was hashed
    with even when the file is later replaced or deleted.
    """
    with path.open("rb") as handle:
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        size = os.fstat(handle.fileno()).st_size
    name = blob_name(sha256=sha256)
    if not (default_storage.exists(name) and default_storage.size(name) == size):
        _blob_put_linked(sha256=sha256, path=path, size=size)
    blob, _ = Blob.objects.get_or_create(
        workspace=workspace, sha256=sha256, defaults={"size": size}
    )
    return blob


def _blob_put_linked(*, sha256: str, path: Path, size: int) -> None:
    scratch = _scratch_root()
    link = Path(scratch or tempfile.gettempdir()) / f"link-{uuid.uuid4().hex}"
    try:
        os.link(path, link)
    except OSError:  # another file system, or one without hard links: copy instead
        with _temp_file() as temp, path.open("rb") as source:
            actual, copied = _copy(source, temp)
            temp.flush()
            if (actual, copied) != (sha256, size):
                raise UserError(
                    f"{path.name} changed while it was being registered; try again."
                ) from None
            _blob_put(sha256=sha256, path=Path(temp.name), size=size)
        return
    try:
        _blob_put(sha256=sha256, path=link, size=size)
    finally:
        link.unlink(missing_ok=True)


class _FinishedFile(File):
    # FileSystemStorage moves a file that has a path with one rename instead of copying it.
    def temporary_file_path(self) -> str:
        return self.file.name


def _blob_put(*, sha256: str, path: Path, size: int) -> None:
    """Put the verified file at `path` into the store, unless an intact copy is there."""
    name = blob_name(sha256=sha256)
    if default_storage.exists(name):
        if default_storage.size(name) == size:
            return
        # Only a crash half-way through a non-atomic backend's write leaves a wrong size.
        default_storage.delete(name)
    with path.open("rb") as handle:
        saved = default_storage.save(name, _FinishedFile(handle, name=name))
    if saved != name:
        # A concurrent upload of the same bytes got there first; the copies are identical.
        default_storage.delete(saved)


def _scratch_root() -> str | None:
    """A temp folder on the blob store's own file system, so a finished blob moves into place
    with an atomic rename; None (the system's temp folder) for stores without local paths."""
    try:
        root = Path(default_storage.path(SCRATCH))
    except NotImplementedError:
        return None
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


@contextmanager
def _temp_file() -> Iterator[BinaryIO]:
    temp = tempfile.NamedTemporaryFile(dir=_scratch_root(), prefix="blob-", delete=False)  # noqa: SIM115
    try:
        yield temp
    finally:
        temp.close()
        Path(temp.name).unlink(missing_ok=True)


@contextmanager
def _scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(
        dir=_scratch_root(), prefix="zip-", ignore_cleanup_errors=True
    ) as folder:
        yield Path(folder)


def _copy(
    source: BinaryIO, target: BinaryIO, *, limit: int | None = None, too_big: str = ""
) -> tuple[str, int]:
    """Copy in chunks, hashing; return (sha256, size). Refuse with `too_big` past `limit`."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            raise UserError(too_big)
        digest.update(chunk)
        target.write(chunk)
    return digest.hexdigest(), size


def _blobs_present(workspace: Workspace, shas: set[str]) -> set[str]:
    ordered = sorted(shas)
    present: set[str] = set()
    for start in range(0, len(ordered), 500):  # stays under every database's parameter limit
        present.update(
            Blob.objects.filter(
                workspace=workspace, sha256__in=ordered[start : start + 500]
            ).values_list("sha256", flat=True)
        )
    return present


# --- manifests -----------------------------------------------------------------------------


def _manifest_clean(files: Iterable[object]) -> list[dict]:
    """The manifest as stored (see manifest_entries_clean), also refused when its sizes or
    counts are over the limits, so nothing is stored for one that could never become a
    snapshot."""
    entries = manifest_entries_clean(files)
    _limits_check(entries)
    return entries


def manifest_entries_clean(files: Iterable[object]) -> list[dict]:
    """A manifest's entries checked, paths cleaned, sorted by path, mode & 0o777; a path
    listed twice, or a file that is another file's folder, is refused."""
    entries = sorted(
        (_entry_clean(raw, index) for index, raw in enumerate(files)), key=lambda e: e["path"]
    )
    _tree_check([e["path"] for e in entries])
    return entries


def _entry_clean(raw: object, index: int) -> dict:
    if not isinstance(raw, Mapping):
        raise UserError(
            f"Manifest entry {index} is not an object; send "
            '{"path": ..., "size": ..., "sha256": ..., "mode": ...} for each file.'
        )
    path = clean_relative_path(str(raw.get("path") or ""), what="manifest path")
    if ".git" in path.split("/"):
        raise UserError(
            f"{path!r} is inside a .git folder, which is never part of a snapshot; "
            "leave .git out of the manifest."
        )
    sha256, size, mode = raw.get("sha256"), raw.get("size"), raw.get("mode", DEFAULT_MODE)
    if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
        raise UserError(
            f"{path!r}: sha256 {sha256!r} is not 64 lowercase hex characters; send "
            "hashlib.sha256(data).hexdigest() of the file's bytes."
        )
    if not _is_int(size) or size < 0:
        raise UserError(f"{path!r}: size {size!r} is not a number of bytes; send the length.")
    if not _is_int(mode):
        raise UserError(
            f"{path!r}: mode {mode!r} is not an integer; send the file's permission bits, "
            "such as 420 (0o644)."
        )
    return {"path": path, "size": size, "sha256": sha256, "mode": mode & 0o777}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tree_check(paths: list[str]) -> None:
    """Refuse a path listed twice, and a file that is also another file's folder."""
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            raise UserError(f"{path!r} is listed twice; list each file once.")
        seen.add(path)
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in seen:
                raise UserError(
                    f"{folder!r} is both a file and the folder of {path!r}; rename one of them."
                )


def _limits_check(entries: list[dict]) -> None:
    max_bytes = settings.MLSTUDIO_SNAPSHOT_MAX_BYTES
    max_files = settings.MLSTUDIO_SNAPSHOT_MAX_FILES
    total = sum(e["size"] for e in entries)
    if total > max_bytes:
        largest = sorted(entries, key=lambda e: (-e["size"], e["path"]))[:5]
        names = ", ".join(f"{e['path']} ({_human(e['size'])})" for e in largest)
        sizes = Counter()
        for e in entries:
            sizes[_ignore_line(e["path"])] += e["size"]
        lines = _enough(sizes, total - max_bytes)
        raise UserError(
            f"The snapshot is {_human(total)}, over the limit of {_human(max_bytes)}. "
            f"Largest files: {names}. Add the ones the run does not need (or their folders) "
            f"to .amlignore, e.g. the lines {lines}, or raise the limit with the "
            "MLSTUDIO_SNAPSHOT_MAX_BYTES setting."
        )
    if len(entries) > max_files:
        counts = Counter(_top_level(e["path"]) for e in entries).most_common(5)
        busiest = ", ".join(f"{name} ({count:,} files)" for name, count in counts)
        lines = _enough(Counter(_ignore_line(e["path"]) for e in entries), len(entries) - max_files)
        raise UserError(
            f"The snapshot has {len(entries):,} files, over the limit of {max_files:,}. "
            f"Where most of them are: {busiest}. Add the folders the run does not need to "
            f".amlignore, e.g. the lines {lines}, or raise the limit with the "
            "MLSTUDIO_SNAPSHOT_MAX_FILES setting."
        )


def _ignore_line(path: str) -> str:
    """The .amlignore line that leaves `path` out with its top folder: "/data/", "/model.pt"
    (anchored, so a same-named folder deeper down stays)."""
    first, slash, _ = path.partition("/")
    return f"/{first}{slash}"


def _enough(amounts: Counter, excess: int) -> str:
    """The fewest lines, largest first, whose amounts add up to `excess`, quoted: the
    .amlignore a refused snapshot would fit with (at most five lines)."""
    lines, left_out = [], 0
    for line, amount in amounts.most_common(5):
        if left_out >= excess:
            break
        lines.append(f'"{line}"')
        left_out += amount
    return ", ".join(lines)


def _top_level(path: str) -> str:
    first, slash, _ = path.partition("/")
    return first + slash


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _manifest_digest(entries: list[dict]) -> str:
    """sha256 of json.dumps(sorted manifest, sort_keys=True, separators=(",", ":"))."""
    canonical = json.dumps(entries, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- snapshots -----------------------------------------------------------------------------


def snapshot_negotiate(*, workspace: Workspace, files: Iterable[object]) -> list[str]:
    """The sha256s of `files` this workspace has not uploaded yet, unique and sorted.

    The manifest and the limits are checked first, so an upload that would be refused at the
    end is refused before any bytes are sent. Stores nothing.
    """
    wanted = {e["sha256"] for e in _manifest_clean(files)}
    return sorted(wanted - _blobs_present(workspace, wanted))


def snapshot_create(
    *, workspace: Workspace, user, files: Iterable[object], git: Mapping | None = None
) -> Snapshot:
    """A snapshot of blobs this workspace has uploaded; an identical one is returned as is."""
    entries = _manifest_clean(files)
    wanted = {e["sha256"] for e in entries}
    missing = sorted(wanted - _blobs_present(workspace, wanted))
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise UserError(
            f"{len(missing)} file(s) are not uploaded to workspace {workspace.name!r}: "
            f"{', '.join(missing[:5])}{more}. Upload them first with "
            f"PUT /api/workspaces/{workspace.name}/blobs/<sha256> (POST .../snapshots/negotiate "
            "lists them), then create the snapshot again."
        )
    return _snapshot_save(workspace=workspace, user=user, entries=entries, git=_git_clean(git))


def _snapshot_save(*, workspace: Workspace, user, entries: list[dict], git: dict) -> Snapshot:
    digest = _manifest_digest(entries)
    for existing in Snapshot.objects.filter(workspace=workspace, digest=digest):
        if existing.git == git:
            return existing
    return Snapshot.objects.create(
        workspace=workspace,
        manifest=entries,
        digest=digest,
        file_count=len(entries),
        total_size=sum(e["size"] for e in entries),
        git=git,
        created_by=user,
    )


def _git_clean(git: Mapping | None) -> dict:
    if not git:
        return {}
    if not isinstance(git, Mapping):
        raise UserError(
            'git must be an object: {"repository_uri": ..., "branch": ..., "commit": ..., '
            '"dirty": ...}.'
        )
    cleaned = dict(git)
    if isinstance(cleaned.get("repository_uri"), str):
        cleaned["repository_uri"] = _uri_without_secret(cleaned["repository_uri"])
    if len(json.dumps(cleaned)) > MAX_GIT_JSON:
        raise UserError(f"git is over {_human(MAX_GIT_JSON)}; send only {', '.join(GIT_KEYS)}.")
    return cleaned


def _uri_without_secret(uri: str) -> str:
    """The remote URL without a password or token: snapshot readers must not see one."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    userinfo, host = parts.netloc.rsplit("@", 1)
    # Over http(s) the user name is often the token itself; over ssh it is just "git".
    netloc = host if parts.scheme in ("http", "https") else f"{userinfo.split(':')[0]}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def snapshot_get_for_user(*, user, workspace_name: str, snapshot_id: str, token=None) -> Snapshot:
    """The snapshot, when the user may read its workspace; NotFound otherwise."""
    workspace, _ = workspace_get_for_user(user=user, name=workspace_name, token=token)
    try:
        key = uuid.UUID(str(snapshot_id))
    except ValueError:
        key = None
    snapshot = Snapshot.objects.filter(workspace=workspace, pk=key).first() if key else None
    if snapshot is None:
        raise NotFound(
            f"No snapshot {snapshot_id!r} in workspace {workspace_name!r}. Check the id: it "
            "is returned when the snapshot is created and shown on its runs."
        )
    return snapshot


def snapshot_file_open(*, snapshot: Snapshot, path: str) -> tuple[File, dict]:
    """An open handle on one file of the snapshot, with its manifest entry.

    The path is cleaned first and then only looked up in the manifest, so no spelling of it
    can reach a file outside the snapshot.
    """
    clean = clean_relative_path(path, what="file path")
    entry = next((e for e in snapshot.manifest if e["path"] == clean), None)
    if entry is None:
        top = sorted({_top_level(e["path"]) for e in snapshot.manifest})
        listing = ", ".join(top[:30]) or "nothing (the snapshot is empty)"
        raise NotFound(
            f"{clean!r} is not in snapshot {snapshot.id}; files at its top level: {listing}."
        )
    return default_storage.open(blob_name(sha256=entry["sha256"]), "rb"), entry


def snapshot_zip_build(*, snapshot: Snapshot) -> BinaryIO:
    """The whole snapshot as a zip in an anonymous temporary file, positioned at its start."""
    return manifest_zip_build(manifest=snapshot.manifest, created_at=snapshot.created_at)


def manifest_zip_build(*, manifest: list[dict], created_at: datetime) -> BinaryIO:
    """The blobs of a manifest as a zip in an anonymous temporary file, at its start."""
    target = tempfile.TemporaryFile(dir=_scratch_root())  # noqa: SIM115 - the caller closes it
    stamp = created_at.timetuple()[:6]
    try:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry in manifest:
                info = zipfile.ZipInfo(entry["path"], date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (stat.S_IFREG | entry["mode"]) << 16
                info.file_size = entry["size"]  # lets zipfile choose zip64 for big files
                with (
                    default_storage.open(blob_name(sha256=entry["sha256"]), "rb") as blob,
                    archive.open(info, "w") as member,
                ):
                    shutil.copyfileobj(blob, member, CHUNK)
    except BaseException:
        target.close()
        raise
    target.seek(0)
    return target


def snapshot_materialize(*, snapshot: Snapshot, destination: Path) -> None:
    """Write every file of the snapshot under `destination`, with its mode.

    Bytes are copied, never linked, so a run cannot change the blob store; each copy is
    checked against its sha256, so a damaged store never silently becomes a run's code.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for entry in snapshot.manifest:
        target = confined(destination, entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            default_storage.open(blob_name(sha256=entry["sha256"]), "rb") as blob,
            target.open("wb") as out,
        ):
            sha256, size = _copy(blob, out)
        if (sha256, size) != (entry["sha256"], entry["size"]):
            raise BlobCorrupt(
                f"The stored bytes of {entry['path']!r} (blob {entry['sha256']}) do not match "
                "its hash; the file store is damaged. Upload the snapshot again."
            )
        target.chmod(entry["mode"])


# --- zips ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ZipEntry:
    info: zipfile.ZipInfo
    path: str
    mode: int

    @property
    def has_unix_mode(self) -> bool:
        return self.info.external_attr >> 16 != 0


@dataclass(frozen=True)
class _ZipPlan:
    files: list[_ZipEntry]
    ignored: list[str]
    git: list[_ZipEntry]


_REFUSED_KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}
_FROM_INSIDE = "zip the folder's contents from inside it: cd folder && zip -r ../code.zip ."


def snapshot_create_from_zip(
    *, workspace: Workspace, user, archive: BinaryIO
) -> tuple[Snapshot, int]:
    """A snapshot from one zip; returns it with the number of files the ignore rules left out.

    Every entry is checked before anything is stored, and one bad entry (outside the folder,
    a link, a device) refuses the whole zip. Sizes are checked as declared before extracting
    and counted while extracting, so a zip bomb stops at the limit.
    """
    with _scratch_dir() as scratch, _zip_open(archive, scratch) as opened:
        plan = _zip_plan(opened)
        tree = scratch / "tree"
        tree.mkdir()
        entries = _zip_extract(opened, plan, tree)
        git = _zip_git(opened, plan, tree)
        for entry in entries:
            _blob_put(sha256=entry["sha256"], path=tree / entry["path"], size=entry["size"])
        sizes = {e["sha256"]: e["size"] for e in entries}
        with transaction.atomic():
            Blob.objects.bulk_create(
                [Blob(workspace=workspace, sha256=s, size=n) for s, n in sizes.items()],
                ignore_conflicts=True,
            )
            snapshot = _snapshot_save(workspace=workspace, user=user, entries=entries, git=git)
    return snapshot, len(plan.ignored)


@contextmanager
def _zip_open(archive: BinaryIO, scratch: Path) -> Iterator[zipfile.ZipFile]:
    limit = ZIP_UPLOAD_FACTOR * settings.MLSTUDIO_SNAPSHOT_MAX_BYTES
    too_big = (
        f"The zip is over {_human(limit)} (twice MLSTUDIO_SNAPSHOT_MAX_BYTES, leaving room "
        "for .git and ignored files). Leave large data out of the zip, or raise that setting."
    )
    if getattr(archive, "seekable", lambda: False)():
        archive.seek(0, os.SEEK_END)
        if archive.tell() > limit:
            raise UserError(too_big)
        archive.seek(0)
        source: BinaryIO | Path = archive
    else:
        source = scratch / "upload.zip"
        with source.open("wb") as spooled:
            _copy(archive, spooled, limit=limit, too_big=too_big)
    try:
        opened = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise UserError(
            f"The upload is not a readable zip file ({exc}). Send a .zip made with "
            "`zip -r code.zip .` or your file manager's Compress command."
        ) from None
    with opened:
        yield opened


def _zip_plan(archive: zipfile.ZipFile) -> _ZipPlan:
    """Check every entry, split off .git, apply the ignore rules and the declared sizes."""
    candidates, git = [], []
    for info in archive.infolist():
        entry = _zip_entry(info)
        if entry is None:
            continue
        parts = entry.path.split("/")
        if parts[0] == ".git" and len(parts) > 1:
            git.append(entry)
        elif ".git" not in parts:
            candidates.append(entry)
    spec = _ignore_spec(archive, candidates)
    files = [e for e in candidates if spec is None or not spec.match_file(e.path)]
    ignored = [e.path for e in candidates if spec is not None and spec.match_file(e.path)]
    _tree_check([e.path for e in files])
    _limits_check([{"path": e.path, "size": e.info.file_size} for e in files])
    return _ZipPlan(files=files, ignored=ignored, git=git)


def _zip_entry(info: zipfile.ZipInfo) -> _ZipEntry | None:
    """The entry as a file to take, None for a folder; UserError for anything unsafe."""
    name = info.filename
    unix_mode = info.external_attr >> 16
    kind = stat.S_IFMT(unix_mode)
    if kind in _REFUSED_KINDS:
        _zip_refuse(
            name,
            f"it is {_REFUSED_KINDS[kind]}",
            "zip the files themselves (zip stores links only when given -y)",
        )
    if "\\" in name:
        _zip_refuse(name, "its name contains a backslash", "make the zip with `zip -r`")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        _zip_refuse(name, "its name is absolute", _FROM_INSIDE)
    if ".." in name.split("/"):
        _zip_refuse(name, "its name contains '..', which leads outside the folder", _FROM_INSIDE)
    if info.is_dir() or kind == stat.S_IFDIR:
        return None
    if info.flag_bits & 0x1:
        _zip_refuse(name, "it is encrypted", "make the zip without a password")
    try:
        path = clean_relative_path(name, what="zip entry")
    except UserError as exc:
        raise UserError(f"{exc.message} Nothing was stored; make the zip without it.") from None
    return _ZipEntry(info=info, path=path, mode=unix_mode & 0o777 or DEFAULT_MODE)


def _zip_refuse(name: str, problem: str, way_out: str) -> None:
    raise UserError(f"The zip entry {name!r} is refused: {problem}. Nothing was stored; {way_out}.")


@contextmanager
def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[BinaryIO]:
    try:
        with archive.open(info) as member:
            yield member
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise UserError(
            f"The zip entry {info.filename!r} cannot be read ({exc}). Nothing was stored; "
            "make the zip again."
        ) from None


def _zip_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo | None, *, limit: int) -> str:
    """A small text member, or "" when it is absent or larger than `limit`."""
    if info is None or info.file_size > limit:
        return ""
    with _zip_member(archive, info) as member:
        return member.read(limit).decode("utf-8", "replace")


def _ignore_spec(
    archive: zipfile.ZipFile, candidates: list[_ZipEntry]
) -> pathspec.GitIgnoreSpec | None:
    """Rules from a top-level .amlignore, else a top-level .gitignore; None without either."""
    by_path = {e.path: e for e in candidates}
    rules = by_path.get(".amlignore") or by_path.get(".gitignore")
    if rules is None:
        return None
    if rules.info.file_size > MAX_IGNORE_FILE:
        raise UserError(
            f"{rules.path} is over {_human(MAX_IGNORE_FILE)}; keep it to patterns, one a line."
        )
    text = _zip_read(archive, rules.info, limit=MAX_IGNORE_FILE)
    return pathspec.GitIgnoreSpec.from_lines(text.splitlines())


def _zip_extract(archive: zipfile.ZipFile, plan: _ZipPlan, tree: Path) -> list[dict]:
    """Extract the kept files into `tree`, hashing them; their manifest entries, sorted."""
    entries = []
    for entry in plan.files:
        target = _tree_file(tree, entry.path)
        too_big = (
            f"The zip entry {entry.info.filename!r} holds more bytes than it declares. "
            "Nothing was stored; make the zip again."
        )
        with _zip_member(archive, entry.info) as member, target.open("xb") as out:
            sha256, size = _copy(member, out, limit=entry.info.file_size, too_big=too_big)
        # Owner read/write keeps the copy movable; the exec bit keeps `git status` honest.
        target.chmod(entry.mode | 0o600)
        entries.append({"path": entry.path, "size": size, "sha256": sha256, "mode": entry.mode})
    return sorted(entries, key=lambda e: e["path"])


def _tree_file(tree: Path, path: str) -> Path:
    target = confined(tree, path, what="zip entry")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


# --- git facts from a zip ------------------------------------------------------------------


def _zip_git(archive: zipfile.ZipFile, plan: _ZipPlan, tree: Path) -> dict:
    """repository_uri, branch, commit and dirty from a top-level .git folder; {} without."""
    if not plan.git:
        return {}
    files = {e.path.removeprefix(".git/"): e.info for e in plan.git}
    head = _zip_read(archive, files.get("HEAD"), limit=MAX_GIT_TEXT).strip()
    branch = commit = None
    if head.startswith("ref:"):
        ref = head.removeprefix("ref:").strip()
        branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
        commit = _zip_read(archive, files.get(ref), limit=MAX_GIT_TEXT).strip() or _packed_ref(
            _zip_read(archive, files.get("packed-refs"), limit=MAX_GIT_TEXT), ref
        )
    elif COMMIT.fullmatch(head):
        commit = head
    config = _git_config(_zip_read(archive, files.get("config"), limit=MAX_GIT_TEXT))
    uri = config.get(("remote", "origin", "url"))
    return {
        "repository_uri": _uri_without_secret(uri) if uri else None,
        "branch": branch,
        "commit": commit if commit and COMMIT.fullmatch(commit) else None,
        "dirty": _git_dirty(archive, plan, tree, config),
    }


def _packed_ref(text: str, ref: str) -> str | None:
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] == ref and not line.startswith(("#", "^")):
            return fields[0]
    return None


_SECTION = re.compile(r'\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')


def _git_config(text: str) -> dict[tuple[str, str, str], str]:
    """.git/config as {(section, subsection, key): value}; enough for remotes and core."""
    values: dict[tuple[str, str, str], str] = {}
    section = subsection = ""
    for raw in text.splitlines():
        line = raw.strip()
        if match := _SECTION.match(line):
            section, subsection = match[1].lower(), match[2] or ""
            if "." in section and match[2] is None:  # the old [remote.origin] spelling
                section, _, subsection = section.partition(".")
            line = line[match.end() :].strip()
        if not line or line[0] in "#;":
            continue
        key, _, value = line.partition("=")
        values[(section, subsection, key.strip().lower())] = _config_value(value)
    return values


def _config_value(raw: str) -> str:
    out, quoted = [], False
    for char in raw.strip():
        if char == '"':
            quoted = not quoted
        elif char in "#;" and not quoted:
            break
        else:
            out.append(char)
    return "".join(out).strip()


# Only what `git status` needs to compare the files with the commit. Hooks, config includes,
# config.worktree, commondir and alternates stay behind: the uploader wrote them.
_GIT_FILES = {"HEAD", "index", "packed-refs", "info/exclude", "info/attributes"}
_GIT_FOLDERS = ("refs/", "objects/")
_GIT_NEVER = {"objects/info/alternates", "objects/info/http-alternates"}
_GIT_SAFE_CORE = {"repositoryformatversion", "filemode", "autocrlf", "eol", "ignorecase"}
_GIT_VALUE = re.compile(r"[A-Za-z0-9._-]+")
_GIT_SAFE_FLAGS = (
    *("-c", "safe.directory=*"),
    *("-c", "core.fsmonitor=false"),
    *("-c", f"core.hooksPath={os.devnull}"),
)


def _git_dirty(
    archive: zipfile.ZipFile, plan: _ZipPlan, tree: Path, config: Mapping
) -> bool | None:
    """Whether the files differ from the commit, by `git status`; None when it can't tell.

    The zip's .git is untrusted, so git runs on its objects, refs and index beside a config
    written here: no fsmonitor, filter, hook or include from the uploader can run anything.
    Tracked files left out by the ignore rules are not counted as changes.
    """
    git = shutil.which("git")
    wanted = [e for e in plan.git if _git_file_needed(e.path.removeprefix(".git/"))]
    if git is None or sum(e.info.file_size for e in wanted) > settings.MLSTUDIO_SNAPSHOT_MAX_BYTES:
        return None
    git_dir = tree / ".git"
    try:
        for entry in wanted:
            target = _tree_file(tree, entry.path)
            with _zip_member(archive, entry.info) as member, target.open("wb") as out:
                _copy(member, out, limit=entry.info.file_size)
        for folder in ("objects", "refs"):
            (git_dir / folder).mkdir(parents=True, exist_ok=True)
        (git_dir / "config").write_text(_git_config_safe(config, plan))
        result = subprocess.run(
            [git, *_GIT_SAFE_FLAGS, "status", "--porcelain=v1", "-z", "--ignore-submodules=all"],
            cwd=tree,
            env=_git_env(tree, git_dir),
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, UserError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    ignored = set(plan.ignored)
    return any(path not in ignored for path in _porcelain_paths(result.stdout))


def _git_file_needed(relative: str) -> bool:
    if relative in _GIT_NEVER:
        return False
    return relative in _GIT_FILES or relative.startswith(_GIT_FOLDERS)


def _git_config_safe(config: Mapping, plan: _ZipPlan) -> str:
    core = {
        key: value
        for (section, subsection, key), value in config.items()
        if section == "core"
        and not subsection
        and key in _GIT_SAFE_CORE
        and _GIT_VALUE.fullmatch(value)
    }
    core["bare"] = "false"
    if not all(e.has_unix_mode for e in plan.files):
        core["filemode"] = "false"  # a zip without unix modes says nothing about exec bits
    lines = ["[core]", *(f"\t{key} = {value}" for key, value in core.items())]
    object_format = config.get(("extensions", "", "objectformat"), "")
    if _GIT_VALUE.fullmatch(object_format):
        lines += ["[extensions]", f"\tobjectformat = {object_format}"]
    return "\n".join(lines) + "\n"


def _git_env(tree: Path, git_dir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tree.parent),
        # Explicit, so git never walks up into a repository around the data folder.
        "GIT_DIR": str(git_dir),
        "GIT_WORK_TREE": str(tree),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }


def _porcelain_paths(output: bytes) -> Iterator[str]:
    """Paths from `git status --porcelain=v1 -z`; a rename's source record is skipped."""
    records = iter(output.split(b"\0"))
    for record in records:
        if len(record) < 4:
            continue
        if record[0:1] in (b"R", b"C") or record[1:2] in (b"R", b"C"):
            next(records, None)
        yield record[3:].decode("utf-8", "surrogateescape")
