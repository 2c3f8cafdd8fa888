"""What runs tell other apps through their signals (they never import runs)."""

from __future__ import annotations

from runs.models import ACTIVE_STATUSES, Run


def runs_on_target(sender, target, **kwargs) -> list[str]:
    """Active runs on `target`: a target that has some cannot be deleted."""
    active = Run.objects.filter(status__in=ACTIVE_STATUSES, definition__queue=target.queue)
    return list(active.values_list("pk", flat=True)[:20])
