"""The seed's cluster on the embedded default: an autoscaled node forks its pool processes
while its heartbeat thread talks to SQLite; no run may be lost or misrecorded."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from mlstudio.sdk import Experiment, ScriptRunConfig
from tests.faults.studio import (
    bad_log_lines,
    cluster,
    fault_table_add,
    running_studio,
    wait_final,
    write_script,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_it_completes_every_run_of_three_bursts_on_the_seeds_cluster(tmp_path):
    source = write_script(tmp_path / "src", "print('hello from the cluster', flush=True)\n")
    with running_studio(tmp_path) as studio:
        target = cluster(studio.ws, max_nodes=4)
        experiment = Experiment(studio.ws, "burst")
        src = ScriptRunConfig(source_directory=source, script="train.py", compute_target=target)
        for burst in range(3):
            started = time.monotonic()
            runs = [experiment.submit(src) for _ in range(8)]
            statuses = wait_final(runs, timeout=180)
            assert statuses == ["Completed"] * 8, (burst, statuses)
            fault_table_add(f"cluster burst {burst + 1}: 8 runs, autoscaled node ({vendor()})",
                            since=started)  # fmt: skip
        assert bad_log_lines(studio.data_dir) == []


def vendor() -> str:
    return connection.vendor
