"""Changes a person makes to a run after submitting it: its name and description, and v1's
`run.fail()` from a notebook."""

from __future__ import annotations

from mlstudio.errors import UserError
from runs.models import Run, RunStatus
from runs.services import run_transition

DISPLAY_NAME_MAX = 255
DESCRIPTION_MAX = 5000


def run_fail_submitted(*, run: Run, error: str = "") -> Run:
    """v1's `run.fail()` from a notebook on a submitted run: it ends Failed at once, and its
    executor, which watches the status, stops the script if it is still going."""
    message = error or "Marked failed by the user."
    for _ in range(10):
        run.refresh_from_db()
        if run.is_final:
            return run
        moved = run_transition(
            run_id=run.pk, to=RunStatus.FAILED, detail=message, error={"message": message}
        )
        if moved is not None:
            return moved
    return run


def run_describe(*, run: Run, display_name: str | None = None,
                 description: str | None = None) -> Run:  # fmt: skip
    """Set what a person reads about a run: its display name and description."""
    fields = []
    if display_name is not None:
        if len(display_name) > DISPLAY_NAME_MAX:
            raise UserError(f"display_name holds at most {DISPLAY_NAME_MAX} characters.")
        run.display_name = display_name
        fields.append("display_name")
    if description is not None:
        if len(description) > DESCRIPTION_MAX:
            raise UserError(f"description holds at most {DESCRIPTION_MAX} characters.")
        run.description = description
        fields.append("description")
    if fields:
        run.save(update_fields=fields)
    return run
