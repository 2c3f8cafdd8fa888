"""A PyTorch job over two nodes of a cluster target: each node a separate `manage.py worker`
process, one task per node on that node's own queue, a real gloo all_reduce across all ranks,
Running only once every node started, and a failing node or a cancel reaching every node."""

from __future__ import annotations

import pytest

from compute.models import Node
from runs import services, store
from runs.models import RunNode
from tests.processes import wait_until
from tests.runs.helpers import upload_snapshot, wait_for_status
from tests.runs.test_distributed import ALL_REDUCE

pytestmark = pytest.mark.slow


@pytest.fixture
def two_nodes(cluster, start_node):
    for name in ("first@box", "second@box"):
        start_node("--target", "gpu", "--workspace", "lab", "--name", name, "--slots", "1")
    wait_until(lambda: Node.objects.filter(target_queue=cluster.queue).count() == 2, 60,
               "both nodes to heartbeat")  # fmt: skip


def submit(client, experiment, script: str, job: dict) -> str:
    snapshot = upload_snapshot(client, {"train.py": script})
    config = {"script": "train.py", "compute_target": "gpu", "distributed": job}
    response = client.post(
        f"/api/workspaces/lab/experiments/{experiment.pk}/runs",
        {"snapshot_id": snapshot, "config": config},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["runId"]


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="multi", user=owner)


def test_pytorch_all_reduce_across_two_nodes(owner, experiment, api_as, two_nodes):
    job = {"type": "pytorch", "communication_backend": "Gloo", "process_count": 4,
           "node_count": 2}  # fmt: skip
    run_id = submit(api_as(owner), experiment, ALL_REDUCE, job)
    run = wait_for_status(run_id, "Completed", "Failed", timeout=180)
    system = store.read_log(run_id, store.SYSTEM_LOG, 0, 10**7)[0]
    assert run.status == "Completed", system
    nodes = list(RunNode.objects.filter(run_id=run_id))
    assert [(n.rank, n.state, n.exit_code) for n in nodes] == [
        (0, "finished", 0), (1, "finished", 0),
    ]  # fmt: skip
    assert nodes[0].node != nodes[1].node  # each rank on a distinct node
    for rank in range(4):
        own = store.read_log(run_id, f"user_logs/std_log_process_{rank}.txt", 0, 10**6)[0]
        expected = f"rank {rank} of 4 local {rank % 2} node {rank // 2} args [] sum 10.0"
        assert expected in own
    statuses = [h["status"] for h in run.status_history]
    assert statuses.index("Running") > statuses.index("Starting")
    assert "All 2 nodes started" in system
    node_log = store.read_log(run_id, "system_logs/executor_node_1.txt", 0, 10**6)[0]
    assert "Node rank 1 of 2" in node_log and "Exit code 0" in node_log


def test_a_failing_node_fails_the_run_and_stops_the_others(owner, experiment, api_as, two_nodes):
    script = """
        import os, sys, time
        if os.environ["NODE_RANK"] == "1":
            print("node 1 fails", flush=True)
            sys.exit(3)
        time.sleep(600)
    """
    job = {"type": "pytorch", "process_count": 2, "node_count": 2}
    run_id = submit(api_as(owner), experiment, script, job)
    run = wait_for_status(run_id, "Completed", "Failed", "Canceled", timeout=90)
    assert run.status == "Failed"
    assert "Node rank 1" in run.error["message"] and "exit code 3" in run.error["message"]


def test_a_cancel_reaches_every_node(owner, experiment, api_as, two_nodes):
    script = "import time\nprint('waiting', flush=True)\ntime.sleep(600)\n"
    job = {"type": "pytorch", "process_count": 2, "node_count": 2}
    client = api_as(owner)
    run_id = submit(client, experiment, script, job)
    wait_for_status(run_id, "Running", timeout=90)
    client.post(f"/api/workspaces/lab/runs/{run_id}/cancel")
    run = wait_for_status(run_id, "Canceled", timeout=60)
    assert run.status == "Canceled"
    wait_until(
        lambda: RunNode.objects.filter(run_id=run_id, state="finished").count() == 2,
        30, "every node to stop its processes",
    )  # fmt: skip
