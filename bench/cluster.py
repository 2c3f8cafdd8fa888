"""A cluster target on a real studio: 200 short runs on 2 nodes of 2 slots each (runs per
minute, mean queue wait, per-run scheduling overhead), and a 2-node PyTorch-style job's
start-up (submit until every rank runs). The nodes are `manage.py worker` processes; the
studio itself runs none (MLSTUDIO_STUDIO_TARGET_NODES=false)."""

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

SHORT = "print('done')\n"
RANK_START = "import os, time\nprint('rank', os.environ['RANK'], 'at', repr(time.time()))\n"

# Status timestamps of the experiment's runs, read in the studio's own context.
TIMINGS = """
import json
from runs.models import Run
rows = []
for run in Run.objects.filter(experiment__name={name!r}):
    at = {{h["status"]: h["at"] for h in run.status_history}}
    rows.append(at)
print(json.dumps(rows))
"""


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


def _timings(studio: BenchStudio, experiment: str) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", TIMINGS.format(name=experiment)],
        cwd=REPO, env=studio.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def _nodes(studio: BenchStudio, count: int) -> list[subprocess.Popen]:
    from mlstudio.sdk import AmlCompute, ComputeTarget

    ws = studio.workspace()
    config = AmlCompute.provisioning_configuration(vm_size="cpu", max_nodes=2 * count)
    ComputeTarget.create(ws, "bench", config)
    nodes = [_node(studio, f"node{i}@bench") for i in range(count)]
    target = ComputeTarget(workspace=ws, name="bench")
    deadline = time.monotonic() + 120
    while target.get_status().current_node_count < 2 * count:
        if time.monotonic() > deadline:
            raise TimeoutError("the bench nodes did not come online")
        time.sleep(0.5)
    return nodes


def _node(studio: BenchStudio, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--target", "bench", "--workspace", "default",
         "--slots", "2", "--name", name],
        cwd=REPO, env=studio.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def throughput(studio: BenchStudio, runs: int) -> tuple[float, float, float]:
    from mlstudio.sdk import Experiment, ScriptRunConfig

    experiment = Experiment(studio.workspace(), "bench_cluster")
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(SHORT)
        config = ScriptRunConfig(folder, "train.py", compute_target="bench")
        started = time.time()
        submitted = [experiment.submit(config) for _ in range(runs)]
    for run in submitted:
        run.wait_for_completion()
    rows = _timings(studio, "bench_cluster")
    ended = max(_seconds(r["Completed"]) for r in rows)
    waits = [_seconds(r["Preparing"]) - _seconds(r["Queued"]) for r in rows]
    overheads = [_seconds(r["Completed"]) - _seconds(r["Preparing"]) for r in rows]
    return runs / (ended - started) * 60, statistics.mean(waits), statistics.mean(overheads)


def multinode_startup(studio: BenchStudio, repeats: int) -> float:
    from mlstudio.sdk import Experiment, PyTorchConfiguration, ScriptRunConfig

    experiment = Experiment(studio.workspace(), "bench_multinode")
    samples = []
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(RANK_START)
        job = PyTorchConfiguration(communication_backend="Gloo", process_count=4, node_count=2)
        config = ScriptRunConfig(folder, "train.py", compute_target="bench",
                                 distributed_job_config=job)  # fmt: skip
        for _ in range(repeats):
            called = time.time()
            run = experiment.submit(config)
            run.wait_for_completion()
            starts = []
            for rank in range(4):
                text, _, _ = run._read_log(f"user_logs/std_log_process_{rank}.txt", 0)
                starts.append(float(text.split(" at ")[1]))
            samples.append(max(starts) - called)
    return statistics.median(samples)


def run(quick: bool) -> list[Figure]:
    count, repeats = (40, 2) if quick else (200, 5)
    with BenchStudio(extra_env={"MLSTUDIO_STUDIO_TARGET_NODES": "false"}) as studio:
        nodes = _nodes(studio, 2)
        try:
            per_minute, wait, overhead = throughput(studio, count)
            startup = multinode_startup(studio, repeats)
        finally:
            for node in nodes:
                node.terminate()
            for node in nodes:
                node.wait(60)
    return [
        Figure(f"{count} short runs on 2 nodes x 2 slots: runs per minute", per_minute,
               "runs/min", below=False),
        Figure("  mean queue wait (Queued -> Preparing)", wait, "s"),
        Figure("  scheduling overhead per run (Preparing -> Completed, script ~0 s)",
               overhead, "s"),
        Figure("2-node job (4 ranks): submit -> every rank running (median)", startup, "s"),
    ]  # fmt: skip
