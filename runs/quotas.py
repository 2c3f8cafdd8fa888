"""Bounds on the files users send: one run file's size (MLSTUDIO_RUN_FILE_MAX_BYTES) and a
workspace's storage (MLSTUDIO_WORKSPACE_QUOTA_BYTES), each refused with a 413 that states
the limit."""

from __future__ import annotations

from django.conf import settings

from mlstudio.errors import TooLarge
from runs import store
from runs.models import Run


def workspace_storage_used(*, workspace) -> int:
    """Bytes the workspace's runs hold in the file store (logs, outputs, uploads)."""
    runs = Run.objects.filter(experiment__workspace=workspace).values_list("pk", flat=True)
    return sum(store.folder_size(store.run_dir(pk)) for pk in runs.iterator())


def run_file_upload(*, run: Run, name: str, source, declared: int | None) -> int:
    """Store one uploaded run file within both bounds; nothing is kept when it is over."""
    workspace = run.experiment.workspace
    room = settings.MLSTUDIO_WORKSPACE_QUOTA_BYTES - workspace_storage_used(workspace=workspace)
    limit = min(settings.MLSTUDIO_RUN_FILE_MAX_BYTES, max(room, 0))

    def too_big(size: int) -> TooLarge:
        if size > settings.MLSTUDIO_RUN_FILE_MAX_BYTES:
            return TooLarge(
                f"{name!r} is over the limit of {settings.MLSTUDIO_RUN_FILE_MAX_BYTES} bytes for "
                "one uploaded run file (MLSTUDIO_RUN_FILE_MAX_BYTES)."
            )
        return TooLarge(
            f"Workspace {workspace.name!r} would go over its storage quota of "
            f"{settings.MLSTUDIO_WORKSPACE_QUOTA_BYTES} bytes (MLSTUDIO_WORKSPACE_QUOTA_BYTES); "
            f"{max(room, 0)} bytes are left: delete runs or experiments to make room."
        )

    if declared is not None and declared > limit:
        raise too_big(declared)
    return store.write_file(run.pk, name, source, limit=limit, too_big=too_big)
