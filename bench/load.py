"""Many runs printing at once, many watchers: 50 runs at 100 lines/s each on the local target
of a real studio, two websocket watchers per run (100). Lines lost (a watcher must see every
line, in order), print → watcher delay p50 and p99, and the peak memory of the studio's
processes (the supervisor and all it started, the runs' scripts included)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench.figures import Figure
from bench.runs import PRINTER
from bench.util import BenchStudio

WATCHERS_PER_RUN = 2


def run(quick: bool) -> list[Figure]:
    runs, rate, seconds = (10, 100, 5) if quick else (50, 100, 20)
    with BenchStudio(slots=runs) as studio:
        memory = PeakMemory(studio.process.pid)
        memory.start()
        delays, lost = _load(studio, runs, rate, seconds)
        memory.stop()
    delays.sort()
    return [
        Figure(
            f"load {runs} runs x {rate} lines/s, {runs * WATCHERS_PER_RUN} watchers: lines lost",
            lost,
            "lines",
            0,
        ),
        Figure("load: print -> watcher p50", _percentile(delays, 0.5) * 1000, "ms"),
        Figure("load: print -> watcher p99", _percentile(delays, 0.99) * 1000, "ms", 250),
        Figure("load: peak memory of the studio's processes", memory.peak / 2**20, "MiB"),
    ]


def _load(studio: BenchStudio, runs: int, rate: int, seconds: int) -> tuple[list[float], int]:
    from mlstudio.sdk import Experiment, ScriptRunConfig

    experiment = Experiment(studio.workspace(), "bench_load")
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(PRINTER.format(rate=rate, seconds=seconds))
        submitted = [experiment.submit(ScriptRunConfig(folder, "train.py")) for _ in range(runs)]

    async def all_watchers() -> list[tuple[list[float], int]]:
        return await asyncio.gather(*(
            _watch(studio, r.id) for r in submitted for _ in range(WATCHERS_PER_RUN)
        ))  # fmt: skip

    results = asyncio.run(all_watchers())
    delays = [d for watched, _ in results for d in watched]
    lost = sum(rate * seconds - seen for _, seen in results)
    return delays, lost


async def _watch(studio: BenchStudio, run_id: str) -> tuple[list[float], int]:
    import websockets

    url = studio.url.replace("http", "ws") + f"/ws/runs/{run_id}/"
    headers = {"Authorization": f"Bearer {studio.token}"}
    delays: list[float] = []
    seen, buffer = 0, ""
    async with websockets.connect(url, additional_headers=headers, max_size=None) as sock:
        while True:
            event = json.loads(await sock.recv())
            now = time.time()
            if event["kind"] == "status" and event["status"] in ("Completed", "Failed"):
                return delays, seen
            if event["kind"] != "log" or event["name"] != "user_logs/std_log.txt":
                continue
            buffer += event["data"]
            *lines, buffer = buffer.split("\n")
            for line in lines:
                index, stamp = line.split()
                if int(index) != seen:
                    return delays, seen  # a gap: what follows counts as lost
                seen += 1
                delays.append(now - float(stamp))


class PeakMemory(threading.Thread):
    """The largest total resident size of a process and its descendants, sampled."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            total = 0
            for proc in [self.root, *self.root.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def _percentile(values: list[float], q: float) -> float:
    """`values` sorted; NaN when there are none."""
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")
