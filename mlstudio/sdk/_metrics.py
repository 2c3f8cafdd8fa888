"""Metric calls shared by every kind of run: validation, value normalisation, and the v1
call signatures. Where the records go is the sink's business: a file the executor tails
inside a submitted run, the REST API for interactive runs, or print() for offline runs."""

from __future__ import annotations

import json
import math
import numbers
import os
import time
from collections.abc import Iterable
from pathlib import Path

from mlstudio.sdk.exceptions import UserErrorException

NAME_MAX = int(os.environ.get("MLSTUDIO_METRIC_NAME_MAX", "255"))
VALUE_MAX_BYTES = int(os.environ.get("MLSTUDIO_METRIC_VALUE_MAX_BYTES", str(1024 * 1024)))
LIST_CHUNK = 10_000  # long lists travel in pieces; the store joins them into one series
NONFINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def plain(value):
    """A JSON-ready Python value: numpy scalars become int/float (np.int64 too, which v1
    turned into a string); lists and dicts are converted deeply."""
    kind = type(value)
    if kind is float or kind is int or kind is str or kind is bool or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()  # numpy and torch scalars; float128 stays a numpy type
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        return [plain(v) for v in items]
    raise UserErrorException(
        f"Cannot log a {kind.__name__}: use numbers, text, booleans or None (or lists of them)."
    )


def number_record(name: str, value: float, step, at: float) -> dict:
    record = {"n": name, "t": at}
    if isinstance(value, float) and not math.isfinite(value):
        record["x"] = "NaN" if math.isnan(value) else NONFINITE[value]
    else:
        record["v"] = value
    if step is not None:
        record["s"] = step
    return record


def check_name(name) -> str:
    if not isinstance(name, str) or not name:
        raise UserErrorException(f"A metric name must be non-empty text, not {name!r}.")
    if len(name) > NAME_MAX:
        raise UserErrorException(
            f"Metric name {name[:40]!r}… is {len(name)} characters; the limit is {NAME_MAX}."
        )
    return name


def sized_chunks(name: str, values: list) -> list[list]:
    """Pieces of a long list, each at most LIST_CHUNK items and VALUE_MAX_BYTES as JSON, so a
    list of any length is stored; only one item over the limit is refused."""
    pieces = [values[i : i + LIST_CHUNK] for i in range(0, max(len(values), 1), LIST_CHUNK)]
    out = []
    while pieces:
        piece = pieces.pop(0)
        if len(piece) > 1 and len(json.dumps(piece, default=str)) > VALUE_MAX_BYTES:
            half = len(piece) // 2
            pieces[:0] = [piece[:half], piece[half:]]
            continue
        check_size(name, piece)
        out.append(piece)
    return out


def check_size(name: str, value) -> None:
    size = len(json.dumps(value, default=str))
    if size > VALUE_MAX_BYTES:
        raise UserErrorException(
            f"Metric {name!r} is {size} bytes; the limit for one value is {VALUE_MAX_BYTES}. "
            "Log it in parts, or as a file with upload_file()."
        )


def list_values(name: str, values: Iterable) -> list:
    if isinstance(values, str | bytes | dict):
        raise UserErrorException(
            f"log_list({name!r}, …) needs a list of values, not a {type(values).__name__}."
        )
    return [plain(v) for v in values]


def row_values(name: str, columns: dict) -> dict:
    row = {str(k): plain(v) for k, v in columns.items()}
    for column, cell in row.items():
        if isinstance(cell, list | dict):
            raise UserErrorException(
                f"log_row({name!r}): column {column!r} holds a {type(cell).__name__}; each "
                "column takes one value per row. Use log_table() for columns of lists."
            )
    return row


def table_values(name: str, table: dict) -> dict:
    if not isinstance(table, dict):
        raise UserErrorException(f"log_table({name!r}, value) needs a dict of column lists.")
    columns = {str(k): plain(v) for k, v in table.items()}
    lengths = {
        column: len(cells) if isinstance(cells, list) else None for column, cells in columns.items()
    }
    if None in lengths.values():
        raise UserErrorException(f"log_table({name!r}): every column must be a list.")
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{c}={n}" for c, n in lengths.items())
        raise UserErrorException(
            f"log_table({name!r}): columns must have equal lengths; got {listing}."
        )
    return columns


def now() -> float:
    return time.time()


# --- reading a submitted run's records back, without the studio ---------------------------

NUMBER_NAMES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
JSON_KINDS = ("confusion_matrix", "accuracy_table", "residuals", "predictions")


class TransportView:
    """What the transport files of a submitted run hold (every process's records, its child
    runs' too), sorted as the studio sorts them, so `get_metrics()` inside a script sees what
    it has just logged. Files only grow: each read parses only what was appended since."""

    _shared: dict[str, TransportView] = {}

    def __init__(self, folder: str):
        self.folder = Path(folder)
        self.offsets: dict[str, int] = {}
        self.runs: dict[str, dict[str, dict]] = {}  # run id -> name -> {"kind", "values"}

    @classmethod
    def shared(cls, folder: str) -> TransportView:
        key = os.path.abspath(folder)
        return cls._shared.get(key) or cls._shared.setdefault(key, cls(key))

    def read(self, root: str) -> TransportView:
        self.runs.setdefault(root, {})
        for path in sorted(self.folder.glob("metrics-*.jsonl")):
            with open(path, "rb") as handle:
                handle.seek(self.offsets.get(path.name, 0))
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            self.offsets[path.name] = self.offsets.get(path.name, 0) + len(complete)
            for line in complete.splitlines():
                try:
                    self._add(json.loads(line), root)
                except (ValueError, TypeError, KeyError, AttributeError):
                    continue  # the studio skips it too, and says so in the system log
        return self

    def _add(self, record: dict, root: str) -> None:
        run = self.runs.setdefault(record.get("r") or root, {})
        if record.get("op") == "child":
            self.runs.setdefault(record["id"], {})
        if "op" in record:
            return
        name, kind = record["n"], record.get("k", "scalar")
        value = NUMBER_NAMES[record["x"]] if "x" in record else record.get("v")
        if kind == "list":
            value = [NUMBER_NAMES.get(v, v) if isinstance(v, str) else v for v in value]
        metric = run.get(name)
        if kind == "list":  # as the studio decides where None may stand for NaN
            none_ok = metric is None or metric["kind"] in NUMERIC
        else:
            none_ok = metric is not None
        numbers = _numbers(kind, value, none_ok=none_ok)
        if numbers is None and kind in NUMERIC:
            kind = "value"
        if metric is None:
            metric = run[name] = {"kind": kind, "values": []}
        if metric["kind"] in NUMERIC:
            if numbers is not None:
                metric["values"] += numbers
        elif kind not in NUMERIC or metric["kind"] == "value":
            metric["values"] += value if kind == "list" else [value]

    def counts(self, run_id: str) -> dict[str, int]:
        return {name: len(m["values"]) for name, m in self.runs.get(run_id, {}).items()}

    def metrics(self, run_id: str, name: str | None = None) -> dict:
        """v1's shapes, as the studio answers get_metrics()."""
        found = self.runs.get(run_id, {})
        return {n: _shape(m["kind"], m["values"]) for n, m in found.items() if name in (None, n)}


NUMERIC = ("scalar", "list")


def _numbers(kind: str, value, *, none_ok: bool) -> list[float] | None:
    """The record's numbers (None as NaN once a series exists), or None if it holds others."""
    values = value if kind == "list" else [value] if kind == "scalar" else None
    if values is None:
        return None
    numbers = []
    for v in values:
        if v is None and none_ok:
            numbers.append(math.nan)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            numbers.append(float(v))
        else:
            return None
    return numbers


def _shape(kind: str, values: list):
    if kind == "list":
        return values
    if kind in ("row", "table"):
        columns: dict[str, list] = {}
        for value in values:
            for column, cell in value.items():
                columns.setdefault(column, []).extend(cell if kind == "table" else [cell])
        return columns
    if kind == "image":
        values = [v["path"] for v in values]
    if kind in JSON_KINDS:
        return values[-1]  # the latest
    return values[0] if len(values) == 1 else values
