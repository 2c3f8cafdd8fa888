"""What runs tell other apps through their signals (they never import runs)."""

from __future__ import annotations

from django.dispatch import Signal

from runs.models import ACTIVE_STATUSES, Run

# Sent after a run's status change is committed (run=...), and after metric values are stored
# (run=..., names=...), so other apps (sweeps) react to runs without runs knowing them.
run_status_changed = Signal()
metrics_stored = Signal()


def runs_on_target(sender, target, **kwargs) -> list[str]:
    """Active runs on `target`: a target that has some cannot be deleted."""
    active = Run.objects.filter(status__in=ACTIVE_STATUSES, definition__queue=target.queue)
    return list(active.values_list("pk", flat=True)[:20])
