"""From `python manage.py studio` to a healthy /healthz, on a fresh data folder and a reused one."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.figures import Figure

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_once(data_dir: Path) -> float:
    port = _free_port()
    env = {**os.environ, "MLSTUDIO_DATA_DIR": str(data_dir)}
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "studio", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"studio exited with {process.returncode}; see {data_dir}/logs")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


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
