"""A finished sweep written in bulk (parent, state, children, metrics and their series): the
page and the reads are under test, not how trials come to be. The bench uses it too."""

from __future__ import annotations

import json
import random
import time

import numpy as np

from runs.metrics import series_path
from runs.models import Metric, MetricKind, Run, RunStatus
from sweeps.models import Sweep, Trial

SPACE = {"--lr": ["loguniform", [-6, -1]], "--batch": ["choice", [[16, 32, 64]]]}


def finished_sweep(experiment, user, *, trials: int, points: int = 10, seed: int = 7) -> Sweep:
    rng = random.Random(seed)
    history = [{"status": RunStatus.COMPLETED, "at": "2026-01-01T00:00:00+00:00"}]
    parent = Run.objects.create(
        id=f"{experiment.name}_sweep", experiment=experiment, number=1, submitted_by=user,
        status=RunStatus.COMPLETED, status_history=history, definition={"sweep_parent": True},
    )  # fmt: skip
    config = {
        "sampling": {"method": "random", "space": SPACE, "properties": {}},
        "primary_metric_name": "acc", "primary_metric_goal": "MAXIMIZE",
        "max_total_runs": trials, "max_concurrent_runs": 2, "max_duration_minutes": 10080,
        "policy": None, "run_config": {"script": "train.py"}, "resume_from": [],
        "resume_child_runs": [],
    }  # fmt: skip
    sweep = Sweep.objects.create(run=parent, config=config, base={}, seed=seed,
                                 launched=trials, state=Sweep.State.ENDED)  # fmt: skip
    params = [{"--lr": rng.uniform(1e-5, 0.3), "--batch": rng.choice([16, 32, 64])}
              for _ in range(trials)]  # fmt: skip
    children = Run.objects.bulk_create(
        Run(id=f"{parent.pk}_{n}", experiment=experiment, number=n + 1, parent=parent,
            submitted_by=user, status_history=history,
            status=RunStatus.CANCELED if n % 9 == 8 else RunStatus.COMPLETED,
            definition={"sweep": {"parent": parent.pk, "metric": "acc", "policy": False}},
            properties={"hyperparameters": json.dumps(params[n - 1])})
        for n in range(1, trials + 1)
    )  # fmt: skip
    Trial.objects.bulk_create(
        Trial(sweep=sweep, number=n, run=child, hyperparameters=params[n - 1])
        for n, child in enumerate(children, start=1)
    )
    curves = {
        child.pk: [rng.random() * (i + 1) / points for i in range(points)] for child in children
    }
    metrics = Metric.objects.bulk_create(
        Metric(run=child, name="acc", kind=MetricKind.SCALAR, count=points,
               last_value=curves[child.pk][-1], min_value=min(curves[child.pk]),
               max_value=max(curves[child.pk]))
        for child in children
    )  # fmt: skip
    now = time.time()
    for metric in Metric.objects.filter(pk__in=[m.pk for m in metrics]):
        path = series_path(metric)
        path.parent.mkdir(parents=True, exist_ok=True)
        values = curves[metric.run_id]
        triples = np.array([[i, v, now] for i, v in enumerate(values)], dtype=np.float64)
        triples.tofile(path)
    best = max(metrics, key=lambda m: m.max_value)
    sweep.best_run_id = best.run_id
    sweep.save(update_fields=["best_run"])
    return sweep
