"""`python manage.py studio` runs a node for each cluster target, registered before or while it
runs, and stops the node of a deleted one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.mlstudio.test_studio import StudioProcess, free_port
from tests.processes import REPO, fresh_database_url, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def studio(tmp_path):
    database_url, drop = fresh_database_url(tmp_path)
    studio = StudioProcess(tmp_path / "data", free_port(), database_url)
    process = studio.start()
    try:
        wait_until(lambda: "Press Ctrl-C" in studio.text() or process.poll() is not None, 120,
                   "the studio to report it is running")  # fmt: skip
        assert process.poll() is None, studio.text()
        studio.process = process
        token = subprocess.run(
            [sys.executable, "manage.py", "api_token", "admin"],
            cwd=REPO, env=studio.env, capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        studio.call = lambda method, path, body=None: _call(studio.port, token, method, path, body)
        yield studio
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        drop()


def _call(port: int, token: str, method: str, path: str, body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/workspaces/default/{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def test_it_runs_an_autoscaling_node_for_a_cluster_registered_while_it_runs(studio):
    studio.call("POST", "compute", {"name": "burst", "min_nodes": 1, "max_nodes": 3,
                                    "idle_seconds_before_scaledown": 60})  # fmt: skip
    wait_until(lambda: "started node-default.burst" in studio.text(), 30, "the cluster's node")
    status = wait_until(
        lambda: (s := studio.call("GET", "compute/burst/status"))["current_node_count"] and s,
        60, "min_nodes processes online",
    )  # fmt: skip
    assert status["current_node_count"] == 1
    nodes = studio.call("GET", "compute/burst/nodes")
    assert [(n["state"], n["slots"], n["processes"]) for n in nodes] == [("idle", 3, 1)]

    studio.call("DELETE", "compute/burst")
    wait_until(lambda: "stopping node-default.burst" in studio.text(), 30, "the node to stop")

    studio.process.send_signal(signal.SIGTERM)
    assert studio.process.wait(60) == 0
