"""Blobs: file bodies kept once per sha256 in `default_storage` under blobs/<aa>/<bb>/<sha256>,
for snapshots and registered models. A Blob row (one per workspace that uploaded the body) is
written only after its bytes are in place, and a body is moved into place only once its hash
matches, so the store never holds a partial or mislabelled blob."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from mlstudio.errors import UserError
from mlstudio.sdk._snapshot import human_size as _sdk_human_size
from runs import quotas, store
from runs.models import Blob, Snapshot
from runs.signals import blobs_in_use
from workspaces.models import Workspace

SHA256 = re.compile(r"[0-9a-f]{64}")
SCRATCH = "tmp"


class BlobCorrupt(Exception):
    """A blob's stored bytes no longer match its sha256: the file store was damaged."""


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
    too_big: str | UserError = "",
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
        f"The file is over {human_size(limit)}, the most a whole snapshot may hold. Add it to "
        ".amlignore, or raise the limit with the MLSTUDIO_SNAPSHOT_MAX_BYTES setting."
    )
    if declared_size is not None and declared_size > limit:
        raise UserError(too_big)
    known = Blob.objects.filter(workspace=workspace, sha256=sha256).first()
    room = None if known else quotas.workspace_room(workspace=workspace)
    if room is not None and room < limit:
        if declared_size is not None and declared_size > room:
            raise quotas.over_quota(workspace=workspace, room=room)
        limit, too_big = room, quotas.over_quota(workspace=workspace, room=room)
    with temp_file() as temp:
        actual, size = copy_hashed(body, temp, limit=limit, too_big=too_big)
        temp.flush()
        if actual != sha256:
            raise UserError(
                f"Hash mismatch: the body's sha256 is {actual}, not {sha256} as the URL says; "
                "nothing was stored. Hash the bytes you send and upload them to that URL."
            )
        blob_put(sha256=sha256, path=Path(temp.name), size=size)
    if known:
        return known, False
    quotas.workspace_stored(workspace=workspace, size=size)
    return Blob.objects.get_or_create(workspace=workspace, sha256=sha256, defaults={"size": size})


def blob_link(*, workspace: Workspace, path: Path) -> Blob:
    """Make the file at `path` a blob of the workspace without a second copy of its bytes.

    The sha256 is the one the store recorded when it wrote the file (store.file_digest), so a
    file is not read again; then it is hard linked into the store when the store is a folder
    on the same file system, so the blob and the file share one inode; elsewhere it is
    copied. The caller vouches that nobody rewrites the file in place afterwards (run files
    are only ever replaced by a rename, see store.replace_file), so the blob keeps the bytes
    it was hashed with even when the file is later replaced or deleted.
    """
    sha256, size = store.file_digest(path)
    if not _blob_intact(blob_name(sha256=sha256), path=path, size=size):
        _blob_put_linked(sha256=sha256, path=path, size=size)
    blob, _ = Blob.objects.get_or_create(
        workspace=workspace, sha256=sha256, defaults={"size": size}
    )
    return blob


def _blob_intact(name: str, *, path: Path, size: int) -> bool:
    """Whether the store holds the blob `name` whole: the same inode as `path` (linked
    before), or a file of its size."""
    try:
        if os.path.samefile(default_storage.path(name), path):
            return True
    except NotImplementedError:  # a store without local paths
        pass
    except FileNotFoundError:
        return False
    return default_storage.exists(name) and default_storage.size(name) == size


def _blob_put_linked(*, sha256: str, path: Path, size: int) -> None:
    scratch = scratch_root()
    link = Path(scratch or tempfile.gettempdir()) / f"link-{uuid.uuid4().hex}"
    try:
        os.link(path, link)
    except OSError:  # another file system, or one without hard links: copy instead
        with temp_file() as temp, path.open("rb") as source:
            actual, copied = copy_hashed(source, temp)
            temp.flush()
            if (actual, copied) != (sha256, size):
                raise UserError(
                    f"{path.name} changed while it was being registered; try again."
                ) from None
            blob_put(sha256=sha256, path=Path(temp.name), size=size)
        return
    try:
        blob_put(sha256=sha256, path=link, size=size)
    finally:
        link.unlink(missing_ok=True)


class _FinishedFile(File):
    # FileSystemStorage moves a file that has a path with one rename instead of copying it.
    def temporary_file_path(self) -> str:
        return self.file.name


def blob_put(*, sha256: str, path: Path, size: int) -> None:
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


def scratch_root() -> str | None:
    """A temp folder on the blob store's own file system, so a finished blob moves into place
    with an atomic rename; None (the system's temp folder) for stores without local paths."""
    try:
        root = Path(default_storage.path(SCRATCH))
    except NotImplementedError:
        return None
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


@contextmanager
def temp_file() -> Iterator[BinaryIO]:
    temp = tempfile.NamedTemporaryFile(dir=scratch_root(), prefix="blob-", delete=False)  # noqa: SIM115
    try:
        yield temp
    finally:
        temp.close()
        Path(temp.name).unlink(missing_ok=True)


@contextmanager
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(
        dir=scratch_root(), prefix="zip-", ignore_cleanup_errors=True
    ) as folder:
        yield Path(folder)


def copy_hashed(
    source: BinaryIO,
    target: BinaryIO,
    *,
    limit: int | None = None,
    too_big: str | UserError = "",
) -> tuple[str, int]:
    """Copy in chunks, hashing; return (sha256, size). Refuse with `too_big` past `limit`."""
    refusal = too_big if isinstance(too_big, UserError) else UserError(too_big)
    return store.copy_hashed(source, target, limit=limit, too_big=lambda _size: refusal)


def blobs_present(workspace: Workspace, shas: set[str]) -> set[str]:
    ordered = sorted(shas)
    present: set[str] = set()
    for start in range(0, len(ordered), 500):  # stays under every database's parameter limit
        present.update(
            Blob.objects.filter(
                workspace=workspace, sha256__in=ordered[start : start + 500]
            ).values_list("sha256", flat=True)
        )
    return present


def human_size(size: int) -> str:
    """The SDK's sizes, small ones spelt out as the studio's messages have them."""
    return _sdk_human_size(size, byte_unit="bytes")


def blobs_purge(*, workspace_id: int, candidates: set[str]) -> None:
    """Forget the workspace's blobs among `candidates` that none of its snapshots uses and no
    receiver of signals.blobs_in_use claims; delete the bytes once no workspace has them (the
    store keeps one copy per sha256)."""
    manifests = Snapshot.objects.filter(workspace_id=workspace_id).values_list(
        "manifest", flat=True
    )
    for manifest in manifests.iterator():
        candidates -= {entry["sha256"] for entry in manifest}
    for _, used in blobs_in_use.send(
        sender=Blob, workspace_id=workspace_id, candidates=frozenset(candidates)
    ):
        candidates -= set(used)
    ordered = sorted(candidates)
    for start in range(0, len(ordered), 500):  # stays under every database's parameter limit
        chunk = ordered[start : start + 500]
        Blob.objects.filter(workspace_id=workspace_id, sha256__in=chunk).delete()
        kept = set(Blob.objects.filter(sha256__in=chunk).values_list("sha256", flat=True))
        for sha256 in set(chunk) - kept:
            default_storage.delete(blob_name(sha256=sha256))
