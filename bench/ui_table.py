"""The experiment page's runs table with 1,000 runs, in a real Chromium: server time for the
HTML, page weight, load until the table is rendered, and sorting and filtering it."""

from __future__ import annotations

import statistics
import subprocess
import sys

from bench.figures import Figure
from bench.ui import CHROMIUM_ARGS, _login
from bench.ui_compare import new_row
from bench.util import REPO, BenchStudio

# Runs made through the services, in the studio's own process context: interactive runs
# (nothing executes them), two metrics each, most completed, some failed, some left running.
# Committed in batches so the studio's own writers are never locked out for long.
SEED = """
import random, time
from django.contrib.auth import get_user_model
from django.db import transaction
from runs import services
from runs.metrics import Ingestor
from workspaces.models import Workspace
workspace = Workspace.objects.get(name="default")
user = get_user_model().objects.get(username="admin")
experiment = services.experiment_create(workspace=workspace, name="bench_table", user=user)
rng = random.Random(7)
for first in range(0, {count}, 100):
    with transaction.atomic():
        for i in range(first, min(first + 100, {count})):
            run = services.run_start_interactive(
                experiment=experiment, user=user, display_name=f"trial {{i:04d}}",
                tags={{"lr": str(rng.choice([0.1, 0.01, 0.001])), "seed": str(i % 5)}},
            )
            now = time.time()
            Ingestor(run).ingest([
                {{"n": "loss", "v": rng.random(), "t": now}},
                {{"n": "accuracy", "v": rng.random(), "t": now}},
            ])
            if i % 10:
                services.run_complete(run=run, failed=i % 7 == 0, error="bench")
print(experiment.pk)
"""

# The table is rendered once it shows its first rows (all of them, or its first page of 100)
# with their metric cells filled in.
RENDERED = """() => {
  const rows = document.querySelectorAll('#runs tbody tr[data-run]');
  const last = rows[rows.length - 1];
  const cell = last && last.querySelector('[data-metric-cell]');
  return rows.length >= Math.min(%d, 100) && cell && cell.textContent !== '' && performance.now();
}"""

# Milliseconds from an action on the table until the next frame has been painted.
TIMED = """async (action) => {
  const started = performance.now();
  if (action.click) document.querySelector(action.click).click();
  if (action.sort) document.querySelector(`#runs button[data-sort="${action.sort}"]`).click();
  if (action.status !== undefined) {
    const select = document.getElementById('status-filter');
    select.value = action.status;
    select.dispatchEvent(new Event('input', {bubbles: true}));
  }
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return performance.now() - started;
}"""

SORTS = ["name", "status", "duration", "created", "metric", "number"]
FILTERS = ["Completed", "Failed", "Running", ""]


def seed(studio: BenchStudio, count: int) -> int:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED.format(count=count)],
        cwd=REPO, env=studio.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(result.stdout.strip().splitlines()[-1])


def load_page(browser, studio: BenchStudio, url: str, count: int, then=None) -> dict:
    """One cold load in a fresh browser context: server time for the HTML, its size, the
    weight of all requests, and the time from navigation until the table is rendered;
    `then(page)` runs on the loaded page before the context closes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, studio)
    sizes: dict[str, int] = {}
    page.on("response", lambda r: sizes.update({r.url: len(r.body())}) if r.ok else None)
    page.goto(url, wait_until="commit")
    rendered = page.wait_for_function(RENDERED % count, polling="raf", timeout=60_000)
    page.wait_for_load_state("load")
    server = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return n.responseStart - n.requestStart; })()"
    )
    sample = {"server": server, "rendered": rendered.json_value(), "html": sizes[url],
              "weight": sum(sizes.values()), "then": then(page) if then else None}  # fmt: skip
    context.close()
    return sample


def interact(page) -> tuple[list[float], list[float], float | None]:
    """Milliseconds per sort (each column twice), per status filter (each twice), and to
    show every run when the table shows a page of them."""
    sorts = [page.evaluate(TIMED, {"sort": key}) for key in SORTS * 2]
    filters = [page.evaluate(TIMED, {"status": status}) for status in FILTERS * 2]
    show_all = None
    if page.locator("#show-all").is_visible():
        show_all = page.evaluate(TIMED, {"click": "#show-all"})
    return sorts, filters, show_all


def run(quick: bool) -> list[Figure]:
    from playwright.sync_api import sync_playwright

    count, loads = (200, 2) if quick else (1000, 5)
    with BenchStudio() as studio, sync_playwright() as playwright:
        experiment_id = seed(studio, count)
        url = f"{studio.url}/w/default/experiments/{experiment_id}/"
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        samples = [load_page(browser, studio, url, count) for _ in range(loads - 1)]
        samples.append(load_page(browser, studio, url, count, then=interact))
        rows = [new_row(browser, studio, url, "bench_table") for _ in range(3)]
        browser.close()
    sorts, filters, show_all = samples[-1]["then"]
    server = statistics.median(s["server"] for s in samples)
    rendered = statistics.median(s["rendered"] for s in samples)
    html, weight = samples[-1]["html"], samples[-1]["weight"]
    figures = [
        Figure(f"experiment page, {count:,} runs: server time for the HTML (median)",
               server, "ms"),
        Figure(f"experiment page, {count:,} runs: HTML size", html / 1024, "KiB"),
        Figure(f"experiment page, {count:,} runs: weight (all requests)",
               weight / 1024 / 1024, "MiB"),
        Figure(f"experiment page, {count:,} runs: load until the table is rendered (median)",
               rendered / 1000, "s", 2),
        Figure(f"sort {count:,} runs by a column (worst of {len(sorts)})", max(sorts), "ms", 200),
        Figure(f"filter {count:,} runs by status (worst of {len(filters)})",
               max(filters), "ms", 200),
    ]  # fmt: skip
    figures.append(Figure(f"experiment page, {count:,} runs, open: SDK submit to its row "
                          "(median of 3)", statistics.median(rows), "s", 2))  # fmt: skip
    if show_all is not None:
        figures.append(Figure(f"show all {count:,} runs after a page of them", show_all, "ms"))
    return figures
