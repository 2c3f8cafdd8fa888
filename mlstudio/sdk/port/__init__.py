"""The port rule, applied to source: `azureml.core` becomes `mlstudio.sdk`, any other
`azureml.X` becomes `mlstudio.sdk.X`. Only code changes: strings (such as the
`azureml.git.commit` property names) and comments keep their text.

`python -m mlstudio.sdk.port PATH...` applies it to .py and .ipynb files; see __main__.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

MAGIC = re.compile(r"^\s*[%!?]")


class PortError(Exception):
    """A source that cannot be parsed; `line` is where (1-based)."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def mask_magics(source: str) -> str:
    """IPython magics and shell lines (%pip, !ls) as blank lines, so Python can parse the
    rest with the same line numbers."""
    return "".join(
        ("\n" if line.endswith("\n") else "") if MAGIC.match(line) else line
        for line in source.splitlines(keepends=True)
    )


def parse(source: str) -> ast.Module:
    try:
        return ast.parse(mask_magics(source))
    except SyntaxError as exc:
        raise PortError(exc.msg, exc.lineno or 1) from None


def rewrite(source: str) -> str:
    """The ported source. Raises PortError (with the line) when it cannot be parsed."""
    parse(source)
    masked = mask_magics(source)
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(masked).readline)
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
    ]
    edits = []
    for index, token in enumerate(tokens):
        if token.type != tokenize.NAME or token.string != "azureml":
            continue
        if index and tokens[index - 1].string == ".":
            continue  # something.azureml: not the package
        following = tokens[index + 1 : index + 3]
        if len(following) < 2 or following[0].string != ".":
            continue
        end = following[1].end if following[1].string == "core" else token.end
        edits.append((token.start, end, "mlstudio.sdk"))
    return _apply(source, edits)


def _apply(source: str, edits: list) -> str:
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    out, position = [], 0
    for (row, col), (end_row, end_col), text in edits:
        begin = starts[row - 1] + col
        out += [source[position:begin], text]
        position = starts[end_row - 1] + end_col
    out.append(source[position:])
    return "".join(out)
