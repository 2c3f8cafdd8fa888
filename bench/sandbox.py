"""What the run sandbox costs: submit -> first line with bubblewrap, against the same studio
configuration with MLSTUDIO_RUN_SANDBOX off, measured one after the other in this run."""

from __future__ import annotations

import shutil
import statistics
import sys

from bench.figures import Figure
from bench.runs import submit_latency
from bench.util import BenchStudio


def median_first_line(sandboxed: bool, repeats: int) -> float:
    setting = "true" if sandboxed else "false"
    with BenchStudio(extra_env={"MLSTUDIO_RUN_SANDBOX": setting}) as studio:
        return statistics.median(submit_latency(studio, repeats))


def run(quick: bool) -> list[Figure]:
    if shutil.which("bwrap") is None:
        print(
            "sandbox: skipped, bubblewrap is missing; install it with `sudo apt-get install "
            "bubblewrap` (bash scripts/test installs it too)",
            file=sys.stderr,
        )
        return []
    repeats = 5 if quick else 20
    plain = median_first_line(False, repeats)
    sandboxed = median_first_line(True, repeats)
    return [
        Figure(
            "submit -> first line, sandboxed run (median)",
            sandboxed,
            "s",
            1,
            peer_name="unsandboxed",
            peer_value=plain,
        ),
        Figure(
            "time the sandbox adds to submit -> first line", (sandboxed - plain) * 1000, "ms", 50
        ),
    ]
