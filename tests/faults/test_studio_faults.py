"""One dead part of the studio does not stop the rest; its runs end honestly, with every log
line the script printed kept."""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.request

import pytest

from mlstudio.sdk import Experiment, ScriptRunConfig
from tests.faults.follower import Follower
from tests.faults.studio import (
    assert_no_gap,
    child_pid,
    counting_script,
    fault_table_add,
    running_studio,
    stored_lines,
    submit_counting,
    submit_printing,
    wait_final,
)
from tests.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _healthy(studio) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{studio.port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_it_restarts_a_killed_worker_and_web_server_and_ends_their_runs_honestly(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("MLSTUDIO_RUN_HEARTBEAT_TIMEOUT", "5")
    source = counting_script(tmp_path / "src", lines=400, pause=0.02)
    with running_studio(tmp_path) as studio:
        experiment = Experiment(studio.ws, "faults")
        run = submit_printing(experiment, ScriptRunConfig(source, "train.py"), tmp_path)
        killed = time.monotonic()
        os.killpg(child_pid(studio, "worker-local"), signal.SIGKILL)  # the node and its pool
        wait_until(lambda: "worker-local exited (code -9)" in studio.text(), 10, "the report")
        assert wait_final([run], timeout=60) == ["Failed"]
        assert "worker lost" in run.get_details()["statusDetail"]
        assert_no_gap(stored_lines(run, tmp_path))
        fault_table_add("worker kill -9 mid-run (run ends Failed: worker lost)", since=killed)

        again = experiment.submit(ScriptRunConfig(source_directory=source, script="train.py"))
        follower = Follower(studio, again.id)
        follower.start()
        wait_until(lambda: follower.text.count("\n") >= 20, 60, "the follower to see lines")
        killed = time.monotonic()
        webs = sorted(set(re.findall(r"started (web(?:-\d+)?) ", studio.text())))
        for name in webs:  # every web process, so the follower's connection is surely cut
            os.kill(child_pid(studio, name), signal.SIGKILL)
        wait_until(lambda: all(studio.text().count(f"started {name} ") == 2 for name in webs),
                   20, "the web restarts")  # fmt: skip
        wait_until(lambda: _healthy(studio), 30, "the web server on the same port")
        assert wait_final([again], timeout=90) == ["Completed"]
        follower.join(30)
        assert follower.reconnects >= 1 and follower.problems == []
        assert_no_gap(follower.text.splitlines(), at_least=400)  # no gap, no duplicate
        assert_no_gap(stored_lines(again, tmp_path), at_least=400)
        fault_table_add("web servers kill -9 mid-run, websocket follower resumes", since=killed)
        assert studio.process.poll() is None


def test_it_cancels_running_runs_as_studio_stopped_when_it_stops(tmp_path):
    with running_studio(tmp_path) as studio:
        run = submit_counting(studio, tmp_path, lines=3000, pause=0.01)
        stopped = time.monotonic()
        studio.process.send_signal(signal.SIGTERM)
        assert studio.process.wait(90) == 0
        took = time.monotonic() - stopped
        studio.process = studio.start()  # the same data folder and database, to read the run
        wait_until(lambda: studio.text().count("Press Ctrl-C") == 2, 120, "the studio again")
        assert run.get_status() == "Canceled"
        assert run.get_details()["statusDetail"] == "studio stopped"
        assert_no_gap(stored_lines(run, tmp_path))
        fault_table_add("studio SIGTERM mid-run (run Canceled: studio stopped)",
                        since=time.monotonic() - took)  # fmt: skip


def test_it_survives_a_restart_of_its_private_broker_mid_run(tmp_path):
    with running_studio(tmp_path) as studio:
        run = submit_counting(studio, tmp_path, lines=600, pause=0.01)
        killed = time.monotonic()
        os.kill(child_pid(studio, "redis"), signal.SIGKILL)
        wait_until(lambda: studio.text().count("started redis ") == 2, 20, "the broker restart")
        assert wait_final([run], timeout=60) == ["Completed"]
        assert_no_gap(stored_lines(run, tmp_path), at_least=600)
        fault_table_add("private broker kill -9 mid-run (run Completed)", since=killed,
                        lines_lost=600 - len(stored_lines(run, tmp_path)))  # fmt: skip
        source = tmp_path / "src"  # the counting script's folder
        again = run.experiment.submit(ScriptRunConfig(source_directory=source, script="train.py"))
        assert wait_final([again], timeout=60) == ["Completed"]
        assert studio.process.poll() is None
        for part in ("worker-local", "worker-control"):
            assert f"{part} exited" not in studio.text()
