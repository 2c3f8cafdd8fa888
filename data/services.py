"""Datastores: the default `workspaceblobstore` (the studio's blob store, a path -> sha256 map)
and local folders read in place. Every write checks everything first, so a refused upload
leaves no row behind."""

from __future__ import annotations

import difflib
import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from data.models import DEFAULT_DATASTORE, DatasetVersion, Datastore, DatastoreFile
from mlstudio.errors import Conflict, Forbidden, NotFound, UserError
from mlstudio.names import asset_name_check
from mlstudio.paths import clean_relative_path, confined, regular_files
from runs import blobs, snapshots
from workspaces.models import Workspace


def datastore_default(*, workspace: Workspace) -> Datastore:
    """The workspace's `workspaceblobstore`, made on first use."""
    datastore, _ = Datastore.objects.get_or_create(
        workspace=workspace, name=DEFAULT_DATASTORE, defaults={"kind": Datastore.Kind.BLOB}
    )
    return datastore


def datastore_get(*, workspace: Workspace, name: str) -> Datastore:
    if name == DEFAULT_DATASTORE:
        return datastore_default(workspace=workspace)
    found = Datastore.objects.filter(workspace=workspace, name=name).first()
    if found is None:
        names = [DEFAULT_DATASTORE, *workspace.datastores.exclude(name=DEFAULT_DATASTORE)
                 .values_list("name", flat=True)]  # fmt: skip
        raise NotFound(
            f"No datastore {name!r} in workspace {workspace.name!r}; it has: {', '.join(names)}."
        )
    return found


def datastores_list(*, workspace: Workspace) -> list[Datastore]:
    datastore_default(workspace=workspace)
    return list(workspace.datastores.all())


def _local_root_check(path: str) -> Path:
    roots = [Path(os.path.realpath(r)) for r in settings.MLSTUDIO_LOCAL_DATASTORE_ROOTS]
    if not os.path.isabs(path):
        raise UserError(
            f"The local datastore path {path!r} is not absolute; give the folder's full path "
            "as every worker node sees it, e.g. /mnt/nfs/datasets."
        )
    real = Path(os.path.realpath(path))
    if not any(real == root or root in real.parents for root in roots):
        allowed = ", ".join(map(str, roots)) or "none"
        raise Forbidden(
            f"{path!r} is not under a folder the studio allows for local datastores ({allowed}). "
            "The studio's operator lists them in MLSTUDIO_LOCAL_DATASTORE_ROOTS "
            "(colon-separated)."
        )
    if not real.is_dir():
        raise UserError(f"{path!r} is not a folder the studio can see; mount it first.")
    return real


def datastore_register_local(*, workspace: Workspace, user, name: str, path: str) -> Datastore:
    """A folder every worker node sees (an NFS mount), read in place. Owners only: it opens a
    folder of the studio's host to the workspace."""
    asset_name_check(name, what="Datastore", example="shared_nfs")
    if name == DEFAULT_DATASTORE:
        raise Conflict(f"{DEFAULT_DATASTORE!r} is the studio's own datastore; pick another name.")
    real = _local_root_check(path)
    existing = Datastore.objects.filter(workspace=workspace, name=name).first()
    if existing is not None:
        if existing.kind == Datastore.Kind.LOCAL and existing.local_path == str(real):
            return existing
        raise Conflict(
            f"Datastore {name!r} already exists ({existing.kind}, {existing.local_path or '-'}); "
            "unregister it first or pick another name."
        )
    return Datastore.objects.create(
        workspace=workspace, name=name, kind=Datastore.Kind.LOCAL, local_path=str(real),
        created_by=user,
    )  # fmt: skip


def datastore_unregister(*, datastore: Datastore) -> None:
    if datastore.name == DEFAULT_DATASTORE:
        raise Conflict(f"{DEFAULT_DATASTORE!r} is the studio's own datastore; it stays.")
    datastore.delete()


# --- files of a datastore -------------------------------------------------------------------


def target_path_clean(target_path: str | None) -> str:
    """'' for the datastore's root, else a clean relative folder (no '..', not absolute)."""
    if target_path in (None, "", ".", "/"):
        return ""
    return clean_relative_path(str(target_path).rstrip("/"), what="target_path")


def _writable(datastore: Datastore) -> None:
    if datastore.kind == Datastore.Kind.LOCAL:
        raise UserError(
            f"{datastore.name!r} is a local datastore, read in place: copy files into "
            f"{datastore.local_path} on the host instead, or upload to {DEFAULT_DATASTORE!r}."
        )


def datastore_files_commit(
    *, datastore: Datastore, files: list[dict], target_path: str | None, overwrite: bool
) -> dict:
    """Put uploaded blobs at their paths under `target_path`. A path that exists keeps its
    file unless `overwrite` (v1's upload). Every blob must be uploaded first."""
    _writable(datastore)
    prefix = target_path_clean(target_path)
    entries = snapshots.manifest_entries_clean(files)
    wanted = {e["sha256"] for e in entries}
    missing = sorted(wanted - blobs.blobs_present(datastore.workspace, wanted))
    if missing:
        raise UserError(
            f"{len(missing)} file(s) were not uploaded (first: {missing[0]}); send them to "
            "blob-batches first. Datastore.upload does this for you."
        )
    for entry in entries:
        entry["path"] = f"{prefix}/{entry['path']}" if prefix else entry["path"]
    paths = [e["path"] for e in entries]
    existing = {}
    for start in range(0, len(paths), 500):  # stays under every database's parameter limit
        for row in DatastoreFile.objects.filter(
            datastore=datastore, path__in=paths[start : start + 500]
        ):
            existing[row.path] = row
    new, changed, skipped = [], [], 0
    for entry in entries:
        old = existing.get(entry["path"])
        if old is None:
            new.append(DatastoreFile(datastore=datastore, **entry))
        elif not overwrite or (old.sha256, old.mode) == (entry["sha256"], entry["mode"]):
            skipped += 1
        else:
            old.sha256, old.size, old.mode = entry["sha256"], entry["size"], entry["mode"]
            changed.append(old)
    with transaction.atomic():  # one statement per 500 rows, not one per file
        DatastoreFile.objects.bulk_create(new, batch_size=500)
        DatastoreFile.objects.bulk_update(changed, ["sha256", "size", "mode"], batch_size=500)
    written = len(new) + len(changed)
    return {"written": written, "skipped": skipped, "target_path": prefix}


def _local_files(datastore: Datastore, prefix: str) -> list[dict]:
    root = Path(datastore.local_path)
    start = confined(root, prefix) if prefix else root
    if not root.is_dir():
        raise UserError(
            f"The local datastore {datastore.name!r} folder {datastore.local_path} is not "
            "visible on this host; mount it here."
        )
    found = []
    for path in regular_files(start):
        found.append(
            {"path": path.relative_to(root).as_posix(), "size": path.stat().st_size,
             "sha256": None, "mode": path.stat().st_mode & 0o777}
        )  # fmt: skip
    return found


def datastore_files(*, datastore: Datastore, prefix: str = "") -> list[dict]:
    """Every file of the datastore whose path starts with `prefix`, sorted by path."""
    prefix = prefix.strip("/")
    if datastore.kind == Datastore.Kind.LOCAL:
        return _local_files(datastore, clean_relative_path(prefix) if prefix else "")
    rows = DatastoreFile.objects.filter(datastore=datastore)
    if prefix:
        rows = rows.filter(path__startswith=prefix)
    return [
        {"path": p, "size": s, "sha256": h, "mode": m}
        for p, s, h, m in rows.order_by("path").values_list("path", "size", "sha256", "mode")
    ]


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def datastore_file_open(*, datastore: Datastore, path: str):
    """An open binary handle on one file of the datastore, and its size."""
    clean = clean_relative_path(path, what="file path")
    if datastore.kind == Datastore.Kind.LOCAL:
        target = confined(Path(datastore.local_path), clean)
        if not target.is_file():
            raise NotFound(_no_such_path(datastore, clean))
        return target.open("rb"), target.stat().st_size
    row = DatastoreFile.objects.filter(datastore=datastore, path=clean).first()
    if row is None:
        raise NotFound(_no_such_path(datastore, clean))
    return default_storage.open(blobs.blob_name(sha256=row.sha256), "rb"), row.size


def closest_paths(datastore: Datastore, wanted: str, *, count: int = 5) -> list[str]:
    """The datastore's file and folder paths nearest to `wanted`, for error messages."""
    paths = [f["path"] for f in datastore_files(datastore=datastore)[:20000]]
    folders = {p.rsplit("/", 1)[0] + "/" for p in paths if "/" in p}
    candidates = sorted(set(paths) | folders)
    near = difflib.get_close_matches(wanted, candidates, n=count, cutoff=0.3)
    return near or candidates[:count]


def _no_such_path(datastore: Datastore, wanted: str) -> str:
    near = closest_paths(datastore, wanted)
    listing = ", ".join(near) if near else "nothing (the datastore is empty)"
    return f"No file matches {wanted!r} in datastore {datastore.name!r}. Closest paths: {listing}."


def no_match_error(datastore: Datastore, wanted: str) -> UserError:
    return NotFound(_no_such_path(datastore, wanted))


def blobs_used_by_datasets(sender, workspace_id: int, candidates: frozenset, **kwargs) -> set:
    """Receiver of runs.signals.blobs_in_use: blobs a dataset version or a datastore path
    still uses are kept."""
    used = set(
        DatastoreFile.objects.filter(
            datastore__workspace_id=workspace_id, sha256__in=sorted(candidates)[:50000]
        ).values_list("sha256", flat=True)
    )
    manifests = DatasetVersion.objects.filter(dataset__workspace_id=workspace_id).values_list(
        "manifest", flat=True
    )
    for manifest in manifests.iterator():
        used.update(e["sha256"] for e in manifest if e.get("sha256") in candidates)
    return used
