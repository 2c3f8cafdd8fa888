"""Porting one file: a .py as a whole, a notebook cell by cell (code cells only), keeping
the notebook's JSON as it was apart from the changed sources."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlstudio.sdk.port import PortError, rewrite
from mlstudio.sdk.port.check import Finding, unsupported_calls


def port_file(path: Path) -> tuple[str, str, list[Finding]]:
    """(text before, text after, unsupported calls). PortError names the line that could
    not be parsed; for a notebook that is the line in the .ipynb file."""
    before = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        after, findings = _port_notebook(before)
    else:
        after = rewrite(before)
        findings = unsupported_calls(after)
    return before, after, findings


def _port_notebook(text: str) -> tuple[str, list[Finding]]:
    try:
        notebook = json.loads(text)
    except ValueError as exc:
        raise PortError(f"not a notebook: {exc}", getattr(exc, "lineno", 1)) from None
    findings: list[Finding] = []
    changes: dict[int, tuple[list[str], list[str]]] = {}
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        joined = "".join(source) if isinstance(source, list) else source
        try:
            ported = rewrite(joined)
        except PortError as exc:
            raise PortError(
                f"cell {number}: {exc}", _line_of_cell(text, number, exc.line)
            ) from None
        if ported != joined:
            old = source if isinstance(source, list) else [source]
            new = ported.splitlines(keepends=True) if isinstance(source, list) else [ported]
            changes[number] = (old, new)
            cell["source"] = new if isinstance(source, list) else ported
        findings += [
            Finding(_line_of_cell(text, number, f.line), f"cell {number}, line {f.line}: {f.call}",
                    f.why)
            for f in unsupported_calls(ported)
        ]  # fmt: skip
    if not changes:
        return text, findings
    return _replace_sources(text, changes) or _dump_like(notebook, text), findings


SOURCE_KEY = re.compile(r'"source"\s*:\s*')


def _replace_sources(text: str, changes: dict) -> str | None:
    """Swap the changed source strings in the text itself, so every other byte of the
    notebook (layout, escapes, outputs) stays as it was. None when a string is not found
    as expected; the caller then writes the whole notebook again."""
    decoder = json.JSONDecoder()
    out, position = [], 0
    for number, match in enumerate(SOURCE_KEY.finditer(text), start=1):
        if number not in changes:
            continue
        try:
            _, end = decoder.raw_decode(text, match.end())
        except ValueError:
            return None
        span = text[match.end() : end]
        for old, new in zip(*changes[number], strict=True):
            if old == new:
                continue
            encoded = json.dumps(old, ensure_ascii=False)
            if encoded not in span:
                return None
            span = span.replace(encoded, json.dumps(new, ensure_ascii=False), 1)
        out += [text[position : match.end()], span]
        position = end
    out.append(text[position:])
    ported = "".join(out)
    return ported if json.loads(ported) is not None else None


def _line_of_cell(text: str, cell_number: int, line: int) -> int:
    """The .ipynb line of a cell's source line: the cells' "source" keys in order."""
    seen = 0
    for index, raw in enumerate(text.splitlines(), start=1):
        if SOURCE_KEY.match(raw.strip()):
            seen += 1
            if seen == cell_number:
                return index + (line if raw.rstrip().endswith("[") else 0)
    return 1


def _dump_like(notebook: dict, original: str) -> str:
    """JSON laid out as nbformat writes it, with the original's indent and final newline."""
    match = re.search(r"\n( +)\"", original)
    indent = len(match.group(1)) if match else 1
    out = json.dumps(notebook, indent=indent, ensure_ascii=False)
    return out + ("\n" if original.endswith("\n") else "")
