"""What runs tell other apps through their signals (they never import runs)."""

from __future__ import annotations

from django.dispatch import Signal

from runs.models import ACTIVE_STATUSES, Run

# Sent by blobs_purge with workspace_id and candidates (a set of sha256s) before it forgets
# blobs no snapshot uses; each receiver returns the candidates it still uses (the model
# registry's versions), and those are kept.
blobs_in_use = Signal()

# Sent after a run's status change is committed (run=...), and after metric values are stored
# (run=..., names=...), so other apps (sweeps) react to runs without runs knowing them.
run_status_changed = Signal()
metrics_stored = Signal()


def runs_on_target(sender, target, **kwargs) -> list[str]:
    """Active runs on `target`: a target that has some cannot be deleted."""
    active = Run.objects.filter(status__in=ACTIVE_STATUSES, definition__queue=target.queue)
    return list(active.values_list("pk", flat=True)[:20])
