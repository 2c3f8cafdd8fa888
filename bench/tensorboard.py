"""TensorBoard on a real studio: how soon a scalar written to an event file under ./logs is
stored as a metric, and how long opening TensorBoard over a run with 100,000 scalar points
takes through the studio, beside a plain `tensorboard --logdir` on the same files."""

from __future__ import annotations

import http.cookiejar
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.figures import Figure
from bench.util import REPO, BenchStudio, free_port

# Writes one scalar every PAUSE seconds, each flushed at once; its wall time is the write time.
TICKER = """
import time
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
writer = EventFileWriter("logs")
for step in range({count}):
    value = summary_pb2.Summary.Value(tag="lag", simple_value=float(step))
    writer.add_event(event_pb2.Event(summary=summary_pb2.Summary(value=[value]), step=step,
                                     wall_time=time.time()))
    writer.flush()
    time.sleep({pause})
writer.close()
"""

BULK = """
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
writer = EventFileWriter("logs", max_queue_size=10000)
for step in range({points}):
    value = summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))
    writer.add_event(event_pb2.Event(summary=summary_pb2.Summary(value=[value]), step=step))
writer.close()
"""


def _submit(studio: BenchStudio, script: str, name: str):
    from mlstudio.sdk import Experiment, ScriptRunConfig

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(script)
        return Experiment(studio.workspace(), name).submit(ScriptRunConfig(folder, "train.py"))


def store_lag(studio: BenchStudio, count: int) -> list[float]:
    """Seconds from each scalar's write until the studio lists it, polled every 5 ms."""
    run = _submit(studio, TICKER.format(count=count, pause=0.2), "bench_tb_lag")
    client = studio.workspace()._client
    path = f"workspaces/default/runs/{run.id}/metric-list"
    seen: dict[int, float] = {}
    deadline = time.time() + 120
    while len(seen) < count and time.time() < deadline:
        metrics = client.get(path)
        now = time.time()
        stored = next((m["count"] for m in metrics if m["name"] == "lag"), 0)
        for step in range(stored):
            seen.setdefault(step, now)
        time.sleep(0.005)
    run.wait_for_completion()
    series = client.get(f"workspaces/default/runs/{run.id}/series.json?name=lag")
    written = dict(zip(series["steps"], series["times"], strict=True))
    return [seen[step] - written[float(step)] for step in seen if float(step) in written]


def _session(studio: BenchStudio) -> urllib.request.OpenerDirector:
    link = subprocess.run(
        [sys.executable, "manage.py", "login_link", "admin", "--url", studio.url],
        cwd=REPO, env=studio.env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    opener.open(link).read()
    return opener


def _until_scalars(opener, base: str, run: str, timeout: float = 180) -> int:
    query = urllib.parse.urlencode({"run": run, "tag": "loss"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with opener.open(f"{base}data/plugin/scalars/scalars?{query}", timeout=30) as got:
                points = json.loads(got.read())
            if points:
                return len(points)
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no scalars from {base}")


def open_seconds(studio: BenchStudio, points: int) -> tuple[float, float]:
    """Through the studio: start + first scalars answer; and a plain TensorBoard's own."""
    run = _submit(studio, BULK.format(points=points), "bench_tb_open")
    run.wait_for_completion()
    client = studio.workspace()._client
    opener = _session(studio)
    started = time.perf_counter()
    board = client.post("workspaces/default/tensorboards", {"run_ids": [run.id]})
    _until_scalars(opener, f"{studio.url}{board['path']}", run.id)
    studio_seconds = time.perf_counter() - started
    client.request("DELETE", f"workspaces/default/tensorboards/{board['id']}")

    logs = studio.data_dir / "files" / "runs" / run.id / "logs"
    port = free_port()
    started = time.perf_counter()
    plain = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logs), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _until_scalars(urllib.request.build_opener(), f"http://127.0.0.1:{port}/", ".")
        plain_seconds = time.perf_counter() - started
    finally:
        plain.terminate()
        plain.wait(30)
    return studio_seconds, plain_seconds


def run(quick: bool) -> list[Figure]:
    count, points = (20, 20_000) if quick else (50, 100_000)
    with BenchStudio() as studio:
        lags = store_lag(studio, count)
        studio_open, plain_open = open_seconds(studio, points)
    return [
        Figure(f"TensorBoard scalar written -> stored, p50 of {len(lags)}",
               statistics.median(lags) * 1000, "ms", 1000),
        Figure(f"open TensorBoard on a run of {points:,} points, via the studio",
               studio_open, "s", 10, peer_name="plain tensorboard --logdir",
               peer_value=plain_open),
    ]  # fmt: skip
