"""What the run sandbox costs: submit -> first line with bubblewrap, against the same studio
configuration with MLSTUDIO_RUN_SANDBOX off, measured in the same run."""

from __future__ import annotations

import shutil
import statistics
import sys

from bench.figures import Figure
from bench.runs import submit_latency
from bench.util import BenchStudio


def first_lines(repeats: int) -> tuple[list[float], list[float]]:
    """Submit -> first line on two studios, unsandboxed and sandboxed, both up at once and
    measured in turn plain, sandboxed, sandboxed, plain: a shared machine's load drifts, and
    that order gives each side the same share of it."""
    samples: dict[str, list[float]] = {"false": [], "true": []}
    with (
        BenchStudio(extra_env={"MLSTUDIO_RUN_SANDBOX": "false"}) as plain,
        BenchStudio(extra_env={"MLSTUDIO_RUN_SANDBOX": "true"}) as sandboxed,
    ):
        studios = {"false": plain, "true": sandboxed}
        for setting in ("false", "true", "true", "false"):
            samples[setting] += submit_latency(studios[setting], max(1, repeats // 2))
    return samples["false"], samples["true"]


def run(quick: bool) -> list[Figure]:
    if shutil.which("bwrap") is None:
        print(
            "sandbox: skipped, bubblewrap is missing; install it with `sudo apt-get install "
            "bubblewrap` (bash scripts/test installs it too)",
            file=sys.stderr,
        )
        return []
    repeats = 5 if quick else 20
    plain_samples, sandboxed_samples = first_lines(repeats)
    plain, sandboxed = statistics.median(plain_samples), statistics.median(sandboxed_samples)
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
