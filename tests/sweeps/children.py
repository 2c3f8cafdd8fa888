"""The train.py a live sweep's children run, written as v1 HyperDrive children are: the
hyperparameters come as command-line options, --quality in every sweep here, and the metrics
go to the run's context."""

from __future__ import annotations

import textwrap

HEADER = """\
import argparse, json, os, time
from mlstudio.sdk import Run
run = Run.get_context()
parser = argparse.ArgumentParser()
parser.add_argument("--quality", type=float)
"""


def child_script(body: str) -> str:
    """A child's train.py: argparse, json, os and time imported, `run` its run and `parser`
    taking --quality (a float); `body` (indented as in a triple-quoted string) adds its other
    options, parses them and trains."""
    return HEADER + textwrap.dedent(body).lstrip("\n")


def acc_child(acc: str, *, pause: float) -> str:
    """A child that logs `acc` (an expression of `args.quality` and `epoch`) for three epochs,
    flushing each and then waiting `pause` seconds."""
    return child_script(f"""
        args = parser.parse_args()
        for epoch in range(3):
            run.log("acc", {acc})
            run.flush()
            time.sleep({pause})
    """)
