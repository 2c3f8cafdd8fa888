"""From `python manage.py studio` to a healthy /healthz, on a fresh data folder and a reused one."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from bench.figures import Figure
from bench.util import BenchStudio


def _start_once(data_dir: Path) -> float:
    studio = BenchStudio(data_dir)
    try:
        return studio.start()
    finally:
        studio.stop()


def run(quick: bool) -> list[Figure]:
    repeats = 1 if quick else 3
    fresh, warm = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="mlstudio-bench-") as folder:
            fresh.append(_start_once(Path(folder)))
            warm.append(_start_once(Path(folder)))
    return [
        Figure("studio start to healthy, fresh data folder", statistics.median(fresh), "s", 15),
        Figure("studio start to healthy, existing data folder", statistics.median(warm), "s", 10),
    ]
