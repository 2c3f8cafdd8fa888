"""How a run ended: its final status and error, with the one-line troubleshooting hint that
runs.hints makes from the evidence the lifecycle gathered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runs import faults, hints
from runs.definition import RunDefinition
from runs.models import Run, RunStatus


def run_outcome(
    run: Run, definition: RunDefinition, *, exit_code: int | None,
    stop_reason: tuple[str, str] | None, workdir: Path,
    evidence: Callable[[], hints.Evidence], say: Callable[[str], None],
) -> tuple[str, dict | None]:  # fmt: skip
    """The status and error to record: the executor's own reason when it stopped the script
    (a cancel, a timeout, its own failure), else what the exit code and the log say."""
    if stop_reason is not None:
        status, message = stop_reason
        error = {"message": message, "exit_code": exit_code}
    elif exit_code == 0:
        return RunStatus.COMPLETED, None
    else:
        status = RunStatus.FAILED
        error = faults.name_a_full_disk(hints.error_summary(run.pk, exit_code, workdir=workdir))
    hint = _hint(run, definition, status, error, evidence, say)
    if hint is not None:
        error["hint"] = hint
    return status, error


def _hint(
    run: Run, definition: RunDefinition, status: str, error: dict,
    evidence: Callable[[], hints.Evidence], say: Callable[[str], None],
) -> dict | None:  # fmt: skip
    """The one-line troubleshooting hint for how the run ended (runs.hints); a hint that
    cannot be made never keeps the error itself from being recorded."""
    try:
        failure = hints.failure_of(run, definition, status, error, evidence())
        return hints.hint_for(failure, hints.links_of(run))
    except Exception as exc:
        say(f"No troubleshooting hint: {type(exc).__name__}: {exc}")
        return None
