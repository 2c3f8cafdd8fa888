"""A whole studio (`manage.py studio`) for fault tests, with an SDK workspace on it."""

from __future__ import annotations

import contextlib
import json
import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from mlstudio.sdk import Experiment, ScriptRunConfig, Workspace
from mlstudio.sdk.compute import AmlCompute, ComputeTarget
from tests import processes
from tests.processes import StudioProcess, wait_until

BAD_LOG_LINES = ("disk I/O error", "database is locked", "malformed")


@contextlib.contextmanager
def running_studio(folder: Path, *extra: str, env: dict | None = None) -> Iterator[StudioProcess]:
    """tests.processes.running_studio with an admin token and an SDK workspace on it."""
    with processes.running_studio(folder, *extra, env=env) as studio:
        studio.token = studio.api_token()
        studio.ws = Workspace(name="default", url=f"http://127.0.0.1:{studio.port}",
                              token=studio.token)  # fmt: skip
        yield studio


def write_script(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(textwrap.dedent(body))
    return folder


def bad_log_lines(data_dir: Path) -> list[str]:
    """Lines of the studio's logs that tell of a damaged or locked database."""
    found = []
    for log in sorted((data_dir / "logs").glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if any(bad in line for bad in BAD_LOG_LINES):
                found.append(f"{log.name}: {line}")
    return found


FINAL = {"Completed", "Failed", "Canceled"}


def wait_final(runs: list, timeout: float) -> list[str]:
    """Each run's status once all are final, or as they are when the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [run.get_status() for run in runs]
        if all(status in FINAL for status in statuses):
            return statuses
        time.sleep(0.5)
    return [f"{run.get_status()} ({run.id})" for run in runs]


COUNTING_SCRIPT = """
import sys, time
for i in range({lines}):
    print(f"line {{i}}", flush=True)
    time.sleep({pause})
"""


def counting_script(folder: Path, *, lines: int, pause: float) -> Path:
    """A script that prints `line 0` … `line N-1`, one every `pause` seconds."""
    return write_script(folder, COUNTING_SCRIPT.format(lines=lines, pause=pause))


def stored_lines(run, folder: Path) -> list[str]:
    """The run's user log as the studio stored it."""
    target = folder / f"{run.id}.txt"
    run.download_file("user_logs/std_log.txt", output_file_path=target)
    return target.read_text().splitlines()


def assert_no_gap(lines: list[str], *, at_least: int = 1) -> None:
    """The lines are `line 0`, `line 1`, … with none missing or repeated."""
    assert len(lines) >= at_least, lines
    assert lines == [f"line {i}" for i in range(len(lines))], lines


def child_pid(studio, name: str) -> int:
    """The pid the studio printed when it last started child `name`."""
    started = [line for line in studio.text().splitlines() if f"started {name} " in line]
    return int(started[-1].split(" pid ")[1].split()[0])


def submit_printing(experiment, config, folder: Path, timeout: float = 60):
    """Submit `config` to `experiment` and return its run once it is Running and printing."""
    run = experiment.submit(config)
    wait_until(lambda: printing(run, folder), timeout, "the run to print")
    return run


def submit_counting(studio, folder: Path, *, lines: int, pause: float):
    """A counting_script run (its source in folder/src) in experiment `faults`, once it prints."""
    source = counting_script(folder / "src", lines=lines, pause=pause)
    return submit_printing(
        Experiment(studio.ws, "faults"), ScriptRunConfig(source, "train.py"), folder
    )


def cluster(ws, max_nodes: int):
    """`gpu-cluster`, an AmlCompute target of at most `max_nodes` nodes, once it is ready."""
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=max_nodes)
    target = ComputeTarget.create(ws, "gpu-cluster", config)
    target.wait_for_completion(show_output=False)
    return target


def printing(run, folder: Path) -> bool:
    """Whether the run is Running and its script's first lines are stored."""
    if run.get_status() != "Running":
        return False
    try:
        return len(stored_lines(run, folder)) >= 5
    except Exception:  # no log yet
        return False


TABLE_ENV = "MLSTUDIO_FAULT_TABLE"


def fault_table_add(scenario: str, *, since: float, lines_lost: int = 0, stuck: int = 0) -> None:
    """One row of `python -m bench faults`: written (to the file MLSTUDIO_FAULT_TABLE names)
    only after the test's assertions held, so a row is a measured, checked outcome."""
    path = os.environ.get(TABLE_ENV)
    if not path:
        return
    row = {"scenario": scenario, "lines_lost": lines_lost, "runs_stuck": stuck,
           "seconds_to_final": round(time.monotonic() - since, 1)}  # fmt: skip
    with open(path, "a") as table:
        table.write(json.dumps(row) + "\n")
