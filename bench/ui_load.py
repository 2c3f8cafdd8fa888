"""A run page in a real Chromium on loopback: its first load (empty cache) and repeat load,
with the bytes that went over the wire, for the Overview and for the Metrics tab (the one
that draws charts). Beside each figure: the same measure of the studio before static files
went through whitenoise (compressed, cached for a year) and plotly.js loaded only to draw."""

from __future__ import annotations

import statistics
import time

from bench.figures import Figure
from bench.ui import CHROMIUM_ARGS, _login, _submit
from bench.util import BenchStudio

SCRIPT = """
from mlstudio.sdk import Run
run = Run.get_context()
for i in range(2000):
    print(f"line {i:04d} " + "x" * 60)
    if i % 2 == 0:
        run.log("loss", 1.0 / (i + 1))
print("the end")
"""

# (ms, KiB) measured by this bench on main at 838db60, before whitenoise and lazy plotly.js,
# on the same 2-core machine: the old code is gone, so its figures are kept here.
BEFORE = {
    "overview first": (1255, 4873),
    "overview repeat": (1245, 145.8),
    "metrics first": (1221, 4923),
}

READY = {
    "overview": "document.getElementById('log').textContent.includes('the end')",
    "metrics": "document.querySelector(\"[data-metric='loss'] .main-svg\") !== null",
}


# Where a repeat load's time goes, from the page's own navigation timing (ms after it began).
PHASES = {
    "HTML answered": "responseEnd",
    "DOMContentLoaded": "domContentLoadedEventEnd",
    "load event": "loadEventEnd",
}


def _load(page, cdp, url: str, ready: str) -> tuple[float, int]:
    """Milliseconds from navigation until `ready` holds after the load event, and the bytes
    received for every request meanwhile (a cached file costs none)."""
    page.goto("about:blank")  # a new navigation, not a jump within the page
    received: list[int] = []
    cdp.on("Network.loadingFinished", lambda event: received.append(event["encodedDataLength"]))
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(ready, polling="raf", timeout=60_000)
    elapsed = (time.perf_counter() - started) * 1000
    time.sleep(0.3)  # the last loadingFinished events
    return elapsed, sum(received)


def _session(browser, studio: BenchStudio):
    """A signed-in page with an empty cache (signing in loaded the stylesheet)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, studio)
    cdp = _listener(context, page)
    cdp.send("Network.clearBrowserCache")
    return context, page, cdp


def measure(browser, studio: BenchStudio, url: str, tab: str, repeats: int) -> dict:
    firsts, repeat_times, first_bytes, repeat_bytes, phases = [], [], [], [], []
    for _ in range(repeats):
        context, page, cdp = _session(browser, studio)
        ms, sent = _load(page, cdp, f"{url}#{tab}", READY[tab])
        firsts.append(ms)
        first_bytes.append(sent)
        ms, sent = _load(page, _listener(context, page), f"{url}#{tab}", READY[tab])
        repeat_times.append(ms)
        repeat_bytes.append(sent)
        phases.append(page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()"))
        context.close()
    return {
        "first": statistics.median(firsts), "first_bytes": statistics.median(first_bytes),
        "repeat": statistics.median(repeat_times), "repeat_bytes": statistics.median(repeat_bytes),
        "phases": {name: statistics.median(p[key] for p in phases) for name, key in PHASES.items()},
    }  # fmt: skip


def _listener(context, page):
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    return cdp


def run(quick: bool) -> list[Figure]:
    from playwright.sync_api import sync_playwright

    repeats = 2 if quick else 5
    with BenchStudio() as studio, sync_playwright() as playwright:
        submitted = _submit(studio, SCRIPT, "bench_load")
        submitted.wait_for_completion()
        url = f"{studio.url}/w/default/runs/{submitted.id}/"
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        overview = measure(browser, studio, url, "overview", repeats)
        metrics = measure(browser, studio, url, "metrics", repeats)
        browser.close()
    return [
        _figure("run page first load (empty cache), Overview", overview["first"], "ms", 800,
                "overview first", 0),
        _figure("run page first load, bytes over the wire", overview["first_bytes"] / 1024,
                "KiB", None, "overview first", 1),
        _figure("run page repeat load, Overview", overview["repeat"], "ms", 300,
                "overview repeat", 0),
        _figure("run page repeat load, bytes over the wire", overview["repeat_bytes"] / 1024,
                "KiB", None, "overview repeat", 1),
        _figure("run page first load, Metrics tab with its chart", metrics["first"], "ms", None,
                "metrics first", 0),
        _figure("run page first load, Metrics tab, bytes over the wire",
                metrics["first_bytes"] / 1024, "KiB", None, "metrics first", 1),
        Figure("run page repeat load, Metrics tab with its chart", metrics["repeat"], "ms"),
        *(Figure(f"run page repeat load, Overview: {name} (page's timing)", ms, "ms")
          for name, ms in overview["phases"].items()),
    ]  # fmt: skip


def _figure(name, value, unit, target, before_key, index) -> Figure:
    before = BEFORE[before_key][index]
    return Figure(name, value, unit, target, peer_name="before" if before else None,
                  peer_value=before)  # fmt: skip
