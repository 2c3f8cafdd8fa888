"""The compare view in a real Chromium: 20 runs with 10 metrics of 200 points each, from
the click on Compare until its table, its 10 overlaid charts, the parallel coordinates and
the scatter are drawn; and on the runs table, a new submit's row appearing without a reload.

The peer is MLflow's own compare page (`mlflow server`, same runs, same metrics, the 20 runs'
lr and seed as params), from navigation until its parallel coordinates and its table of the
runs' parameters and metrics are drawn. It draws no overlaid metric charts: that takes one
metric page per metric there, so MLflow's figure covers less than ours.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from bench import mlflow_peer
from bench.figures import Figure
from bench.ui import CHROMIUM_ARGS, _login, _submit
from bench.util import REPO, BenchStudio

RUNS, METRICS, POINTS = 20, 10, 200

SEED = f"""
import time
from django.contrib.auth import get_user_model
from runs import services
from runs.metrics import Ingestor
from workspaces.models import Workspace
workspace = Workspace.objects.get(name="default")
user = get_user_model().objects.get(username="admin")
experiment = services.experiment_create(workspace=workspace, name="bench_compare", user=user)
for i in range({RUNS}):
    run = services.run_start_interactive(
        experiment=experiment, user=user, display_name=f"trial {{i}}",
        tags={{"lr": str(0.001 * (i + 1)), "seed": str(i % 3)}},
    )
    now = time.time()
    Ingestor(run).ingest([
        {{"n": f"metric_{{m}}", "v": (m + 1) / (s + 1 + i), "s": s, "t": now}}
        for m in range({METRICS}) for s in range({POINTS})
    ])
    services.run_complete(run=run)
print(experiment.pk)
"""

# Milliseconds from the click until the table, the overlaid charts and the scatter are on
# show ("charts"), and until the parallel coordinates are too ("all").
TIMED = f"""async () => {{
  const started = performance.now();
  const found = {{}};
  document.getElementById('compare').click();
  while (!found.all) {{
    await new Promise((done) => requestAnimationFrame(done));
    const charts = document.querySelectorAll('#compare-charts .main-svg').length >= {METRICS}
      && document.querySelector('#compare-scatter .main-svg');
    if (charts && !found.charts) found.charts = performance.now() - started;
    if (found.charts && document.querySelector('#compare-parallel .main-svg')) {{
      found.all = performance.now() - started;
    }}
  }}
  return found;
}}"""


def compare_once(browser, studio: BenchStudio, url: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, studio)
    page.goto(url)
    page.wait_for_selector("#runs tbody tr[data-run]")
    # The charts panel above the table draws as the page opens: Compare is timed after it.
    page.wait_for_selector("#charts-panel .main-svg", timeout=120_000)
    for box in page.query_selector_all("#runs tbody tr[data-run] input[type=checkbox]"):
        box.check()
    drawn = page.evaluate(TIMED)
    context.close()
    return drawn


def new_row(browser, studio: BenchStudio, url: str, experiment: str = "bench_compare") -> float:
    """Seconds from the start of an SDK submit to its row on an open runs table."""
    context = browser.new_context()
    page = context.new_page()
    _login(page, studio)
    page.goto(url)
    page.wait_for_selector("#runs tbody tr[data-run]")
    started = time.perf_counter()
    run = _submit(studio, "print('hi')\n", experiment)
    page.wait_for_selector(f"#runs tr[data-run='{run.id}']", timeout=60_000)
    elapsed = time.perf_counter() - started
    context.close()
    return elapsed


MLFLOW_SEED = f"""
import json, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
client = MlflowClient(tracking_uri=sys.argv[1])
experiment = client.create_experiment(f"bench_compare_{{time.time_ns()}}")
ids = []
for i in range({RUNS}):
    run = client.create_run(experiment, run_name=f"trial {{i}}")
    now = int(time.time() * 1000)
    points = [Metric(f"metric_{{m}}", (m + 1) / (s + 1 + i), now, s)
              for m in range({METRICS}) for s in range({POINTS})]
    for first in range(0, len(points), 1000):
        client.log_batch(run.info.run_id, metrics=points[first:first + 1000])
    client.log_batch(run.info.run_id, params=[Param("lr", str(0.001 * (i + 1))),
                                              Param("seed", str(i % 3))])
    client.set_terminated(run.info.run_id)
    ids.append(run.info.run_id)
print(json.dumps({{"experiment": experiment, "runs": ids}}))
"""

MLFLOW_DRAWN = f"""() => document.querySelector('.js-plotly-plot .main-svg')
  && document.body.innerText.includes('metric_{METRICS - 1}')
  && document.body.innerText.includes('trial {RUNS - 1}') && performance.now()"""


def mlflow_compare(browser, repeats: int) -> float | None:
    """Milliseconds (median) for MLflow's compare page of the same runs to draw, or None
    (saying why) when MLflow cannot be had here."""
    import json
    import tempfile
    import urllib.parse

    try:
        python = mlflow_peer.ensure_mlflow()
    except Exception as exc:  # the other figures stand without the peer
        print(f"MLflow peer left out: {exc}. It needs PyPI once to make "
              f"{mlflow_peer.VENV}.", file=sys.stderr)  # fmt: skip
        return None
    times = []
    with (
        mlflow_peer.MlflowServer() as server,
        tempfile.NamedTemporaryFile("w", suffix=".py") as seed,
    ):
        seed.write(MLFLOW_SEED)
        seed.flush()
        made = subprocess.run([python, seed.name, server.url], capture_output=True, text=True,
                              check=True, env={**os.environ, **mlflow_peer.QUIET})  # fmt: skip
        seeded = json.loads(made.stdout.strip().splitlines()[-1])
        ids = {"runs": seeded["runs"], "experiments": [seeded["experiment"]]}
        query = urllib.parse.urlencode({key: json.dumps(value) for key, value in ids.items()})
        for _ in range(repeats):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(f"{server.url}/#/compare-runs?{query}", wait_until="commit")
            times.append(page.wait_for_function(MLFLOW_DRAWN, polling="raf",
                                                timeout=120_000).json_value())  # fmt: skip
            context.close()
    return statistics.median(times)


def run(quick: bool) -> list[Figure]:
    from playwright.sync_api import sync_playwright

    repeats = 1 if quick else 3
    with BenchStudio() as studio, sync_playwright() as playwright:
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SEED],
            cwd=REPO, env=studio.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        url = f"{studio.url}/w/default/experiments/{seeded.stdout.strip().splitlines()[-1]}/"
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        compares = [compare_once(browser, studio, url) for _ in range(repeats)]
        rows = [new_row(browser, studio, url) for _ in range(repeats)]
        peer = mlflow_compare(browser, repeats)
        browser.close()
    return [
        Figure(f"compare {RUNS} runs x {METRICS} metrics: click to table, every metric overlaid "
               "and the scatter drawn (median)",
               statistics.median(c["charts"] for c in compares) / 1000, "s"),
        Figure(f"compare {RUNS} runs x {METRICS} metrics: click to everything drawn, parallel "
               "coordinates too (median)",
               statistics.median(c["all"] for c in compares) / 1000, "s", 5,
               peer_name=None if peer is None else "MLflow compare page",
               peer_value=None if peer is None else peer / 1000),
        Figure("runs table: SDK submit to its row on the open page (median)",
               statistics.median(rows), "s", 2),
    ]  # fmt: skip
