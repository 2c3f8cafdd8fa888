"""Runs on the local target of a real studio: submit latency, live log latency, resubmit bytes."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.figures import Figure
from bench.util import BenchStudio

FIRST_LINE = "import time\nprint('started', repr(time.time()), flush=True)\n"


def submit_latency(studio: BenchStudio, repeats: int) -> list[float]:
    """Seconds from experiment.submit() being called to the script's first line running."""
    from mlstudio.sdk import Experiment, ScriptRunConfig

    ws = studio.workspace()
    experiment = Experiment(ws, "bench_submit")
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(FIRST_LINE)
        config = ScriptRunConfig(folder, "train.py")
        experiment.submit(config).wait_for_completion()  # warm the worker and the blob store
        samples = []
        for _ in range(repeats):
            called = time.time()
            run = experiment.submit(config)
            run.wait_for_completion()
            text, _, _ = run._read_log("user_logs/std_log.txt", 0)
            samples.append(float(text.split()[1]) - called)
    return samples


PRINTER = """
import time
rate, seconds = {rate}, {seconds}
start = time.time()
for i in range(rate * seconds):
    target = start + i / rate
    while time.time() < target:
        time.sleep(0.0002)
    print(f"{{i}} {{time.time():.6f}}", flush=True)
"""


def log_latency(studio: BenchStudio, rate: int, seconds: int) -> tuple[list[float], int, int]:
    """Per-line delay from print() in the script to a websocket client receiving it."""
    import websockets

    from mlstudio.sdk import Experiment, ScriptRunConfig

    ws = studio.workspace()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(PRINTER.format(rate=rate, seconds=seconds))
        run = Experiment(ws, "bench_logs").submit(ScriptRunConfig(folder, "train.py"))

    async def watch() -> list[float]:
        delays: list[float] = []
        seen = 0
        url = studio.url.replace("http", "ws") + f"/ws/runs/{run.id}/"
        headers = {"Authorization": f"Bearer {studio.token}"}
        async with websockets.connect(url, additional_headers=headers, max_size=None) as sock:
            buffer = ""
            while True:
                event = json.loads(await sock.recv())
                now = time.time()
                if event["kind"] == "status" and event["status"] in ("Completed", "Failed"):
                    return delays
                if event["kind"] != "log" or event["name"] != "user_logs/std_log.txt":
                    continue
                buffer += event["data"]
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    index, stamp = line.split()
                    assert int(index) == seen, f"line {seen} missing or out of order"
                    seen += 1
                    delays.append(now - float(stamp))

    delays = asyncio.run(watch())
    return delays, rate * seconds, len(delays)


def resubmit_bytes(studio: BenchStudio, files: int, total_mb: int) -> tuple[int, int, int]:
    from mlstudio.sdk._snapshot import upload_snapshot

    ws = studio.workspace()
    with tempfile.TemporaryDirectory() as folder:
        size = total_mb * 1024 * 1024 // files
        for i in range(files):
            sub = Path(folder, f"d{i % 20}")
            sub.mkdir(exist_ok=True)
            (sub / f"f{i}.bin").write_bytes(os.urandom(size))
        first = upload_snapshot(ws._client, ws.name, folder)
        (Path(folder, "d0", "f0.bin")).write_bytes(os.urandom(size))
        second = upload_snapshot(ws._client, ws.name, folder)
    return first["uploaded_bytes"], second["uploaded_bytes"], second["total_size"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(quick: bool) -> list[Figure]:
    figures = []
    with BenchStudio() as studio:
        submits = submit_latency(studio, 5 if quick else 20)
        figures.append(
            Figure(
                "submit -> first line, local target (median)", statistics.median(submits), "s", 1
            )
        )
        delays, expected, got = log_latency(studio, 5000, 2 if quick else 10)
        figures += [
            Figure("live log latency p50 @5000 lines/s", percentile(delays, 0.5) * 1000, "ms", 50),
            Figure(
                "live log latency p99 @5000 lines/s", percentile(delays, 0.99) * 1000, "ms", 250
            ),
            Figure("live log lines lost", expected - got, "lines", 0),
        ]
        first, second, total = resubmit_bytes(studio, 200 if quick else 2000, 30 if quick else 300)
        figures += [
            Figure("first submit of the folder: bytes sent", 100 * first / total, "%"),
            Figure("resubmit after one change: bytes sent", 100 * second / total, "%", 1),
        ]
    return figures
