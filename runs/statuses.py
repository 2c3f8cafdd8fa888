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


# A node executes the run and heartbeats in these; a run that leaves them wakes its heartbeats
# (runs.heartbeat), which is how the nodes executing it notice a cancel at once.
EXECUTING = (S.PREPARING, S.STARTING, S.RUNNING, S.FINALIZING)


def stop_wakeup(run_id: str) -> str:
    """The name of the wake-up (mlstudio.wakeups) that a run's heartbeats wait on."""
    return f"run-stop:{run_id}"


def sources_of(target: str) -> set[str]:
    """The statuses a run may be in to move to `target`."""
    return {source for source, targets in ALLOWED.items() if target in targets}
