"""Bounds on the files users send: one run file's size (MLSTUDIO_RUN_FILE_MAX_BYTES) and a
workspace's storage (MLSTUDIO_WORKSPACE_QUOTA_BYTES: run files and uploaded blobs), each
refused with a 413 that states the limit."""

from __future__ import annotations

import time

from django.conf import settings
from django.db.models import Sum

from mlstudio.errors import TooLarge
from runs import store
from runs.models import Blob, Run


def workspace_storage_used(*, workspace) -> int:
    """Bytes the workspace holds: its runs' files (logs, outputs, uploads) and the blobs it
    uploaded (snapshots, datastore files, registered models)."""
    runs = Run.objects.filter(experiment__workspace=workspace).values_list("pk", flat=True)
    in_runs = sum(store.folder_size(store.run_dir(pk)) for pk in runs.iterator())
    in_blobs = Blob.objects.filter(workspace=workspace).aggregate(total=Sum("size"))["total"]
    return in_runs + (in_blobs or 0)


# Summing a workspace's folders is a walk of every run it has: a burst of uploads (a snapshot
# sends one request a file) reads it once per RECOUNT_SECONDS in each process, adding what it
# stores in between.
RECOUNT_SECONDS = 5.0
_counted: dict[int, tuple[float, int]] = {}


def workspace_room(*, workspace) -> int:
    """Bytes the workspace may still store under MLSTUDIO_WORKSPACE_QUOTA_BYTES."""
    at, used = _counted.get(workspace.pk, (0.0, 0))
    if time.monotonic() - at > RECOUNT_SECONDS:
        used = workspace_storage_used(workspace=workspace)
        _counted[workspace.pk] = (time.monotonic(), used)
    return max(settings.MLSTUDIO_WORKSPACE_QUOTA_BYTES - used, 0)


def workspace_stored(*, workspace, size: int) -> None:
    """Count `size` more bytes stored until the next recount."""
    at, used = _counted.get(workspace.pk, (0.0, 0))
    _counted[workspace.pk] = (at, used + size)


def over_quota(*, workspace, room: int) -> TooLarge:
    return TooLarge(
        f"Workspace {workspace.name!r} would go over its storage quota of "
        f"{settings.MLSTUDIO_WORKSPACE_QUOTA_BYTES} bytes (MLSTUDIO_WORKSPACE_QUOTA_BYTES); "
        f"{room} bytes are left: delete runs or experiments to make room."
    )


def upload_bounded(*, workspace, name: str, declared: int | None, write) -> int:
    """Store one uploaded file within both bounds: `write(limit, too_big)` writes it and
    returns its size, keeping nothing when it raises too_big past `limit` bytes."""
    room = workspace_room(workspace=workspace)
    limit = min(settings.MLSTUDIO_RUN_FILE_MAX_BYTES, room)

    def too_big(size: int) -> TooLarge:
        if size > settings.MLSTUDIO_RUN_FILE_MAX_BYTES:
            return TooLarge(
                f"{name!r} is over the limit of {settings.MLSTUDIO_RUN_FILE_MAX_BYTES} bytes for "
                "one uploaded run file (MLSTUDIO_RUN_FILE_MAX_BYTES)."
            )
        return over_quota(workspace=workspace, room=room)

    if declared is not None and declared > limit:
        raise too_big(declared)
    size = write(limit, too_big)
    workspace_stored(workspace=workspace, size=size)
    return size


def run_file_upload(*, run: Run, name: str, source, declared: int | None) -> int:
    """Store one uploaded run file within both bounds; nothing is kept when it is over."""
    return upload_bounded(
        workspace=run.experiment.workspace, name=name, declared=declared,
        write=lambda limit, too_big: store.write_file(run.pk, name, source, limit=limit,
                                                      too_big=too_big),
    )  # fmt: skip
