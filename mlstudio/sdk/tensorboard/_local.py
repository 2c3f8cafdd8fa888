"""A TensorBoard over a folder of this machine, for Tensorboard([], local_root=...)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.request

from mlstudio.sdk.exceptions import UserErrorException

READY_SECONDS = 60.0


def serve_folder(folder, port: int) -> subprocess.Popen:
    """Start `tensorboard --logdir folder` on 127.0.0.1:port and wait until it answers."""
    if importlib.util.find_spec("tensorboard") is None:
        raise UserErrorException(
            "Tensorboard(local_root=...) needs the tensorboard package here: pip install "
            "tensorboard. Or pass runs, Tensorboard([run]), for the studio's TensorBoard."
        )
    if not os.path.isdir(folder):
        raise UserErrorException(f"local_root {folder!r} is not a folder.")
    argv = [sys.executable, "-m", "tensorboard.main", "--logdir", os.fspath(folder),
            "--port", str(int(port)), "--host", "127.0.0.1"]  # fmt: skip
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode("utf-8", "replace")[-800:]
            raise UserErrorException(f"TensorBoard on port {port} did not start: {error}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    stop_process(process)
    raise UserErrorException(f"TensorBoard on port {port} did not answer in {READY_SECONDS} s.")


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
