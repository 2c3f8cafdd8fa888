"""MLflow's search_runs filter and order_by, on runs already in MLflow's shape: clauses like
`metrics.acc > 0.9`, `params.lr = '0.1'`, `tags."my tag" != 'x'`, `attributes.status =
'FINISHED'`, `run_name LIKE 'fold%'`, joined by AND."""

from __future__ import annotations

import operator
import re

from tracking.errors import invalid

CLAUSE = re.compile(
    r"""\s*(?:(?P<kind>metrics?|params?|parameters?|tags?|attributes?|attr|run)\.)?
        (?P<key>`[^`]+`|"[^"]+"|[\w.\-]+)\s*
        (?P<op>!=|>=|<=|=|>|<|(?:NOT\s+)?I?LIKE)\s*
        (?P<value>'[^']*'|"[^"]*"|-?[\d.]+(?:[eE][-+]?\d+)?)\s*""",
    re.VERBOSE | re.IGNORECASE,
)
KINDS = {"metric": "metrics", "metrics": "metrics", "param": "params", "params": "params",
         "parameter": "params", "parameters": "params", "tag": "tags", "tags": "tags"}  # fmt: skip
ATTRIBUTES = {"status", "run_name", "run_id", "start_time", "end_time", "user_id",
              "experiment_id", "lifecycle_stage", "artifact_uri"}  # fmt: skip
COMPARE = {"=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
           "<": operator.lt, "<=": operator.le}  # fmt: skip
HOW = (
    "Use clauses like metrics.acc > 0.9, params.lr = '0.1', tags.team = 'a' or "
    "attributes.status = 'FINISHED', joined by AND."
)


def runs_filter(runs: list[dict], *, view_type: str, filter_string: str, order_by: list) -> list:
    clauses = _parse(filter_string)
    wanted = {"ACTIVE_ONLY": {"active"}, "DELETED_ONLY": {"deleted"}}.get(
        view_type, {"active", "deleted"}
    )
    found = [
        run for run in runs
        if run["info"]["lifecycle_stage"] in wanted and all(c(run) for c in clauses)
    ]  # fmt: skip
    for spec in reversed(order_by if isinstance(order_by, list) else [order_by]):
        kind, key, descending = _order(spec)
        present = [r for r in found if _value(r, kind, key) is not None]
        absent = [r for r in found if _value(r, kind, key) is None]
        present.sort(key=lambda r: _value(r, kind, key), reverse=descending)
        found = present + absent
    return found


def _parse(text: str) -> list:
    if not text.strip():
        return []
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        found = CLAUSE.fullmatch(part)
        if found is None:
            raise invalid(f"Invalid filter {part!r}. {HOW}")
        clauses.append(_clause(found))
    return clauses


def _clause(found: re.Match):
    kind = _kind(found["kind"], found["key"].strip('`"'))
    key = found["key"].strip('`"')
    op = re.sub(r"\s+", " ", found["op"].upper())
    raw = found["value"]
    value = raw[1:-1] if raw[0] in "'\"" else float(raw)
    if kind == "metrics" and isinstance(value, str):
        raise invalid(f"Metric {key!r} is compared with a number, not {raw}. {HOW}")

    def test(run: dict) -> bool:
        have = _value(run, kind, key)
        if have is None:
            return False
        if "LIKE" in op:
            hit = _like(str(have), str(value), "ILIKE" in op)
            return not hit if op.startswith("NOT") else hit
        if isinstance(value, float):
            try:
                return COMPARE[op](float(have), value)
            except ValueError:
                return False
        return COMPARE[op](str(have), value)

    return test


def _kind(prefix: str | None, key: str) -> str:
    if prefix is None or prefix.lower() in ("attributes", "attribute", "attr", "run"):
        if key not in ATTRIBUTES:
            raise invalid(f"Invalid attribute key {key!r}; one of {sorted(ATTRIBUTES)}. {HOW}")
        return "attributes"
    return KINDS[prefix.lower()]


def _like(text: str, pattern: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


def _order(spec) -> tuple[str, str, bool]:
    words = str(spec).strip().split()
    if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
        raise invalid(f"Invalid order_by {spec!r}; e.g. 'metrics.acc DESC'.")
    prefix, _, key = words[0].partition(".")
    if not key:
        prefix, key = None, prefix
    key = key.strip('`"')
    return _kind(prefix, key), key, len(words) == 2 and words[1].upper() == "DESC"


def _value(run: dict, kind: str, key: str):
    if kind == "attributes":
        return run["info"].get(key)
    for item in run["data"][kind]:
        if item["key"] == key:
            return item["value"]
    return None
