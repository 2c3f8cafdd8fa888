"""Metric calls shared by every kind of run: validation, value normalisation, and the v1
call signatures. Where the records go is the sink's business: a file the executor tails
inside a submitted run, the REST API for interactive runs, or print() for offline runs."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable

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
        return value.item()  # numpy and torch scalars of every width
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
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
