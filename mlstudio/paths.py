"""Path rules for every file a user names: normalise first, then confine to a root.

A user-supplied path is accepted only as a relative POSIX path of plain segments. Anything
else (absolute, drive letters, backslashes, `..`, NUL, empty segments after decoding) is
refused with a message, before any file is touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mlstudio.errors import UserError

MAX_PATH_LENGTH = 1024
# Under Linux's NAME_MAX (255), a longer file or folder name makes open() fail with
# ENAMETOOLONG; the rest leaves room for the `.<name>.partial` of a file being written.
MAX_NAME_BYTES = 240


def clean_relative_path(raw: str, *, what: str = "path") -> str:
    """Return `raw` as a normalised relative POSIX path, or raise UserError.

    The path is checked exactly as it will be used: nothing decodes it afterwards, so an
    encoded `%2e%2e%2f` is only an odd file name, never a way out of the folder.
    """
    text = raw
    problem = _problem(text)
    if problem:
        raise UserError(f"The {what} {raw!r} is not allowed: {problem}.")
    parts = [p for p in PurePosixPath(text).parts if p != "."]
    return "/".join(parts)


def _problem(text: str) -> str | None:
    if not text or not text.strip():
        return "it is empty"
    if len(text) > MAX_PATH_LENGTH:
        return f"it is longer than {MAX_PATH_LENGTH} characters"
    if "\x00" in text:
        return "it contains a NUL byte"
    if "\\" in text:
        return "it contains a backslash; use '/' between folders"
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return "it is absolute; give a path relative to the folder"
    if ".." in PurePosixPath(text).parts:
        return "it contains '..'"
    if any(
        len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in text.split("/")
    ):
        return f"one of its names is longer than {MAX_NAME_BYTES} bytes"
    if not [p for p in PurePosixPath(text).parts if p != "."]:
        return "it names no file"
    return None


def confined(root: Path, relative: str, *, what: str = "path") -> Path:
    """`root / relative`, refusing anything that would resolve outside `root`.

    Symlinks are resolved, so a link that points out of the root is refused too.
    """
    clean = clean_relative_path(relative, what=what)
    base = Path(os.path.realpath(root))
    target = Path(os.path.realpath(base / clean))
    if target != base and base not in target.parents:
        raise UserError(f"The {what} {relative!r} is not allowed: it leads outside its folder.")
    return target


def regular_files(folder: Path) -> Iterator[Path]:
    """The regular files under `folder`, in a stable order (folders and names sorted); links
    are skipped, as a link could lead anywhere on this host."""
    for current, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(current) / name
            if not path.is_symlink() and path.is_file():
                yield path
