"""`--inventory`: v1's documented surface beside the SDK, class by class, with totals."""

from __future__ import annotations

import json

from mlstudio.sdk.port.surface import IGNORED, MISSING, SUPPORTED, full_report

COLUMNS = (SUPPORTED, IGNORED, MISSING)


def _counts(members: dict) -> dict[str, int]:
    counts = dict.fromkeys(COLUMNS, 0)
    for member in members.values():
        counts[member["status"]] += 1
    return counts


def totals(report: dict | None = None) -> dict[str, int]:
    report = report or full_report()
    total = dict.fromkeys(COLUMNS, 0)
    for data in report["classes"].values():
        for key, value in _counts(data["members"]).items():
            total[key] += value
    for data in report["functions"].values():
        total[data["status"]] += 1
    return total


def inventory_table() -> str:
    report = full_report()
    rows = [("v1 class / function", "module", *COLUMNS, "missing members; parameters not taken")]
    for name, data in sorted(report["classes"].items()):
        counts = _counts(data["members"])
        rows.append((name, data["module"], *(str(counts[c]) for c in COLUMNS), _notes(data)))
    for qualified, data in sorted(report["functions"].items()):
        module, name = qualified.rsplit(".", 1)
        counts = {c: str(int(data["status"] == c)) for c in COLUMNS}
        lacking = ", ".join(data["missing_parameters"])
        rows.append((name, module, *(counts[c] for c in COLUMNS), lacking))
    total = totals(report)
    rows.append(("TOTAL", "", *(str(total[c]) for c in COLUMNS), ""))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " +
             row[5] for row in rows]  # fmt: skip
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines)


def _notes(data: dict) -> str:
    missing = [m for m, info in data["members"].items() if info["status"] == MISSING]
    lacking = [
        f"{m}({', '.join(info['missing_parameters'])})"
        for m, info in data["members"].items()
        if info["missing_parameters"]
    ]
    if not data["present"]:
        return "class not in MLStudio's SDK"
    return "; ".join(part for part in (", ".join(missing), " ".join(lacking)) if part)


def inventory_json() -> str:
    report = full_report()
    return json.dumps({"totals": totals(report), **report}, indent=1)
