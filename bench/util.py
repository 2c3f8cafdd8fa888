"""A real studio for benchmarks: started with `manage.py studio` in a private data folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BenchStudio:
    """`with BenchStudio() as studio:` gives .url, .token and .data_dir of a healthy studio."""

    def __init__(self, data_dir: Path | None = None, slots: int = 2, extra_env=None):
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="mlstudio-bench-")
        self.data_dir = Path(data_dir or self._tmp.name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.slots = slots
        self.env = {**os.environ, "MLSTUDIO_DATA_DIR": str(self.data_dir), **(extra_env or {})}
        for name in ("DATABASE_URL", "REDIS_URL"):
            self.env.pop(name, None)

    def start(self) -> float:
        """Start and return the seconds until /healthz answered 200."""
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "studio", "--port", str(self.port),
             "--slots", str(self.slots)],
            cwd=REPO, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"studio exited; see {self.data_dir}/logs")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)

    def __enter__(self) -> BenchStudio:
        self.start()
        result = subprocess.run(
            [sys.executable, "manage.py", "api_token", "admin", "--workspace", "default"],
            cwd=REPO, env=self.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        self.token = result.stdout.strip().splitlines()[-1]
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def workspace(self):
        sys.path.insert(0, str(REPO))
        from mlstudio.sdk import Workspace

        return Workspace(name="default", url=self.url, token=self.token)
