"""The studio in a real Chromium: how soon a printed line is visible on the run page, and
what the run page weighs and takes to load with a 1,000,000-point metric and a 100 MB log."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure
from bench.util import REPO, BenchStudio

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip

TICKER = """
import time
time.sleep(3)  # time for the page to open
for i in range({count}):
    print(f"tick {{i}} {{time.time():.6f}}", flush=True)
    time.sleep(0.01)
"""

HEAVY = """
from mlstudio.sdk import Run
run = Run.get_context()
line = "x" * 99
for i in range({lines}):
    print(line)
for i in range({points}):
    run.log("loss", i * 1e-6)
"""

# Watches the log element and notes when each tick line appears, in wall-clock seconds.
OBSERVER = """
window.seen = [];
new MutationObserver(() => {
  const now = Date.now() / 1000;
  const text = document.getElementById('log').textContent;
  for (const match of text.matchAll(/tick (\\d+) ([\\d.]+)/g)) {
    const i = Number(match[1]);
    if (window.seen[i] === undefined) window.seen[i] = now - Number(match[2]);
  }
}).observe(document.getElementById('log'), {childList: true, characterData: true, subtree: true});
"""


def _login(page, studio: BenchStudio) -> None:
    link = subprocess.run(
        [sys.executable, "manage.py", "login_link", "admin", "--url", studio.url],
        cwd=REPO, env=studio.env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    page.goto(link)
    page.wait_for_selector("text=Workspaces")


def _submit(studio: BenchStudio, script: str, name: str):
    from mlstudio.sdk import Experiment, ScriptRunConfig

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(script)
        return Experiment(studio.workspace(), name).submit(ScriptRunConfig(folder, "train.py"))


def print_to_visible(studio: BenchStudio, browser, count: int) -> list[float]:
    page = browser.new_page()
    _login(page, studio)
    run = _submit(studio, TICKER.format(count=count), "bench_ui")
    page.goto(f"{studio.url}/w/default/runs/{run.id}/#outputs")
    page.evaluate(OBSERVER)
    run.wait_for_completion()
    time.sleep(1)
    delays = [d for d in page.evaluate("window.seen") if d is not None]
    page.close()
    return delays


def heavy_page(studio: BenchStudio, browser, lines: int, points: int) -> tuple[float, int]:
    run = _submit(studio, HEAVY.format(lines=lines, points=points), "bench_heavy")
    run.wait_for_completion()
    page = browser.new_page()
    _login(page, studio)
    sizes: list[int] = []
    page.on(
        "response", lambda r: sizes.append(int(r.headers.get("content-length") or len(r.body())))
    )
    started = time.perf_counter()
    page.goto(f"{studio.url}/w/default/runs/{run.id}/#metrics")
    page.wait_for_selector("[data-metric='loss'] .main-svg")
    page.wait_for_function("document.getElementById('log').textContent.length > 1000")
    seconds = time.perf_counter() - started
    page.close()
    return seconds, sum(sizes)


def run(quick: bool) -> list[Figure]:
    from playwright.sync_api import sync_playwright

    with BenchStudio() as studio, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        delays = print_to_visible(studio, browser, 200 if quick else 1000)
        lines, points = (100_000, 100_000) if quick else (1_000_000, 1_000_000)
        load, weight = heavy_page(studio, browser, lines, points)
        browser.close()
    p50 = statistics.median(delays) * 1000
    p99 = sorted(delays)[int(0.99 * len(delays))] * 1000
    log_mb = lines * 100 // 1_000_000
    return [
        Figure("print -> visible on the run page, p50", p50, "ms", 100),
        Figure("print -> visible on the run page, p99", p99, "ms", 500),
        Figure(f"run page load, {points:,}-point metric + {log_mb} MB log", load, "s", 3),
        Figure("run page weight (all requests)", weight / 1024 / 1024, "MiB", 6),
    ]
