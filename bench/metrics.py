"""Metrics, side by side with MLflow's tracking server measured in the same run:
ingestion script -> stored, the cost of one run.log() call, and a chart query on a
1,000,000-point series."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import mlflow_peer
from bench.figures import Figure
from bench.util import REPO, BenchStudio

INGEST = """
import time
from mlstudio.sdk import Run
run = Run.get_context()
print("start", repr(time.time()), flush=True)
for i in range({points}):
    run.log("loss", i * 0.001)
run.flush()
print("logged", repr(time.time()), flush=True)
"""

CALL_COST = """
import json, os, tempfile, time
os.environ["MLSTUDIO_RUN_ID"] = "bench_1_00000000"
os.environ["MLSTUDIO_RUN_DIR"] = tempfile.mkdtemp()
from mlstudio.sdk import Run
run = Run.get_context()
run.log("loss", 0.0)
per_call = []
for _ in range(100):
    started = time.perf_counter()
    for i in range(10_000):
        run.log("loss", i * 0.5)
    per_call.append((time.perf_counter() - started) / 10_000)
print(json.dumps(sorted(per_call)[len(per_call) // 2]))
"""


def _get(studio: BenchStudio, path: str) -> tuple[bytes, float]:
    request = urllib.request.Request(
        f"{studio.url}/api/{path}", headers={"Authorization": f"Bearer {studio.token}"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return body, time.perf_counter() - started


def ingestion(studio: BenchStudio, points: int) -> tuple[float, str, int]:
    """Points per second from the script's first log call until all are stored."""
    from mlstudio.sdk import Experiment, ScriptRunConfig

    ws = studio.workspace()
    experiment = Experiment(ws, "bench_metrics")
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(INGEST.format(points=points))
        run = experiment.submit(ScriptRunConfig(folder, "train.py"))
    summaries = f"workspaces/default/experiments/{experiment.id}/metric-summaries?names=loss"
    while True:
        body, _ = _get(studio, summaries)
        stored = json.loads(body).get(run.id, {}).get("loss", {}).get("count", 0)
        if stored >= points:
            done = time.time()
            break
        time.sleep(0.05)  # a tighter poll would steal CPU from the run being measured
    text, _, _ = run._read_log("user_logs/std_log.txt", 0)
    started = float(text.split()[1])
    run.wait_for_completion()
    return points / (done - started), run.id, experiment.id


def call_cost() -> float:
    result = subprocess.run(
        [sys.executable, "-c", CALL_COST],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


def chart_query(studio: BenchStudio, run_id: str) -> tuple[float, int]:
    path = f"workspaces/default/runs/{run_id}/series?name=loss"
    samples, size = [], 0
    for _ in range(7):
        body, seconds = _get(studio, path)
        samples.append(seconds)
        size = len(body)
    return statistics.median(samples), size


def run(quick: bool) -> list[Figure]:
    points = 100_000 if quick else 1_000_000
    with BenchStudio() as studio:
        rate, run_id, _ = ingestion(studio, points)
        query_seconds, payload = chart_query(studio, run_id)
    cost = call_cost()
    mlflow_peer.ensure_mlflow()
    with mlflow_peer.MlflowServer() as server:
        batch = mlflow_peer.log_batch_rate(server.url, points, batch=1000)
        single = mlflow_peer.log_metric_rate(server.url, 1000 if quick else 5000)
        history = mlflow_peer.metric_history(server.url, points)
    return [
        Figure(f"ingestion, {points:,} points script->stored", rate, "points/s", 200_000,
               below=False, peer_name="MLflow log_batch", peer_value=batch["points_per_s"],
               min_ratio=10),
        Figure("ingestion vs MLflow log_metric", rate, "points/s", None, below=False,
               peer_name="MLflow log_metric", peer_value=single["points_per_s"]),
        Figure("one run.log() call inside a script (median)", cost * 1e6, "µs", 5),
        Figure(f"chart query, {points:,}-point series", query_seconds * 1000, "ms", 200,
               peer_name="MLflow get_metric_history", peer_value=history["seconds"] * 1000),
        Figure("chart query payload", payload / 1024, "KiB", 300,
               peer_name="MLflow get-history", peer_value=history["payload_bytes"] / 1024),
    ]  # fmt: skip
