"""The autoscaler of cluster nodes, which Celery loads by name (CELERY_WORKER_AUTOSCALER)."""

from __future__ import annotations

import os
from time import monotonic

from celery.worker.autoscale import Autoscaler

SCALEDOWN_ENV = "MLSTUDIO_SCALEDOWN_SECONDS"
DEFAULT_SCALEDOWN_SECONDS = 1800.0


class ScaleDownAutoscaler(Autoscaler):
    """Celery's autoscaler (`--autoscale=max,min`), except that processes above the minimum go
    only after the node has had no run for idle_seconds_before_scaledown (read from
    MLSTUDIO_SCALEDOWN_SECONDS), as an azureml cluster scaled down its idle nodes."""

    def __init__(self, *args, **kwargs):
        self.idle_seconds = float(os.environ.get(SCALEDOWN_ENV) or DEFAULT_SCALEDOWN_SECONDS)
        kwargs["keepalive"] = 1.0  # how often the pool size is reconsidered
        super().__init__(*args, **kwargs)
        self._last_busy = monotonic()

    def _maybe_scale(self, req=None):
        if self.qty:
            self._last_busy = monotonic()
        return super()._maybe_scale(req)

    def scale_down(self, n):
        if monotonic() - self._last_busy >= self.idle_seconds:
            return self._shrink(n)
        return None
