"""Deleting an archived experiment: its rows at once, then a task purges what its runs left in
the file store (runs.blobs.blobs_purge takes the blobs nothing uses any more)."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from mlstudio.errors import Conflict, Forbidden, NotFound
from runs import queueing, store
from runs.blobs import blobs_purge
from runs.models import ACTIVE_STATUSES, Experiment, Snapshot
from workspaces.models import Role
from workspaces.selectors import workspace_get_for_user


def experiment_delete(*, experiment: Experiment, actor) -> None:
    """Delete an archived experiment with its runs and their metrics, at once: its name is free
    and its runs answer 404 when this returns. A task then purges what they left in the file
    store (experiment_purge). Only a workspace owner may; an active experiment, or one with
    runs that have not ended, is refused and nothing changes."""
    _, membership = workspace_get_for_user(user=actor, name=experiment.workspace.name)
    if not membership.allows(Role.OWNER):
        raise Forbidden(
            f"Only an owner of workspace {experiment.workspace.name!r} can delete an experiment; "
            f"your role is {membership.role}. Ask an owner to delete it, or to make you one."
        )
    with transaction.atomic():
        # Locked, so a concurrent reactivate or second delete waits and then sees this one.
        locked = Experiment.objects.select_for_update().filter(pk=experiment.pk).first()
        if locked is None:
            raise NotFound(f"Experiment {experiment.name!r} was already deleted.")
        _refuse_deleting(locked)
        runs = list(locked.runs.values_list("pk", "snapshot_id"))
        locked.delete()
        run_ids = [run_id for run_id, _ in runs]
        snapshot_ids = sorted({str(s) for _, s in runs if s is not None})
        transaction.on_commit(
            lambda: queueing.send_experiment_purge(run_ids=run_ids, snapshot_ids=snapshot_ids)
        )


def _refuse_deleting(experiment: Experiment) -> None:
    if not experiment.is_archived:
        raise Conflict(
            f"Experiment {experiment.name!r} is active; archive it first (experiment.archive() "
            "or the Archive button), then delete it."
        )
    unfinished = list(
        experiment.runs.filter(status__in=ACTIVE_STATUSES)
        .order_by("number")
        .values_list("pk", "status")
    )
    if unfinished:
        listed = ", ".join(f"{run_id} ({status})" for run_id, status in unfinished[:5])
        more = f" and {len(unfinished) - 5} more" if len(unfinished) > 5 else ""
        raise Conflict(
            f"Experiment {experiment.name!r} has {len(unfinished)} run(s) that have not ended: "
            f"{listed}{more}. Cancel them first (run.cancel() or the Cancel button), then "
            "delete the experiment."
        )


def experiment_purge(*, run_ids: list[str], snapshot_ids: list[str]) -> None:
    """Remove what deleted runs left in the file store (outputs, logs, metric series), the
    snapshots no remaining run uses, and the blobs no remaining snapshot uses. Safe to repeat:
    a second pass finds less to do."""
    for run_id in run_ids:
        shutil.rmtree(store.run_dir(run_id), ignore_errors=True)
        # metrics.series_path keeps a run's series in one folder beside its files.
        shutil.rmtree(Path(settings.MEDIA_ROOT) / "series" / run_id, ignore_errors=True)
    unused: dict[int, set[str]] = defaultdict(set)
    for snapshot in Snapshot.objects.filter(pk__in=snapshot_ids):
        try:
            with transaction.atomic():
                snapshot.delete()
        except (ProtectedError, IntegrityError):
            continue  # a run (perhaps one submitted since the delete) still uses it
        unused[snapshot.workspace_id].update(entry["sha256"] for entry in snapshot.manifest)
    for workspace_id, shas in unused.items():
        blobs_purge(workspace_id=workspace_id, candidates=shas)
