"""v1 notebooks: how far the RunDetails widget is behind a run, in a real Jupyter kernel
(target under 1 s), and the first build of an environment with scikit-learn and pandas with
uv against pip, from the same index (the host's pip settings), cold caches (target 5x)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench.figures import Figure
from bench.util import REPO, BenchStudio

PACKAGES = "scikit-learn\npandas\n"
SCRIPT = """
import time
from mlstudio.sdk import Run
run = Run.get_context()
end = time.time() + {seconds}
while time.time() < end:
    run.log("t", time.time())
    time.sleep(0.05)
"""
# Runs in the kernel: the widget redraws; each redraw that shows a new value records how old
# that value is (redraws for a status change after the last value are not lag).
KERNEL_CODE = """
import json, sys, time
sys.path.insert(0, {repo!r})
from mlstudio.sdk import Experiment, ScriptRunConfig, Workspace
from mlstudio.sdk.widgets import RunDetails
ws = Workspace(name="default", url={url!r}, token={token!r})
run = Experiment(ws, "widget-lag").submit(ScriptRunConfig({folder!r}, "train.py"))
view = RunDetails(run)
lags, shown = [], [None]
def measuring(draw):
    def wrapped(v):
        values = v.state["metrics"].get("t")
        newest = (values[-1] if isinstance(values, list) else values) if values else None
        if newest is not None and newest != shown[0]:
            lags.append(time.time() - newest)
            shown[0] = newest
        draw(v)
    return wrapped
view.show()
view._draw = measuring(view._draw)
view.wait(120)
print("LAGS", json.dumps(lags[1:]))
"""


def _cold_build(tool: str, folder: Path) -> float:
    """Seconds to make a virtualenv and install the packages with `tool`, caches empty."""
    sys.path.insert(0, str(REPO))
    from environments import installer

    venv = folder / f"venv-{tool}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirements = folder / "requirements.txt"
    requirements.write_text(PACKAGES)
    base = {**os.environ, "UV_CACHE_DIR": str(folder / "uv-cache"), "PIP_NO_CACHE_DIR": "1"}

    def run(argv, log, *, what, env=None):
        subprocess.run(argv, check=True, env={**base, **(env or {})}, capture_output=True)

    started = time.perf_counter()
    if tool == "uv":
        installer.install(venv / "bin" / "python", requirements, lambda line: None, run)
    else:
        argv = [str(venv / "bin" / "python"), "-m", "pip", "install", "-r", str(requirements)]
        run(argv, None, what="pip")
    return time.perf_counter() - started


def build_figures(quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory() as folder:
        uv = _cold_build("uv", Path(folder))
        pip = _cold_build("pip", Path(folder))
    return [
        Figure("first build, scikit-learn + pandas, uv (cold cache)", uv, "s",
               peer_name="pip", peer_value=pip, min_ratio=5),
    ]  # fmt: skip


def widget_figures(quick: bool) -> list[Figure]:
    try:
        from jupyter_client.manager import start_new_kernel
    except ImportError:
        print("bench v1compat: pip install ipykernel jupyter_client for the widget lag")
        return []
    seconds = 5 if quick else 15
    with BenchStudio() as studio, tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(textwrap.dedent(SCRIPT.format(seconds=seconds)))
        manager, client = start_new_kernel(kernel_name="python3")
        try:
            code = KERNEL_CODE.format(repo=str(REPO), url=studio.url, token=studio.token,
                                      folder=folder)  # fmt: skip
            lags = _run_in_kernel(client, code, timeout=seconds + 120)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    quantiles = statistics.quantiles(lags, n=100)
    return [
        Figure("RunDetails lag behind the run in a kernel, p50", statistics.median(lags), "s",
               target=1.0),
        Figure("RunDetails lag behind the run in a kernel, p99", quantiles[98], "s",
               target=1.0),
    ]  # fmt: skip


def _run_in_kernel(client, code: str, timeout: float) -> list[float]:
    message_id = client.execute(code)
    output, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != message_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            output.append(content["text"])
        elif kind == "error":
            raise RuntimeError("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            break
    line = next(line for line in "".join(output).splitlines() if line.startswith("LAGS "))
    return json.loads(line[5:])


def run(quick: bool) -> list[Figure]:
    return widget_figures(quick) + build_figures(quick)
