"""python -m mlstudio.sdk.port [--dry-run] PATH...   port v1 .py and .ipynb files in place
python -m mlstudio.sdk.port --inventory [--json]   v1's surface and what MLStudio has of it

Files are rewritten by the port rule (azureml.core -> mlstudio.sdk, azureml.X ->
mlstudio.sdk.X); notebooks keep their JSON layout, metadata and outputs. Then every v1 call
MLStudio does not support is listed as FILE:LINE. The exit code is 1 when any remain or a
file could not be parsed (it is left unchanged), else 0.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from mlstudio.sdk.port import PortError
from mlstudio.sdk.port.files import port_file
from mlstudio.sdk.port.table import inventory_json, inventory_table

SUFFIXES = (".py", ".ipynb")


def _files(paths: list[str]) -> list[Path]:
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SUFFIXES and ".ipynb_checkpoints" not in p.parts
            )
        elif path.is_file():
            found.append(path)
        else:
            print(f"{raw}: no such file or folder", file=sys.stderr)
    return found


def _port(path: Path, dry_run: bool) -> tuple[int, bool]:
    """(unsupported calls found, could not parse)."""
    try:
        before, after, findings = port_file(path)
    except PortError as exc:
        print(f"{path}:{exc.line}: cannot parse ({exc}); left unchanged")
        return 0, True
    if after != before:
        if dry_run:
            sys.stdout.writelines(
                difflib.unified_diff(
                    before.splitlines(keepends=True), after.splitlines(keepends=True),
                    f"{path}", f"{path} (ported)",
                )
            )  # fmt: skip
        else:
            path.write_text(after, encoding="utf-8")
            print(f"{path}: ported")
    for finding in findings:
        print(f"{path}:{finding.line}: {finding.call}: {finding.why}")
    return len(findings), False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlstudio.sdk.port",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", help=".py / .ipynb files or folders")
    parser.add_argument("--dry-run", action="store_true", help="print a diff, change nothing")
    parser.add_argument("--inventory", action="store_true", help="v1's surface, by class")
    parser.add_argument("--json", action="store_true", help="with --inventory: as JSON")
    args = parser.parse_args(argv)
    if args.inventory:
        print(inventory_json() if args.json else inventory_table())
        return 0
    if not args.paths:
        parser.error("give files or folders to port, or --inventory")
    remaining, broken = 0, 0
    for path in _files(args.paths):
        found, failed = _port(path, args.dry_run)
        remaining += found
        broken += failed
    if remaining or broken:
        print(f"{remaining} unsupported v1 call(s), {broken} file(s) not parsed.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
