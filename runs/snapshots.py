"""Snapshots: the source folder a run is submitted with, kept as content-addressed blobs.

Two ways in, one set of rules. The SDK asks which blobs the workspace lacks
(snapshot_negotiate), uploads them one by one (blob_store) and then names the files
(snapshot_create); a browser or curl sends one zip (runs.snapshot_zips). Either way the
whole manifest is validated, limits included, before anything is stored. A workspace can only
use blobs it uploaded itself, so knowing a hash never opens another workspace's file.

Blob bytes live once per sha256 in `default_storage` under blobs/<aa>/<bb>/<sha256>; a Blob
row is written only after its bytes are in place.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import tempfile
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from mlstudio.errors import NotFound, UserError
from mlstudio.paths import clean_relative_path, confined
from mlstudio.sdk._git import without_credentials
from runs import store
from runs.blobs import (
    SHA256,
    BlobCorrupt,
    blob_name,
    blobs_present,
    copy_hashed,
    human_size,
    scratch_root,
)
from runs.models import Snapshot
from workspaces.models import Workspace
from workspaces.selectors import workspace_get_for_user

DEFAULT_MODE = 0o644
GIT_KEYS = ("repository_uri", "branch", "commit", "dirty")
MAX_GIT_JSON = 4096


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
    _kind_check(path, mode)
    return {"path": path, "size": size, "sha256": sha256, "mode": mode & 0o777}


def _kind_check(path: str, mode: int) -> None:
    """A snapshot holds regular files only: a mode that says link, folder or device is refused
    (the bits are never masked away into a regular file the sender did not mean)."""
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise UserError(
            f"{path!r} is a symbolic link (mode {mode:#o}); a snapshot holds files only. Send "
            "the file it points to under its own path, or leave it out."
        )
    if kind not in (0, stat.S_IFREG):
        raise UserError(
            f"{path!r} is not a regular file (mode {mode:#o}); send only the permission bits "
            "of regular files, such as 420 (0o644)."
        )


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
        names = ", ".join(f"{e['path']} ({human_size(e['size'])})" for e in largest)
        sizes = Counter()
        for e in entries:
            sizes[_ignore_line(e["path"])] += e["size"]
        lines = _enough(sizes, total - max_bytes)
        raise UserError(
            f"The snapshot is {human_size(total)}, over the limit of {human_size(max_bytes)}. "
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
    return sorted(wanted - blobs_present(workspace, wanted))


def snapshot_create(
    *, workspace: Workspace, user, files: Iterable[object], git: Mapping | None = None
) -> Snapshot:
    """A snapshot of blobs this workspace has uploaded; an identical one is returned as is."""
    entries = _manifest_clean(files)
    wanted = {e["sha256"] for e in entries}
    missing = sorted(wanted - blobs_present(workspace, wanted))
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
        cleaned["repository_uri"] = without_credentials(cleaned["repository_uri"])
    if len(json.dumps(cleaned)) > MAX_GIT_JSON:
        raise UserError(f"git is over {human_size(MAX_GIT_JSON)}; send only {', '.join(GIT_KEYS)}.")
    return cleaned


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
    target = tempfile.TemporaryFile(dir=scratch_root())  # noqa: SIM115 - the caller closes it
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
                    shutil.copyfileobj(blob, member, store.COPY_CHUNK)
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
            sha256, size = copy_hashed(blob, out)
        if (sha256, size) != (entry["sha256"], entry["size"]):
            raise BlobCorrupt(
                f"The stored bytes of {entry['path']!r} (blob {entry['sha256']}) do not match "
                "its hash; the file store is damaged. Upload the snapshot again."
            )
        target.chmod(entry["mode"])
