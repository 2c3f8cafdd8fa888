"""MLflow's local tracking server as the peer for the metric benchmarks.

MLflow lives in its own virtualenv (<repo>/.bench-venv/mlflow, made once by `ensure_mlflow`,
which needs PyPI), so this environment never imports it: each measurement writes a small
client script to a temp file and runs it with the venv's python, which prints a JSON result
on its last line.

    from bench.mlflow_peer import MlflowServer, log_batch_rate

    with MlflowServer() as server:               # sqlite store in a temp folder, loopback only
        peer = log_batch_rate(server.url, 1_000_000)
        peer["points_per_s"]

`python -m bench.mlflow_peer [--full]` runs the three measurements and prints their results
(small sizes by default; --full uses the sizes of the metric benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.util import free_port

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".bench-venv" / "mlflow"
MLFLOW_SPEC = "mlflow>=3,<4"
# Rows per get-history page: what MlflowClient.get_metric_history asks for
# (mlflow.store.tracking.GET_METRIC_HISTORY_MAX_RESULTS).
PAGE_SIZE = 25_000
# No usage telemetry from the server or the clients (this machine only reaches PyPI anyway).
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
# mlflow server (3.x) also starts a job runner and seven huey consumers for its GenAI jobs
# (scorers, trace rollups, periodic tasks): ~0.5 GB and CPU at startup, no part of metric
# tracking. MlflowServer(jobs=False), the default, turns them off.
NO_JOBS = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def venv_python() -> Path:
    return VENV / "bin" / "python"


def _imports_mlflow(python: Path) -> bool:
    if not python.exists():
        return False
    return subprocess.run([python, "-c", "import mlflow"], capture_output=True).returncode == 0


def ensure_mlflow() -> Path:
    """Return the python of a virtualenv with mlflow installed, creating it the first time.

    The venv is <repo>/.bench-venv/mlflow; it is reused as long as it imports mlflow.
    """
    python = venv_python()
    if _imports_mlflow(python):
        return python
    started = time.perf_counter()
    print(f"creating {VENV} with {MLFLOW_SPEC} …", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", VENV], check=True)
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--upgrade", "pip", MLFLOW_SPEC],
        capture_output=True, text=True,
    )  # fmt: skip
    if install.returncode != 0 or not _imports_mlflow(python):
        raise RuntimeError(f"installing {MLFLOW_SPEC} into {VENV} failed:\n{install.stderr}")
    took = time.perf_counter() - started
    print(f"created {VENV} (mlflow {mlflow_version()}) in {took:.0f} s", file=sys.stderr)
    return python


def mlflow_version() -> str:
    """The version of mlflow in the venv (creating the venv if needed)."""
    python = ensure_mlflow()
    probe = [python, "-c", "import mlflow; print(mlflow.__version__)"]
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()


class MlflowServer:
    """`with MlflowServer() as server:` gives .url of a healthy `mlflow server`.

    The server runs from the mlflow venv on 127.0.0.1 at a free port, with a SQLite backend
    store and an artifact root in a temp folder that is removed on exit. `workers` is passed
    to `mlflow server --workers` (mlflow's own default is 4; one is plenty for the single
    sequential client the measurements use, and cheaper on a 2-core machine). `jobs=False`
    sets MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false (see NO_JOBS).
    .startup_seconds is how long the server took to answer its first API call; start() then
    warms it up and waits for its processes to go idle (.settle_seconds) before returning.
    """

    def __init__(self, workers: int = 1, jobs: bool = False, timeout: float = 120):
        self.workers = workers
        self.jobs = jobs
        self.timeout = timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self.settle_seconds: float | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def start(self) -> float:
        """Start the server, warm it up, wait until it is idle; return .startup_seconds."""
        python = ensure_mlflow()
        self._tmp = tempfile.TemporaryDirectory(prefix="mlflow-peer-")
        self.folder = Path(self._tmp.name)
        self.log_path = self.folder / "server.log"
        command = [
            python.parent / "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
            "--default-artifact-root", str(self.folder / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(self.workers),
        ]  # fmt: skip
        env = {**os.environ, **QUIET, **({} if self.jobs else NO_JOBS)}
        started = time.perf_counter()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.folder, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() reaches uvicorn's workers
            )  # fmt: skip
        probe = f"{self.url}/api/2.0/mlflow/experiments/search?max_results=1"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{self.log_tail()}")
            if time.perf_counter() - started > self.timeout:
                self.stop()
                raise RuntimeError(f"mlflow server not answering after {self.timeout} s")
            try:
                with urllib.request.urlopen(probe, timeout=2) as response:
                    if response.status == 200:
                        self.startup_seconds = time.perf_counter() - started
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        settling = time.perf_counter()
        self._warm_up()
        self._wait_quiet()
        self.settle_seconds = time.perf_counter() - settling
        return self.startup_seconds

    def _api(self, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/2.0/mlflow/{path}", data=data,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def _warm_up(self) -> None:
        """One small write and read through the REST API, so the first measurement does not
        pay for the server's lazy imports and first queries."""
        now = int(time.time() * 1000)
        experiment = self._api("experiments/create", {"name": f"warm-up-{time.time_ns()}"})
        run = self._api("runs/create", {"experiment_id": experiment["experiment_id"],
                                        "start_time": now})  # fmt: skip
        run_id = run["run"]["info"]["run_id"]
        metrics = [{"key": "loss", "value": 1.0 / (i + 1), "timestamp": now + i, "step": i}
                   for i in range(100)]  # fmt: skip
        self._api("runs/log-batch", {"run_id": run_id, "metrics": metrics})
        self._api(f"metrics/get-history?run_id={run_id}&metric_key=loss")

    def _wait_quiet(self, seconds: float = 60, idle: float = 0.05) -> None:
        """Wait (at most `seconds`) until the server's processes, together, use less than
        `idle` of one CPU over a 0.5 s window, twice in a row: with jobs=True the job runner
        and its consumers are still starting when the API first answers."""
        deadline = time.monotonic() + seconds
        quiet, before = 0, _group_cpu_seconds(self.process.pid)
        while quiet < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            now = _group_cpu_seconds(self.process.pid)
            quiet = quiet + 1 if now - before < idle * 0.5 else 0
            before = now

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server's whole process group (SIGTERM, then SIGKILL after 15 s)."""
        if self.process is None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait)
                _wait_group_gone(self.process.pid, wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.process = None

    def close(self) -> None:
        """Stop the server and remove its temp folder (database, artifacts, log)."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> MlflowServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes in process group `pgid` (Linux /proc;
    0 elsewhere)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp … utime(11) stime(12)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_group_gone(pgid: int, seconds: float) -> None:
    """Wait until no process of the group is left (uvicorn's workers may outlive the parent)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise subprocess.TimeoutExpired(f"process group {pgid}", seconds)


CLIENT = r"""
import gzip, json, statistics, sys, time, urllib.parse, urllib.request

from mlflow import MlflowClient
from mlflow.entities import Metric

args = json.loads(sys.argv[1])
url, mode, points = args["url"], args["mode"], args["points"]
client = MlflowClient(tracking_uri=url)
KEY = "loss"


def value(i):
    return 1.0 / (1.0 + 1e-3 * i)  # a decaying loss curve: full-precision floats


def log_batches(run_id, batch):
    base = int(time.time() * 1000)
    metrics = [Metric(KEY, value(i), base + i, i) for i in range(points)]  # built before timing
    started = time.perf_counter()
    for i in range(0, points, batch):
        client.log_batch(run_id, metrics=metrics[i : i + batch], synchronous=True)
    return time.perf_counter() - started


experiment_id = client.create_experiment(f"bench-{mode}-{time.time_ns()}")
run_id = client.create_run(experiment_id).info.run_id

if mode == "log_batch":
    seconds = log_batches(run_id, args["batch"])
    result = {"points": points, "batch": args["batch"], "seconds": seconds,
              "points_per_s": points / seconds}

elif mode == "log_metric":
    base = int(time.time() * 1000)
    started = time.perf_counter()
    for i in range(points):
        client.log_metric(run_id, KEY, value(i), timestamp=base + i, step=i, synchronous=True)
    seconds = time.perf_counter() - started
    result = {"points": points, "seconds": seconds, "points_per_s": points / seconds}

elif mode == "history":
    log_seconds = log_batches(run_id, args["batch"])
    samples = []
    for _ in range(args["repeats"]):
        started = time.perf_counter()
        history = client.get_metric_history(run_id, KEY)
        samples.append(time.perf_counter() - started)
        assert len(history) == points, (len(history), points)
        del history
    # The REST calls behind get_metric_history, made by hand to count the bytes of the bodies.
    payload, pages, returned, token, encodings = 0, 0, 0, None, set()
    started = time.perf_counter()
    while True:
        query = {"run_id": run_id, "metric_key": KEY, "max_results": args["page_size"]}
        if token:
            query["page_token"] = token
        request = urllib.request.Request(
            f"{url}/api/2.0/mlflow/metrics/get-history?{urllib.parse.urlencode(query)}",
            headers={"Accept-Encoding": "gzip, deflate"},  # what the client (requests) sends
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            body = response.read()
            encoding = response.headers.get("Content-Encoding") or "identity"
        payload += len(body)  # bytes on the wire, compressed or not
        pages += 1
        encodings.add(encoding)
        page = json.loads(gzip.decompress(body) if encoding == "gzip" else body)
        returned += len(page.get("metrics", []))
        token = page.get("next_page_token")
        if not token:
            break
    rest_seconds = time.perf_counter() - started
    assert returned == points, (returned, points)
    result = {"points": points, "seconds": statistics.median(samples), "samples": samples,
              "payload_bytes": payload, "bytes_per_point": payload / points, "pages": pages,
              "page_size": args["page_size"], "content_encoding": sorted(encodings),
              "rest_seconds": rest_seconds, "log_seconds": log_seconds}

print(json.dumps(result))
"""


def _run_client(url: str, mode: str, points: int, **params) -> dict:
    """Run CLIENT with the mlflow venv's python against `url`; return its last-line JSON."""
    python = ensure_mlflow()
    args = json.dumps({"url": url, "mode": mode, "points": points, **params})
    with tempfile.TemporaryDirectory(prefix="mlflow-peer-client-") as folder:
        script = Path(folder, "client.py")
        script.write_text(CLIENT)
        done = subprocess.run(
            [python, script, args], cwd=folder, capture_output=True, text=True,
            env={**os.environ, **QUIET, "MLFLOW_TRACKING_URI": url},
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"mlflow client ({mode}) failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def log_batch_rate(url: str, points: int, batch: int = 1000) -> dict:
    """Log `points` points of one metric key to one run with MlflowClient.log_batch.

    `batch` points per call (MLflow accepts at most 1000). The Metric objects are built
    before the clock starts; `seconds` runs from the first call to the last call returning
    (each call returns once the server has stored the batch).
    Returns {"points", "batch", "seconds", "points_per_s"}.
    """
    return _run_client(url, "log_batch", points, batch=batch)


def log_metric_rate(url: str, points: int) -> dict:
    """Log `points` points of one metric key to one run with MlflowClient.log_metric, one
    point per call (synchronous: each call returns once the server has stored the point).
    Returns {"points", "seconds", "points_per_s"}.
    """
    return _run_client(url, "log_metric", points)


def metric_history(url: str, points: int, repeats: int = 3, batch: int = 1000) -> dict:
    """Log a `points`-point series with log_batch, then read it back.

    `seconds` is the median of `repeats` MlflowClient.get_metric_history(run_id, key) calls
    (the client pages through /api/2.0/mlflow/metrics/get-history, PAGE_SIZE rows a page).
    `payload_bytes` sums the response bodies of those same REST calls, made again with
    urllib: the bytes a client downloads to read the whole series.
    Returns {"points", "seconds", "payload_bytes"} and details: "samples", "bytes_per_point",
    "pages", "page_size", "content_encoding", "rest_seconds" (the raw REST fetch alone) and
    "log_seconds" (writing the series).
    """
    return _run_client(url, "history", points, repeats=repeats, batch=batch, page_size=PAGE_SIZE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mlflow_peer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="1,000,000 log_batch points, 5,000 log_metric points and a "
        "1,000,000-point history (several minutes)",
    )
    parser.add_argument("--workers", type=int, default=1, help="mlflow server --workers")
    parser.add_argument("--jobs", action="store_true", help="keep mlflow's job runner on")
    args = parser.parse_args(argv)
    sizes = (1_000_000, 5_000, 1_000_000) if args.full else (20_000, 1_000, 100_000)
    print(f"mlflow {mlflow_version()} from {VENV}", flush=True)
    with MlflowServer(workers=args.workers, jobs=args.jobs) as server:
        print(
            f"server {server.url} (workers={server.workers}, jobs={server.jobs}) answered "
            f"after {server.startup_seconds:.1f} s, idle {server.settle_seconds:.1f} s later",
            flush=True,
        )
        for name, measure, points in (
            ("log_batch", log_batch_rate, sizes[0]),
            ("log_metric", log_metric_rate, sizes[1]),
            ("get_metric_history", metric_history, sizes[2]),
        ):
            started = time.perf_counter()
            result = measure(server.url, points)
            took = time.perf_counter() - started
            print(f"{name} ({took:.0f} s wall): {json.dumps(result)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
