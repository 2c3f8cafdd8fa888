"""MLStudio's MLflow API beside `mlflow server` (SQLite backend, loopback), the same workload
through the real MLflow client on each: log_metric per call, log_batch throughput,
get_metric_history time and bytes, and log_metric → point drawn on an open run page."""

from __future__ import annotations

import gzip
import http.client
import os
import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench import mlflow_peer
from bench.figures import Figure
from bench.ui import CHROMIUM_ARGS, _login
from bench.util import BenchStudio

KEY = "loss"


def _client(url: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url)


def log_metric_p50(url: str, calls: int) -> float:
    client = _client(url)
    run_id = client.create_run(client.create_experiment(f"m{time.time_ns()}")).info.run_id
    base, samples = int(time.time() * 1000), []
    for i in range(calls):
        started = time.perf_counter()
        client.log_metric(run_id, KEY, 1 / (i + 1), timestamp=base + i, step=i, synchronous=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _batches(url: str, points: int) -> tuple[str, float]:
    from mlflow.entities import Metric

    client = _client(url)
    run_id = client.create_run(client.create_experiment(f"b{time.time_ns()}")).info.run_id
    base = int(time.time() * 1000)
    metrics = [Metric(KEY, 1 / (1 + 1e-3 * i), base + i, i) for i in range(points)]
    started = time.perf_counter()
    for i in range(0, points, 1000):
        client.log_batch(run_id, metrics=metrics[i : i + 1000], synchronous=True)
    return run_id, points / (time.perf_counter() - started)


def server_log_batch(url: str, points: int, token: str | None) -> float:
    """Points/s of the server alone: the log-batch bodies the MLflow client would send, made
    by its own encoder before the clock starts, POSTed on one keep-alive connection."""
    from mlflow.entities import Metric
    from mlflow.protos.service_pb2 import LogBatch
    from mlflow.utils.proto_json_utils import message_to_json

    client = _client(url)
    run_id = client.create_run(client.create_experiment(f"s{time.time_ns()}")).info.run_id
    base = int(time.time() * 1000)
    bodies = [
        message_to_json(LogBatch(run_id=run_id, metrics=[
            Metric(KEY, 1 / (1 + 1e-3 * i), base + i, i).to_proto() for i in range(j, j + 1000)
        ])).encode()
        for j in range(0, points, 1000)
    ]  # fmt: skip
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    headers = {"Content-Type": "application/json",
               **({"Authorization": f"Bearer {token}"} if token else {})}  # fmt: skip
    started = time.perf_counter()
    for body in bodies:
        connection.request("POST", f"{parts.path}/api/2.0/mlflow/runs/log-batch", body, headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
    elapsed = time.perf_counter() - started
    connection.close()
    return points / elapsed


def client_floor(points: int) -> tuple[float, float]:
    """What the MLflow client itself costs, its HTTP transport replaced by a fake that answers
    at once: seconds per 1,000-point log_batch, and seconds to turn a history of `points`
    (answered as MLflow's JSON) into Metric objects. No server can be faster through it."""
    import json
    from unittest import mock

    import mlflow.utils.rest_utils as rest_utils

    history = json.dumps({"metrics": [{"key": KEY, "value": 1 / (i + 1), "timestamp": i,
                                       "step": i} for i in range(points)]})  # fmt: skip

    class FakeResponse:  # a fake: the answer of a server that takes no time
        status_code = 200

        def __init__(self, text: str):
            self.text = text

    def answer(*args, **kwargs):
        return FakeResponse(history if "get-history" in kwargs.get("endpoint", "") else "{}")

    from mlflow.entities import Metric

    metrics = [Metric(KEY, 1 / (i + 1), i, i) for i in range(20_000)]
    with mock.patch.object(rest_utils, "http_request", answer):
        client = _client("http://127.0.0.1:9")
        started = time.perf_counter()
        for i in range(0, len(metrics), 1000):
            client.log_batch("r", metrics=metrics[i : i + 1000], synchronous=True)
        per_batch = (time.perf_counter() - started) / (len(metrics) / 1000)
        started = time.perf_counter()
        client._tracking_client.store.get_metric_history("r", KEY)
        parse = time.perf_counter() - started
    return per_batch, parse


def history(url: str, run_id: str, points: int, token: str | None) -> tuple[float, float, int]:
    """Median of 3 get_metric_history calls; median of 3 fetches of the REST pages behind one
    (the server alone); and those pages' bytes."""
    client = _client(url)
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        got = client.get_metric_history(run_id, KEY)
        samples.append(time.perf_counter() - started)
        assert len(got) == points, (len(got), points)
    rest = []
    for _ in range(3):
        started = time.perf_counter()
        payload = _pages(url, run_id, token)
        rest.append(time.perf_counter() - started)
    return statistics.median(samples), statistics.median(rest), payload


def _pages(url: str, run_id: str, token: str | None) -> int:
    payload, page_token = 0, None
    while True:
        query = {"run_id": run_id, "metric_key": KEY, "max_results": 25_000}
        if page_token:
            query["page_token"] = page_token
        request = urllib.request.Request(
            f"{url}/api/2.0/mlflow/metrics/get-history?{urllib.parse.urlencode(query)}",
            headers={"Accept-Encoding": "gzip, deflate",
                     **({"Authorization": f"Bearer {token}"} if token else {})},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=600) as response:
            body = response.read()
            zipped = response.headers.get("Content-Encoding") == "gzip"
        payload += len(body)
        import json

        page_token = json.loads(gzip.decompress(body) if zipped else body).get("next_page_token")
        if not page_token:
            return payload


def browser_p50(studio: BenchStudio, url: str, points: int) -> tuple[float, int]:
    """p50 from log_metric to the point drawn, and how many points were not drawn in 10 s
    (counted as 10 s, not dropped, so a miss raises the figure)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    client = _client(url)
    experiment_id = client.create_experiment(f"ui{time.time_ns()}")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, KEY, 1.0, step=0)
    delays, missed = [], 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)  # fmt: skip
        page = browser.new_page()
        _login(page, studio)
        page.goto(f"{studio.url}/w/default/runs/{run_id}/#metrics")
        page.wait_for_function(f"document.querySelector(\"[data-metric='{KEY}']\")?.data")
        for step in range(1, points + 1):
            started = time.perf_counter()
            client.log_metric(run_id, KEY, 1 / (step + 1), step=step)
            try:
                page.wait_for_function(
                    f"document.querySelector(\"[data-metric='{KEY}']\").data[0].x"
                    f".includes({step})", polling="raf", timeout=10_000,
                )  # fmt: skip
            except PlaywrightTimeout:
                missed += 1
            delays.append(time.perf_counter() - started)
        browser.close()
    return statistics.median(delays), missed


def _mean(rounds: list[dict]) -> dict:
    return {key: statistics.mean(r[key] for r in rounds) for key in rounds[0]}


def _measure(url: str, token: str | None, sizes: dict) -> dict:
    figures = {"log_metric": log_metric_p50(url, sizes["calls"])}
    _, figures["log_batch"] = _batches(url, sizes["batch"])
    figures["server_batch"] = server_log_batch(url, sizes["batch"], token)
    run_id, _ = _batches(url, sizes["history"])
    figures["history_s"], figures["history_rest"], figures["history_bytes"] = history(
        url, run_id, sizes["history"], token
    )
    return figures


def run(quick: bool) -> list[Figure]:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        print(
            "bench mlflow_api needs the MLflow client: pip install 'mlflow>=3,<4'", file=sys.stderr
        )
        return []
    sizes = ({"calls": 200, "batch": 100_000, "history": 100_000, "ui": 10} if quick
             else {"calls": 1000, "batch": 1_000_000, "history": 100_000, "ui": 30})  # fmt: skip
    os.environ.update(mlflow_peer.QUIET)
    # The peer server runs from this environment's mlflow, like the client.
    mlflow_peer.ensure_mlflow = lambda: Path(sys.executable)
    # Both servers up at once, measured in turn peer, ours, ours, peer: a shared machine's
    # load drifts, and the A-B-B-A order gives each side the same share of it.
    with mlflow_peer.MlflowServer() as server, BenchStudio() as studio:
        from mlstudio.sdk import Workspace

        url = Workspace(
            name="default", url=studio.url, token=studio.token
        ).get_mlflow_tracking_uri()
        sides = {"peer": (server.url, None), "ours": (url, studio.token)}
        rounds: dict[str, list[dict]] = {"peer": [], "ours": []}
        for name in ("peer", "ours", "ours", "peer"):
            rounds[name].append(_measure(*sides[name], sizes))
        peer, ours = (_mean(rounds[name]) for name in ("peer", "ours"))
        visible, missed = browser_p50(studio, url, sizes["ui"])
        if missed:
            print(f"bench mlflow_api: {missed} of {sizes['ui']} points were not drawn within "
                  "10 s", file=sys.stderr)  # fmt: skip
    per_batch, parse = client_floor(sizes["history"])
    peer_name = "mlflow server"
    return [
        Figure("MLflow log_metric per call, p50", ours["log_metric"] * 1000, "ms", None,
               peer_name=peer_name, peer_value=peer["log_metric"] * 1000),
        Figure(f"MLflow log_batch, {sizes['batch']:,} points", ours["log_batch"], "points/s",
               None, below=False, peer_name=peer_name, peer_value=peer["log_batch"], min_ratio=5),
        Figure(f"  server alone (client-encoded bodies replayed), {sizes['batch']:,} points",
               ours["server_batch"], "points/s", None, below=False, peer_name=peer_name,
               peer_value=peer["server_batch"], min_ratio=5),
        Figure("  the MLflow client's own ceiling (transport faked), 1,000-point batches",
               1000 / per_batch, "points/s", None, below=False),
        Figure(f"MLflow get_metric_history, {sizes['history']:,} points", ours["history_s"], "s",
               None, peer_name=peer_name, peer_value=peer["history_s"], min_ratio=10),
        Figure("  server alone (the REST pages fetched)", ours["history_rest"], "s", None,
               peer_name=peer_name, peer_value=peer["history_rest"], min_ratio=10),
        Figure("  the MLflow client's own parse of them (transport faked)", parse, "s", None),
        Figure("MLflow get-history bytes (gzip if offered)", ours["history_bytes"] / 1e6, "MB",
               None, peer_name=peer_name, peer_value=peer["history_bytes"] / 1e6),
        Figure("MLflow log_metric -> point on the run page, p50", visible * 1000, "ms", 1000),
    ]  # fmt: skip
