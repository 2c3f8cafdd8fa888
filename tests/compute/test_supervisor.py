"""`python manage.py studio` runs a node for each cluster target, registered before or while it
runs, and stops the node of a deleted one."""

from __future__ import annotations

import json
import signal
import urllib.request

import pytest

from tests.processes import running_studio, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def studio(tmp_path):
    with running_studio(tmp_path) as studio:
        token = studio.api_token()
        studio.call = lambda method, path, body=None: _call(studio.port, token, method, path, body)
        yield studio


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
