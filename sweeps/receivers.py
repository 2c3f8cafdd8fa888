"""What sweeps do when runs tell them something (runs.signals); runs never import sweeps."""

from __future__ import annotations

from runs.definition import RunDefinition
from runs.models import RunStatus
from runs.signals import metrics_stored, run_status_changed
from sweeps import events


def on_status(sender, run, **kwargs) -> None:
    definition = RunDefinition.of(run.definition)
    if definition.sweep:
        events.changed(definition.sweep.parent, run.pk)
        if run.is_final:
            events.advance_later(definition.sweep.parent)
    elif definition.sweep_parent and run.status == RunStatus.CANCEL_REQUESTED:
        events.advance_later(run.pk)


def on_metrics(sender, run, names, **kwargs) -> None:
    child_of = RunDefinition.of(run.definition).sweep
    if not child_of or child_of.metric not in names:
        return
    if child_of.policy:
        events.judge_later(child_of.parent)
    events.changed(child_of.parent, run.pk)


def connect() -> None:
    run_status_changed.connect(on_status, dispatch_uid="sweeps-status")
    metrics_stored.connect(on_metrics, dispatch_uid="sweeps-metrics")
