"""`python manage.py worker --target NAME` as an operator runs it: real Celery worker processes
on the test database and Redis, heartbeating into the node registry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from compute.models import Node
from compute.selectors import target_nodes, target_status
from compute.tasks import nodes_forget
from runs.models import Run
from tests import processes
from tests.processes import REPO, wait_until

pytestmark = pytest.mark.slow


def node_of(target, state: str | None = None):
    nodes = target_nodes(target=target)
    return next((n for n in nodes if state is None or n.state == state), None)


def test_it_refuses_to_start_a_node_for_an_unknown_target(transactional_db, workspace, cluster):
    env = {**os.environ, "DATABASE_URL": processes.test_database_url()}
    result = subprocess.run(
        [sys.executable, "manage.py", "worker", "--target", "nope"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Unknown compute target 'nope'" in result.stderr
    assert "Known targets: lab/gpu" in result.stderr
    assert not Node.objects.exists()

    in_workspace = subprocess.run(
        [sys.executable, "manage.py", "worker", "--target", "nope", "--workspace", "lab"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert in_workspace.returncode != 0
    assert "ComputeTargetNotFound: Unknown compute target 'nope' in workspace 'lab'" in (
        in_workspace.stderr
    )


def test_it_shows_a_node_idle_then_offline_once_killed(
    workspace, cluster, start_node, fast_offline
):
    process = start_node("--target", "gpu", "--slots", "2")
    node = wait_until(lambda: node_of(cluster, "idle"), 60, "the node to heartbeat")
    assert node.name.startswith("lab.gpu@")
    assert (node.slots, node.concurrency, node.busy_slots) == (2, 2, 0)
    assert node.cpu_count >= 1
    assert node.gpu_count == 0  # no nvidia-smi here
    assert node.version
    status = target_status(target=cluster)
    assert status.current_node_count == 2
    assert status.node_state_counts.idle_node_count == 2
    assert status.hints == []

    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    wait_until(lambda: node_of(cluster, "offline"), 30, "the node to go offline")
    status = target_status(target=cluster)
    assert status.current_node_count == 0
    assert status.node_state_counts.unusable_node_count == 2
    assert "No node of compute target 'gpu' is online" in status.hints[0]


def test_it_never_gives_one_node_more_slots_than_max_nodes(workspace, cluster, start_node):
    process = start_node("--target", "gpu", "--workspace", "lab", "--slots", "5")
    node = wait_until(lambda: node_of(cluster), 60, "the node to heartbeat")
    assert node.slots == 2
    said = process.log.read_text()
    assert "has max_nodes 2: this node runs at most 2 runs at once, not 5" in said


def test_it_refuses_a_second_live_node_of_the_same_name(workspace, cluster, start_node):
    start_node("--target", "gpu", "--name", "twin@box")
    wait_until(lambda: node_of(cluster), 60, "the first node to heartbeat")
    second = start_node("--target", "gpu", "--name", "twin@box")
    assert second.wait(60) != 0
    assert "A node named 'twin@box' is already online" in second.log.read_text()


def test_it_scales_a_cluster_node_up_for_work_and_down_when_idle(workspace, cluster, start_node):
    start_node("--target", "gpu", "--autoscale")
    node = wait_until(lambda: node_of(cluster), 60, "the autoscaling node to heartbeat")
    assert (node.slots, node.concurrency) == (2, 0)  # min_nodes 0: no process until work comes

    nodes_forget.apply_async(queue=cluster.queue)  # any task on the target's queue is work
    wait_until(lambda: node_of(cluster).concurrency == 1, 30, "a process for the work")
    # idle_seconds_before_scaledown is 2 s for this cluster
    wait_until(lambda: node_of(cluster).concurrency == 0, 30, "the idle process to go")


def test_it_stops_a_node_whose_target_is_deleted(workspace, cluster, start_node):
    process = start_node("--target", "gpu")
    wait_until(lambda: node_of(cluster), 60, "the node to heartbeat")
    cluster.delete()
    assert process.wait(60) == 0
    assert "does not exist (deleted?); stopping this node" in process.log.read_text()
    assert not Node.objects.exists()


def test_it_runs_a_node_for_local_in_every_workspace(workspace, start_node):
    start_node("--target", "local", "--slots", "1", "--pool", "solo")
    local = workspace.compute_targets.get(name="local")
    node = wait_until(lambda: node_of(local, "idle"), 60, "the local node to heartbeat")
    assert node.target_queue == "target-local"
    assert target_status(target=local).current_node_count == 1


def test_it_shows_a_node_busy_while_it_executes_a_run(owner, workspace, api_as, start_node):
    from runs.services import experiment_create
    from tests.runs.helpers import wait_for_status

    start_node("--target", "local", "--slots", "2")
    local = workspace.compute_targets.get(name="local")
    wait_until(lambda: node_of(local, "idle"), 60, "the local node to heartbeat")
    experiment = experiment_create(workspace=workspace, name="naps", user=owner)
    response = api_as(owner).post(
        f"/api/workspaces/lab/experiments/{experiment.pk}/runs",
        {"config": {"command": [sys.executable, "-c", "import time; time.sleep(4)"]}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content

    node = wait_until(lambda: node_of(local, "busy"), 30, "the node to be busy")
    assert node.busy_slots == 1
    counts = target_status(target=local).node_state_counts
    assert (counts.running_node_count, counts.idle_node_count) == (1, 1)
    wait_for_status(response.json()["runId"], "Completed", timeout=60)
    wait_until(lambda: node_of(local, "idle"), 30, "the node to be idle again")


def test_it_runs_submissions_on_their_cluster_one_slot_at_a_time(
    owner, workspace, api_as, start_node
):
    from compute.services import target_create
    from runs.services import experiment_create, runs_queue_positions
    from tests.runs.helpers import wait_for_status

    target_create(workspace=workspace, user=owner, name="small", type="cluster", max_nodes=1)
    start_node("--target", "small", "--workspace", "lab", "--slots", "2")
    experiment = experiment_create(workspace=workspace, name="line", user=owner)

    def submit() -> str:
        response = api_as(owner).post(
            f"/api/workspaces/lab/experiments/{experiment.pk}/runs",
            {"config": {"command": [sys.executable, "-c", "import time; time.sleep(3)"],
                        "compute_target": "small"}},
            content_type="application/json",
        )  # fmt: skip
        assert response.status_code == 201, response.content
        return response.json()["runId"]

    first, second = submit(), submit()
    wait_for_status(first, "Running", timeout=60)
    runs_queue_positions()
    waiting = Run.objects.get(pk=second)
    assert waiting.status == "Queued"
    assert waiting.status_detail == "waiting for a free node (0 ahead)"
    assert wait_for_status(first, "Completed", timeout=60).definition["queue"] == "target-lab.small"
    assert (
        wait_for_status(second, "Completed", timeout=60).started_at
        >= Run.objects.get(pk=first).ended_at
    )
