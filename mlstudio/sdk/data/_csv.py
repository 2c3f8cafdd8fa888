"""Delimited files into a pandas DataFrame with the frame pandas' default (C) parser gives, read
by pyarrow's multithreaded parser when pyarrow is installed, which can parse a file from a
stream while it downloads. Where pyarrow's inference differs from the C parser's, the result is
corrected or the file is read again by the C parser, so the frame never depends on which one
read it:

- pyarrow infers dates, times and timestamps; the C parser keeps their text, so those columns
  are read again as text;
- pyarrow reads `+1` or an integer past int64 as a float; a float column with no missing and
  only whole values is read again as text, and unless some value is spelled as a float
  (`1.0`, `1e3`, `inf`), the C parser reads the file;
- anything pyarrow refuses (ragged rows, an index column, a bad encoding), an empty frame, or
  renamed columns (duplicates, unnamed): the C parser reads the file, and its error names the
  line.
"""

from __future__ import annotations

import datetime
import re

TRUE_VALUES = ["True", "TRUE", "true"]  # the C parser's; pyarrow's own also take "1"
FALSE_VALUES = ["False", "FALSE", "false"]
FLOAT_SPELLING = re.compile(r"[.eEnNiI]")  # a decimal point, an exponent, nan or inf


def read_csv(pandas, path, kwargs: dict, first=None):
    """pandas.read_csv(path, **kwargs), faster when pyarrow is there. `first` is what
    first_pass() read from the file's stream as it arrived (None: read the file here)."""
    frame = first if first is not None else first_pass(pandas, path, kwargs, local=True)
    if frame is not None:
        frame = _checked(pandas, path, _fast(kwargs), frame)
    return pandas.read_csv(path, **kwargs) if frame is None else frame


def first_pass(pandas, source, kwargs: dict, local: bool = False):
    """pyarrow's frame of a path or a binary stream, unchecked; None where pyarrow cannot read
    it (not installed, a separator of several characters, or its own error)."""
    pyarrow = _pyarrow()
    if pyarrow is None or len(kwargs.get("sep") or ",") != 1:
        return None
    try:
        if not local:
            return pandas.read_csv(source, **_fast(kwargs))
        with pyarrow.memory_map(str(source)) as mapped:  # pandas' own open of a path is slower
            return pandas.read_csv(mapped, **_fast(kwargs))
    except Exception:  # the C parser reads it again, and names the error
        return None


def _pyarrow():
    try:
        import pyarrow
    except ImportError:
        return None
    return pyarrow


def _fast(kwargs: dict) -> dict:
    return {**kwargs, "engine": "pyarrow", "true_values": TRUE_VALUES,
            "false_values": FALSE_VALUES}  # fmt: skip


def _checked(pandas, path, fast: dict, frame):
    """`frame` as the C parser gives it, read again where needed; None: the C parser reads."""
    try:
        if frame.empty or not _names_kept(frame, fast):
            return None
        return _as_text_where_inferred(pandas, path, fast, frame)
    except Exception:  # the C parser reads it again, and names the error
        return None


def _names_kept(frame, fast: dict) -> bool:
    """The header's names are the frame's: none was unnamed or a duplicate (renamed)."""
    if fast.get("header") is None:
        return True
    names = [str(n) for n in frame.columns]
    return len(set(names)) == len(names) and not any(n.startswith("Unnamed: ") for n in names)


def _as_text_where_inferred(pandas, path, fast: dict, frame):
    temporal = [c for c in frame.columns if _temporal(frame[c])]
    wholes = [c for c in frame.columns if _whole_floats(frame[c])]
    if not temporal and not wholes:
        return frame
    if fast.get("header") is None:
        return None  # the names are numbers, which pyarrow's dtype mapping cannot name
    text = pandas.read_csv(path, **{**fast, "dtype": dict.fromkeys(temporal + wholes, "str"),
                                    "usecols": temporal + wholes})  # fmt: skip
    for column in wholes:
        if not text[column].str.contains(FLOAT_SPELLING).any():
            return None  # integers pyarrow widened to float: the C parser keeps them whole
    for column in temporal:
        frame[column] = text[column]
    return frame


def _temporal(series) -> bool:
    """Dates, times or timestamps, which the C parser would have kept as text (pyarrow's
    dates and times arrive as Python objects; the C parser's text is not object dtype)."""
    if series.dtype.kind in "Mm":
        return True
    if series.dtype != object:
        return False
    first = series.first_valid_index()
    return first is not None and isinstance(series[first], datetime.date | datetime.time)


def _whole_floats(series) -> bool:
    if series.dtype.kind != "f" or series.hasnans:
        return False
    head = series.iloc[:4096]  # most float columns show a fraction early: skip the full pass
    return bool((head == head.round()).all() and (series == series.round()).all())
