"""Reading a Dockerfile without building it: its instructions, a cheap static check of the
text a spec carries, and the base images its FROM lines name."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlstudio.errors import UserError

DOCKERFILE_KEYWORDS = frozenset((
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
))  # fmt: skip
HEREDOC = re.compile(r"<<-?\s*[\"']?(\w+)[\"']?")


def instructions(text: str) -> Iterator[tuple[int, str, list[str]]]:
    """(line number, KEYWORD, words) of each instruction: continuation lines joined, comments
    and heredoc bodies skipped."""
    logical, start, heredoc = "", 0, None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if heredoc is not None:
            if line == heredoc:
                heredoc = None
            continue
        if not line or line.startswith("#"):
            continue
        start = start if logical else number
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        yield _instruction(start, logical + line)
        found = HEREDOC.search(logical + line)
        heredoc = found.group(1) if found else None
        logical = ""
    if logical.strip():
        yield _instruction(start, logical)


def _instruction(number: int, logical: str) -> tuple[int, str, list[str]]:
    keyword, *words = logical.split()
    return number, keyword.upper(), words


def check_dockerfile(text: str) -> None:
    """A cheap static check: every instruction is a Dockerfile keyword and a FROM comes first
    (after optional ARGs). Docker itself finds the rest when it builds."""
    stripped = text.strip()
    first = (stripped.split() or [""])[0]
    if (
        "\n" not in stripped
        and not first.startswith("#")
        and first.upper() not in DOCKERFILE_KEYWORDS
    ):
        raise UserError(
            f"docker.base_dockerfile {stripped!r} is not a Dockerfile. To use a file, the SDK "
            "reads it for you: pass a path to a file that exists (from_dockerfile(name, path)), "
            "or give the Dockerfile's text."
        )
    seen_from = False
    for number, keyword, _words in instructions(text):
        if keyword not in DOCKERFILE_KEYWORDS:
            raise UserError(
                f"docker.base_dockerfile line {number}: {keyword!r} is not a Dockerfile "
                "instruction (FROM, RUN, COPY, ENV, …). Fix the Dockerfile."
            )
        if not seen_from and keyword not in ("FROM", "ARG"):
            raise UserError(
                f"docker.base_dockerfile line {number}: the first instruction must be FROM "
                f"(after optional ARGs), not {keyword}."
            )
        seen_from = seen_from or keyword == "FROM"
    if not seen_from:
        raise UserError(
            "docker.base_dockerfile has no FROM instruction; start it with e.g. "
            "'FROM mlstudio/python:bookworm'."
        )


def base_images(dockerfile: str) -> list[str]:
    """The images the Dockerfile's FROM lines name, minus `scratch`, earlier stages and
    references to build args that have no default."""
    defaults: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    seen_from = False
    for _number, instruction, words in instructions(dockerfile):
        if instruction == "ARG" and not seen_from and words:
            name, _, default = words[0].partition("=")
            defaults[name] = default.strip("\"'")
        elif instruction == "FROM":
            seen_from = True
            words = [word for word in words if not word.startswith("--")]
            if not words:
                continue
            image = _expand(words[0], defaults)
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.add(words[2].lower())
            if image and image.lower() not in stages and image != "scratch":
                images.append(image)
    return list(dict.fromkeys(images))


def _expand(word: str, defaults: dict[str, str]) -> str | None:
    unresolved = []

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if not defaults.get(name):
            unresolved.append(name)
        return defaults.get(name, "")

    expanded = re.sub(r"\$\{(\w+)\}|\$(\w+)", value, word)
    return None if unresolved else expanded
