"""Many runs printing at once, many watchers: 50 runs at 100 lines/s each on the local target
of a real studio, two websocket watchers per run (100). Lines lost (a watcher must see every
line, in order), print → watcher delay p50 and p99, the peak memory of the studio's
processes (the supervisor and all it started, the runs' scripts included), and the log
events a watcher received per line (how much the executor batched).

`MLSTUDIO_BENCH_LOAD=runs,lines_per_second,seconds` sets another scale (e.g. `25,100,20` on a
machine others are loading too)."""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

from bench.figures import Figure
from bench.util import BenchStudio

WATCHERS_PER_RUN = 2
LOG = "user_logs/std_log.txt"
# The watchers share a few client processes, as browsers would not share one event loop;
# a single Python process parsing every message would be what queues.
WATCHER_PROCESSES = 4
# Sleeps until each line is due, as a training loop that prints between steps does (a
# spinning printer would starve the studio of CPU on a 2-core machine).
PRINTER = """
import time
rate, seconds = {rate}, {seconds}
start = time.time()
for i in range(rate * seconds):
    delay = start + i / rate - time.time()
    if delay > 0:
        time.sleep(delay)
    print(f"{{i}} {{time.time():.6f}}", flush=True)
"""


def scale(quick: bool) -> tuple[int, int, int]:
    given = os.environ.get("MLSTUDIO_BENCH_LOAD")
    if given:
        runs, rate, seconds = (int(part) for part in given.split(","))
        return runs, rate, seconds
    return (10, 100, 5) if quick else (50, 100, 20)


def run(quick: bool) -> list[Figure]:
    runs, rate, seconds = scale(quick)
    with BenchStudio(slots=runs) as studio:
        memory = PeakMemory(studio.process.pid)
        memory.start()
        delays, lost, events, failed, connects = _load(studio, runs, rate, seconds)
        memory.stop()
    delays.sort()
    lines = runs * WATCHERS_PER_RUN * rate * seconds
    what = f"load {runs} runs x {rate} lines/s, {runs * WATCHERS_PER_RUN} watchers"
    return [
        Figure(f"{what}: lines lost", lost, "lines", 0),
        Figure("load: runs not Completed", len(failed), "runs", 0),
        Figure("load: print -> watcher p50", _percentile(delays, 0.5) * 1000, "ms"),
        Figure("load: print -> watcher p99", _percentile(delays, 0.99) * 1000, "ms", 250),
        # Lines printed while a watcher connects reach it only once it has connected.
        Figure("load: watcher connect -> first event p50", _percentile(connects, 0.5), "s"),
        Figure("load: watcher connect -> first event p99", _percentile(connects, 0.99), "s"),
        Figure("load: log events per line received", events / max(1, lines - lost), "events"),
        Figure("load: peak memory of the studio's processes", memory.peak / 2**20, "MiB"),
    ]


def _load(studio: BenchStudio, runs: int, rate: int, seconds: int):
    """Delays, lines lost, log events received, and the runs that did not complete."""
    from mlstudio.sdk import Experiment, ScriptRunConfig

    experiment = Experiment(studio.workspace(), "bench_load")
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(PRINTER.format(rate=rate, seconds=seconds))
        submitted = [experiment.submit(ScriptRunConfig(folder, "train.py")) for _ in range(runs)]
    watched = [r.id for r in submitted for _ in range(WATCHERS_PER_RUN)]
    shares = [watched[i::WATCHER_PROCESSES] for i in range(WATCHER_PROCESSES)]
    url = studio.url.replace("http", "ws")
    with multiprocessing.get_context("spawn").Pool(WATCHER_PROCESSES) as pool:
        results = pool.starmap(_watch_share, [(url, studio.token, share) for share in shares])
    watchers = [watcher for share in results for watcher in share]
    pairs = sorted(d for watched, *_ in watchers for d in watched)
    _print_by_window(pairs)
    delays = [delay for _, delay in pairs]
    lost = sum(rate * seconds - seen for _, seen, _, _ in watchers)
    events = sum(count for _, _, count, _ in watchers)
    connects = sorted(first for *_, first in watchers)
    failed = [r for r in submitted if r.get_status() != "Completed"]
    for r in failed:
        print(f"{r.id}: {r.get_status()}: {r.get_details().get('statusDetail')}", file=sys.stderr)
    return delays, lost, events, failed, connects


def _watch_share(url: str, token: str, run_ids: list[str]) -> list[tuple]:
    async def watch_all():
        return await asyncio.gather(*(_watch(url, token, run_id) for run_id in run_ids))

    return asyncio.run(watch_all())


async def _watch(url: str, token: str, run_id: str) -> tuple:
    """Like the run page: on a dropped connection, connect again and ask for what follows the
    bytes it has (the reconnects count as events). Returns the (printed at, delay) pairs, the
    lines seen, the events, and the seconds from connecting to the first event."""
    import websockets

    watcher = _Watcher()
    while not watcher.done:
        offsets = quote(json.dumps({LOG: watcher.offset}))
        try:
            async with websockets.connect(
                f"{url}/ws/runs/{run_id}/?offsets={offsets}",
                additional_headers={"Authorization": f"Bearer {token}"}, max_size=None,
            ) as sock:  # fmt: skip
                while not watcher.done:
                    watcher.take(json.loads(await sock.recv()))
        except websockets.ConnectionClosedError:
            watcher.events += 1
    return watcher.delays, watcher.seen, watcher.events, watcher.first


class _Watcher:
    def __init__(self):
        self.delays: list[tuple[float, float]] = []  # (printed at, delay)
        self.seen = self.events = self.offset = 0
        self.buffer = ""
        self.done = False
        # Lines printed before the watcher was there come from the store, not live: they
        # count for loss and order, not for delay.
        self.connected = time.time()
        self.first = float("nan")

    def take(self, event: dict) -> None:
        now = time.time()
        if math.isnan(self.first):
            self.first = now - self.connected
        if event["kind"] == "status" and event["status"] in ("Completed", "Failed"):
            self.done = True
        if event["kind"] != "log" or event["name"] != LOG:
            return
        self.events += 1
        self.offset = event["offset"] + len(event["data"].encode())
        self.buffer += event["data"]
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            index, stamp = line.split()
            if int(index) != self.seen:
                self.done = True  # a gap: what follows counts as lost
                return
            self.seen += 1
            if float(stamp) >= self.connected:
                self.delays.append((float(stamp), now - float(stamp)))


class PeakMemory(threading.Thread):
    """The largest total resident size of a process and its descendants, sampled."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        from mlstudio.processes import resident

        while not self.stopping.wait(0.5):
            self.peak = max(self.peak, resident(self.pid))

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def _print_by_window(pairs: list[tuple[float, float]], window: float = 5.0) -> None:
    """Where the delay is: p50/p99 of the lines printed in each window of the load."""
    if not pairs:
        return
    start = pairs[0][0]
    buckets: dict[int, list[float]] = {}
    for stamp, delay in pairs:
        buckets.setdefault(int((stamp - start) // window), []).append(delay)
    for index, delays in sorted(buckets.items()):
        delays.sort()
        print(f"  printed at {index * window:>4.0f}-{(index + 1) * window:.0f} s: "
              f"p50 {_percentile(delays, 0.5) * 1000:.0f} ms, "
              f"p99 {_percentile(delays, 0.99) * 1000:.0f} ms ({len(delays)} lines)",
              file=sys.stderr)  # fmt: skip


def _percentile(values: list[float], q: float) -> float:
    """`values` sorted; NaN when there are none."""
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")
