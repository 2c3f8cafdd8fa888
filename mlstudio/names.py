"""The one rule for the names of datastores, datasets and models, as azureml v1 takes them."""

from __future__ import annotations

import re

from django.core.validators import RegexValidator

from mlstudio.errors import UserError

ASSET_NAME_RULE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"
asset_name_validator = RegexValidator(
    ASSET_NAME_RULE,
    "Use letters, digits, '.', '_' and '-', starting with a letter or digit "
    "(at most 255 characters).",
)


def asset_name_check(name: object, *, what: str, example: str) -> str:
    """`name` when the rule allows it; otherwise a UserError saying what `what` (e.g. "Model")
    names may hold, with an `example` of a good one."""
    if not isinstance(name, str) or not re.fullmatch(ASSET_NAME_RULE, name):
        raise UserError(
            f"{what} name {name!r} is not allowed: use letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit, at most 255 characters (e.g. {example!r})."
        )
    return name
