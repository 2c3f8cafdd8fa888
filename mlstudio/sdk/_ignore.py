"""Which files of a source folder stay out of a snapshot: gitignore rules on the standard library.

The rules follow git itself (dir.c and wildmatch.c as of git 2.39), not a gitignore library, so
a folder uploads the same files that `git status` would show. The server applies these same rules
to zip uploads (runs.snapshot_zips); tests/sdk/test_ignore.py checks them against `pathspec` as
an oracle and lists the few corners where pathspec and git disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IGNORE_FILES = (".amlignore", ".gitignore")

# POSIX classes as git's own ASCII ctype defines them: isspace is " \t\n\r" only.
_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \t",
    "cntrl": "\x00-\x1f\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": " \t\n\r",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}


@dataclass(frozen=True)
class IgnoreRule:
    """One pattern line. `regex` is None for a malformed pattern, which git never matches."""

    pattern: str
    regex: re.Pattern[str] | None
    negated: bool
    dir_only: bool
    basename_only: bool

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.regex is None or (self.dir_only and not is_dir):
            return False
        subject = path.rsplit("/", 1)[-1] if self.basename_only else path
        return self.regex.fullmatch(subject) is not None


class IgnoreRules:
    """An ordered list of gitignore rules; the last rule that matches a path decides.

    Invariant: a path inside an ignored directory is ignored whatever later rules say, because
    git never looks inside a directory it excludes (so `!` cannot re-include such a file).
    """

    def __init__(self, rules: Iterable[IgnoreRule] = (), source: Path | None = None):
        self.rules = tuple(rules)
        self.source = source
        self._directories: dict[str, bool] = {}

    @classmethod
    def from_lines(cls, lines: Iterable[str], source: Path | None = None) -> IgnoreRules:
        return cls(filter(None, (parse_rule(line) for line in lines)), source)

    @classmethod
    def from_folder(cls, root: Path) -> IgnoreRules:
        """The rules of `root/.amlignore`, else of `root/.gitignore`, else no rules at all.

        Only the top-level file counts: .gitignore files in subfolders are not read.
        """
        for name in IGNORE_FILES:
            candidate = Path(root) / name
            if candidate.is_file():
                text = candidate.read_text(encoding="utf-8", errors="surrogateescape")
                # Like git: skip a byte-order mark, split on LF only (parse_rule drops a CR).
                return cls.from_lines(text.removeprefix("\ufeff").split("\n"), candidate)
        return cls()

    def __repr__(self) -> str:
        return f"IgnoreRules(source={self.source!r}, rules={len(self.rules)})"

    def ignores(self, path: str, is_dir: bool) -> bool:
        """Whether the relative POSIX `path` (a directory when `is_dir`) is left out."""
        parts = [part for part in path.split("/") if part and part != "."]
        if not parts or not self.rules:
            return False
        for depth in range(1, len(parts)):
            if self._directory_excluded("/".join(parts[:depth])):
                return True
        return self._excluded("/".join(parts), is_dir)

    def _directory_excluded(self, path: str) -> bool:
        if path not in self._directories:
            self._directories[path] = self._excluded(path, True)
        return self._directories[path]

    def _excluded(self, path: str, is_dir: bool) -> bool:
        for rule in reversed(self.rules):
            if rule.matches(path, is_dir):
                return not rule.negated
        return False


def parse_rule(line: str) -> IgnoreRule | None:
    """The rule for one line of an ignore file, or None for a blank line or a comment."""
    if line.startswith("#"):
        return None
    text = _trim_trailing_spaces(line.removesuffix("\n").removesuffix("\r"))
    negated = text.startswith("!")
    if negated:
        text = text[1:]
    dir_only = text.endswith("/")
    if dir_only:
        text = text[:-1]
    if not text:
        return None
    # A slash anywhere but at the end anchors the pattern to the folder; otherwise it matches
    # a name at any depth.
    basename_only = "/" not in text
    if not basename_only and text.startswith("/"):
        text = text[1:]
    regex = translate(text, anchored=not basename_only)
    return IgnoreRule(
        pattern=line,
        regex=None if regex is None else re.compile(regex, re.DOTALL),
        negated=negated,
        dir_only=dir_only,
        basename_only=basename_only,
    )


def _trim_trailing_spaces(text: str) -> str:
    # Trailing spaces go unless the first of them is escaped with a backslash ("foo\ ").
    last_space = None
    index = 0
    while index < len(text):
        char = text[index]
        if char == " ":
            if last_space is None:
                last_space = index
        else:
            last_space = None
            if char == "\\":
                index += 1
        index += 1
    return text if last_space is None else text[:last_space]


def translate(glob: str, *, anchored: bool = False) -> str | None:
    """A regular expression for git's wildmatch with WM_PATHNAME, to be used with fullmatch.

    `*`, `?` and classes never match `/`; `**` matches across folders only as a whole
    segment (`**/x`, `x/**`, `a/**/b`) and is a plain `*` elsewhere. Returns None for
    patterns that git's wildmatch aborts on (unclosed class, trailing backslash), which
    therefore match nothing.
    """
    out: list[str] = []
    index, end = 0, len(glob)
    while index < end:
        char = glob[index]
        if char == "\\":
            if index + 1 == end:
                return None
            out.append(re.escape(glob[index + 1]))
            index += 2
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "*":
            index = _translate_stars(glob, index, out, anchored)
        elif char == "[":
            translated = _translate_class(glob, index)
            if translated is None:
                return None
            part, index = translated
            out.append(part)
        else:
            out.append(re.escape(char))
            index += 1
    return "".join(out)


def _translate_stars(glob: str, start: int, out: list[str], anchored: bool) -> int:
    stop = start
    while stop < len(glob) and glob[stop] == "*":
        stop += 1
    # git matches an anchored pattern's leading literal part on its own and runs wildmatch on
    # the rest, so a star run that opens the wildcard part counts as starting a segment:
    # "ab**/c" matches "abx/y/c".
    opens_wildcards = not any(char in "*?[\\" for char in glob[:start])
    whole_segment = (
        stop - start >= 2
        and (start == 0 or glob[start - 1] == "/" or (anchored and opens_wildcards))
        and (stop == len(glob) or glob[stop] == "/" or glob[stop : stop + 2] == "\\/")
    )
    if not whole_segment:
        out.append("[^/]*")
    elif stop == len(glob):
        out.append(".*")
    else:
        # "**/" also matches no folder at all, so "a/**/b" matches "a/b".
        out.append("(?:.*/)?")
        stop += 2 if glob[stop] == "\\" else 1
    return stop


def _translate_class(glob: str, start: int) -> tuple[str, int] | None:
    """Translate the bracket expression at `start`; returns (regex, index after it)."""
    index, end = start + 1, len(glob)
    negated = index < end and glob[index] in "!^"
    if negated:
        index += 1
    items: list[str] = []
    previous: str | None = None  # the last single character: the low end of a possible range
    first = True
    while True:
        if index >= end:
            return None
        if glob[index] == "]" and not first:
            break
        first = False
        member = _class_member(glob, index, previous)
        if member is None:
            return None
        item, index, previous = member
        if item:
            items.append(item)
        index += 1
    members = "".join(items)
    if negated:
        return f"[^/{members}]", index + 1
    return (f"(?!/)[{members}]" if members else "(?!)"), index + 1


def _class_member(
    glob: str, index: int, previous: str | None
) -> tuple[str, int, str | None] | None:
    """One member of a bracket expression at `index`: (regex, index of its last character,
    the character a following "-" would start a range from); None if the class is broken."""
    end = len(glob)
    char = glob[index]
    if char == "\\":
        if index + 1 >= end:
            return None
        return re.escape(glob[index + 1]), index + 1, glob[index + 1]
    if char == "-" and previous is not None and index + 1 < end and glob[index + 1] != "]":
        return _class_range(glob, index + 1, previous)
    if char == "[" and glob[index + 1 : index + 2] == ":":
        return _posix_class(glob, index)
    return re.escape(char), index, char


def _class_range(glob: str, index: int, low: str) -> tuple[str, int, None] | None:
    high = glob[index]
    if high == "\\":
        index += 1
        if index >= len(glob):
            return None
        high = glob[index]
    # A reversed range matches nothing, as in git.
    return (f"{re.escape(low)}-{re.escape(high)}" if low <= high else ""), index, None


def _posix_class(glob: str, index: int) -> tuple[str, int, str | None] | None:
    close = glob.find("]", index + 2)
    if close == -1:
        return None
    name = glob[index + 2 : close]
    if name.endswith(":"):
        if name[:-1] not in _POSIX_CLASSES:
            return None
        return _POSIX_CLASSES[name[:-1]], close, None
    # Not "[:name:]" after all: the "[" is an ordinary member of the class.
    return re.escape("["), index, "["
