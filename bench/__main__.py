"""Benchmarks: `python -m bench [NAME ...] [--quick]`.

Prints one table (figure, value, target, peer, ratio, met or MISS) and writes
bench/results.json. Each module in bench/ that defines `run(quick: bool) -> list[Figure]`
is a benchmark named after the module.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

from bench.figures import Figure

HERE = Path(__file__).resolve().parent
SKIP = {"__main__", "figures", "util", "mlflow_peer"}


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name not in SKIP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {available()}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {available()}")
    figures: list[Figure] = []
    for name in args.names or available():
        print(f"running {name} …", file=sys.stderr, flush=True)
        figures += importlib.import_module(f"bench.{name}").run(quick=args.quick)
    print(render(figures))
    (HERE / "results.json").write_text(
        json.dumps(
            {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": args.quick,
             "figures": [f.as_dict() for f in figures]},
            indent=2,
        )
    )  # fmt: skip
    return 0 if all(f.met is not False for f in figures) else 1


def render(figures: list[Figure]) -> str:
    rows = [("figure", "value", "target", "peer", "ratio", "result")]
    rows += [f.row() for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
