"""The run lifecycle: which status may follow which. One function applies it (runs.services.
run_transition); everything else asks it."""

from runs.models import RunStatus as S

ALLOWED = {
    S.NOT_STARTED: {S.QUEUED, S.FAILED, S.CANCELED},
    S.QUEUED: {S.PREPARING, S.FAILED, S.CANCELED},
    S.PREPARING: {S.STARTING, S.CANCEL_REQUESTED, S.FAILED, S.CANCELED},
    S.STARTING: {S.RUNNING, S.CANCEL_REQUESTED, S.FAILED, S.CANCELED},
    S.RUNNING: {S.FINALIZING, S.CANCEL_REQUESTED, S.FAILED, S.CANCELED},
    S.CANCEL_REQUESTED: {S.FINALIZING, S.FAILED, S.CANCELED},
    S.FINALIZING: {S.COMPLETED, S.FAILED, S.CANCELED},
    S.COMPLETED: set(),
    S.FAILED: set(),
    S.CANCELED: set(),
}


def sources_of(target: str) -> set[str]:
    """The statuses a run may be in to move to `target`."""
    return {source for source, targets in ALLOWED.items() if target in targets}
