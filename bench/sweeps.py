"""Hyperparameter sweeps on a real studio (local target, 2 slots):
- a 100-trial random sweep of a script that sleeps 0.5 s and logs one metric: wall time and
  overhead per trial (wall x slots / trials - 0.5 s), beside the same trials as a plain
  Optuna loop on 2 workers, each trial starting the script with subprocess;
- policy latency: from the logged value that decides a stop to the child's Canceled status,
  p50 and p99 over 50 stops (BanditPolicy, one child at a time after a good first one);
- the sweep page with 1,000 finished trials: load in Chromium until the table is filled."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure
from bench.util import REPO, BenchStudio

SLEEPER = """
import argparse, time
from mlstudio.sdk import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
args = parser.parse_args()
time.sleep(0.5)
Run.get_context().log("score", -(args.x - 0.3) ** 2)
print("score", -(args.x - 0.3) ** 2)
"""

# The first child logs a good value and ends; every later one logs a bad value and would then
# sleep for a minute: the policy stops it.
STOPPED = """
import argparse, time
from mlstudio.sdk import Run
parser = argparse.ArgumentParser()
parser.add_argument("--i", type=int)
args = parser.parse_args()
run = Run.get_context()
run.log("acc", 1.0 if args.i == 0 else 0.1)
if args.i:
    time.sleep(60)
"""

# Per stopped child: when its deciding value was logged and when it turned Canceled.
STOP_TIMES = """
import json
from datetime import datetime
from runs.metrics import series_read
from runs.models import Metric, Run
rows = []
for run in Run.objects.filter(parent_id={parent!r}, status="Canceled"):
    metric = Metric.objects.get(run=run, name="acc")
    logged = float(series_read(metric)[0, 2])
    canceled = [h["at"] for h in run.status_history if h["status"] == "Canceled"][0]
    rows.append([logged, datetime.fromisoformat(canceled).timestamp(), run.status_detail])
print(json.dumps(rows))
"""

SEED_PAGE = """
from django.contrib.auth import get_user_model
from runs import services
from workspaces.models import Workspace
from tests.sweeps.helpers import finished_sweep
user = get_user_model().objects.get(username="admin")
experiment = services.experiment_create(
    workspace=Workspace.objects.get(name="default"), name="bench_sweep_page", user=user)
print(finished_sweep(experiment, user, trials={count}, points=20).run_id)
"""


def _shell(studio: BenchStudio, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO, env=studio.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip().splitlines()[-1]


def _sweep(studio: BenchStudio, script: str, name: str, **config):
    from mlstudio.sdk import Experiment, ScriptRunConfig
    from mlstudio.sdk.train.hyperdrive import HyperDriveConfig

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(script)
        hd = HyperDriveConfig(run_config=ScriptRunConfig(folder, "train.py"), **config)
        started = time.time()
        run = Experiment(studio.workspace(), name).submit(hd)
    run.wait_for_completion(show_output=False)
    return run, time.time() - started


def random_sweep(studio: BenchStudio, trials: int) -> float:
    from mlstudio.sdk.train.hyperdrive import RandomParameterSampling, uniform

    run, wall = _sweep(
        studio, SLEEPER, "bench_sweep",
        hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}),
        primary_metric_name="score", primary_metric_goal="MAXIMIZE",
        max_total_runs=trials, max_concurrent_runs=2,
    )  # fmt: skip
    assert run.get_status() == "Completed", run.get_details()
    return wall


def optuna_loop(trials: int) -> float | None:
    """The peer: Optuna's own loop, 2 workers, each trial a subprocess of the same script."""
    try:
        import optuna
    except ImportError:
        print("bench sweeps: `pip install optuna` for the Optuna peer", file=sys.stderr)
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder, "train.py")
        script.write_text(SLEEPER)
        env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}

        def objective(trial) -> float:
            x = trial.suggest_float("x", 0, 1)
            out = subprocess.run([sys.executable, str(script), "--x", str(x)], env=env,
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
            return float(out.split("score", 2)[-1].split()[0])

        study = optuna.create_study(direction="maximize")
        started = time.time()
        study.optimize(objective, n_trials=trials, n_jobs=2)
        return time.time() - started


def policy_latency(studio: BenchStudio, stops: int) -> list[float]:
    from mlstudio.sdk.train.hyperdrive import BanditPolicy, GridParameterSampling, choice

    run, _ = _sweep(
        studio, STOPPED, "bench_sweep_policy",
        hyperparameter_sampling=GridParameterSampling({"i": choice(*range(stops + 1))}),
        policy=BanditPolicy(slack_amount=0.2), primary_metric_name="acc",
        primary_metric_goal="MAXIMIZE", max_total_runs=stops + 1, max_concurrent_runs=1,
    )  # fmt: skip
    rows = json.loads(_shell(studio, STOP_TIMES.format(parent=run.id)))
    assert len(rows) == stops and all("BanditPolicy" in r[2] for r in rows), rows[:3]
    return sorted(canceled - logged for logged, canceled, _ in rows)


def page_load(studio: BenchStudio, count: int, loads: int) -> tuple[float, float] | None:
    """Median seconds from navigation until the trials table is filled, and until every chart
    is drawn too (the page records both moments itself)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("bench sweeps: `pip install playwright` (and Debian's chromium)", file=sys.stderr)
        return None
    from bench.ui import CHROMIUM_ARGS, _login

    parent = _shell(studio, SEED_PAGE.format(count=count))
    url = f"{studio.url}/w/default/runs/{parent}/"
    samples = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)  # fmt: skip
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            _login(page, studio)
            page.goto(url, wait_until="commit")
            page.wait_for_selector(f"#sweep[data-loaded='{count}']", timeout=60_000)
            table = float(page.get_attribute("#sweep", "data-table-ms")) / 1000
            charts = float(page.get_attribute("#sweep", "data-loaded-ms")) / 1000
            samples.append((table, charts))
            context.close()
        browser.close()
    return statistics.median(t for t, _ in samples), statistics.median(c for _, c in samples)


def _p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def run(quick: bool) -> list[Figure]:
    trials, stops, page_trials = (20, 10, 200) if quick else (100, 50, 1000)
    with BenchStudio(slots=2) as studio:
        wall = random_sweep(studio, trials)
        latencies = policy_latency(studio, stops)
        load = page_load(studio, page_trials, 3)
    peer = optuna_loop(trials)
    overhead = wall * 2 / trials - 0.5
    peer_overhead = peer * 2 / trials - 0.5 if peer else None
    figures = [
        Figure(f"{trials}-trial random sweep, 0.5 s script, 2 slots: wall time", wall, "s",
               peer_name="Optuna loop" if peer else None, peer_value=peer,
               min_ratio=1 / 1.5 if peer else None),
        Figure("  overhead per trial (wall x 2 / trials - 0.5 s)", overhead, "s", 0.3,
               peer_name="Optuna loop" if peer else None, peer_value=peer_overhead),
        Figure(f"policy stop latency, logged value -> Canceled, p50 of {stops}",
               _p(latencies, 0.5), "s"),
        Figure(f"policy stop latency, p99 of {stops}", _p(latencies, 0.99), "s", 1.0),
    ]  # fmt: skip
    if load is not None:
        figures.append(
            Figure(
                f"sweep page, {page_trials:,} finished trials: load until the "
                "trials table is filled (median of 3)",
                load[0],
                "s",
                2.0,
            )
        )
        figures.append(Figure("  until every chart is drawn too (parcoords, curves)",
                              load[1], "s", 2.0))  # fmt: skip
    return figures
