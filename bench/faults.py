"""The fault table: each scenario of tests/faults injected into a real studio, with the log
lines lost, the runs left stuck and the time from the fault to the run's final status.

The rows come from the fault tests themselves (pytest on tests/faults), written only after
each test's checks held: 0 lines lost means the stored log had every line the script printed
(none missing or repeated), 0 stuck means every run reached a final status. `--quick` leaves
out the cluster bursts and the container kill. Set DATABASE_URL for the PostgreSQL rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.figures import Figure

REPO = Path(__file__).resolve().parent.parent
QUICK_SKIP = "not cluster and not container"


def run(quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="mlstudio-faults-") as folder:
        table = Path(folder) / "table.jsonl"
        env = {**os.environ, "MLSTUDIO_FAULT_TABLE": str(table)}
        argv = [sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:cacheprovider"]
        if quick:
            argv += ["-k", QUICK_SKIP]
        outcome = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
        rows = (
            [json.loads(line) for line in table.read_text().splitlines()] if table.exists() else []
        )
    print(render(rows), file=sys.stderr)
    if outcome.returncode != 0:
        print(outcome.stdout[-4000:], file=sys.stderr)
    figures = [Figure("fault tests passed", float(outcome.returncode == 0), "", 1, below=False)]
    for row in rows:
        figures.append(Figure(f"{row['scenario']}: lines lost", row["lines_lost"], "lines", 0))
        figures.append(Figure(f"{row['scenario']}: runs stuck", row["runs_stuck"], "runs", 0))
        figures.append(Figure(f"{row['scenario']}: to final status", row["seconds_to_final"], "s"))
    return figures


def render(rows: list[dict]) -> str:
    head = ("scenario", "lines lost", "runs stuck", "time to final status")
    lines = [head] + [(r["scenario"], str(r["lines_lost"]), str(r["runs_stuck"]),
                       f"{r['seconds_to_final']} s") for r in rows]  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )
