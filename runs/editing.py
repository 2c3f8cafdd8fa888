"""Changes a person makes to what a run says about itself after submitting it: its name and
description. (v1's `run.fail()` from a notebook is a transition: runs.services.)"""

from __future__ import annotations

from mlstudio.errors import UserError
from runs.models import Run

DISPLAY_NAME_MAX = 255
DESCRIPTION_MAX = 5000


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
