"""Route patterns like "logged-models/<model_id>/tags" matched against a request's path."""

from __future__ import annotations

import re
from functools import cache


def table(routes: dict[str, object]) -> dict[tuple[str, str], object]:
    """Routes written as request lines, "POST runs/create": handler, keyed (method, pattern)."""
    return {tuple(line.split(" ", 1)): handler for line, handler in routes.items()}


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(re.sub(r"<\w+>", "([^/]+)", pattern) + "/?")


def match(routes: dict, method: str, route: str):
    """The handler for `method route` and the values of the pattern's placeholders."""
    exact = routes.get((method, route.rstrip("/")))
    if exact is not None:
        return exact, ()
    for (verb, pattern), handler in routes.items():
        if verb == method and "<" in pattern:
            found = _compiled(pattern).fullmatch(route)
            if found:
                return handler, found.groups()
    return None, ()
