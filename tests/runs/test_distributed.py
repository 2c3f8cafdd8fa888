"""Distributed jobs on one node: real PyTorch (gloo) all_reduce across processes, Open MPI's
mpirun, TensorFlow's TF_CONFIG, one log per process, and a failing process failing the run."""

from __future__ import annotations

import json

import pytest

from mlstudio.sdk import (
    MpiConfiguration,
    PyTorchConfiguration,
    ScriptRunConfig,
    TensorflowConfiguration,
    UserErrorException,
)
from mlstudio.sdk._launch import substitute, tagged, untag
from runs import services, store
from runs.models import Run
from tests.runs.helpers import submit_script, upload_snapshot, wait_for_status


def test_the_launcher_tags_lines_by_rank_and_fills_in_rank_variables():
    assert untag(tagged(3, b"hello\n")) == (3, b"hello\n")
    assert untag(b"plain\n") == (None, b"plain\n")
    # A progress bar's last state keeps its rank.
    line = tagged(1, b"10%\r50%\r100%\n")
    assert untag(line.rsplit(b"\r", 1)[1]) == (1, b"100%\n")
    env = {"LOCAL_RANK": "1", "RANK": "5"}
    assert substitute(["--local-rank", "$LOCAL_RANK", "r=${RANK}", "$OTHER"], env) == [
        "--local-rank", "1", "r=5", "$OTHER",
    ]  # fmt: skip


def test_the_sdk_sends_the_job_shape_as_v1_named_it():
    config = ScriptRunConfig(".", "train.py", distributed_job_config=PyTorchConfiguration(
        communication_backend="Gloo", process_count=4, node_count=2))  # fmt: skip
    assert config.to_dict()["distributed"] == {
        "type": "pytorch", "communication_backend": "Gloo", "process_count": 4, "node_count": 2,
    }  # fmt: skip
    assert MpiConfiguration(process_count_per_node=2, node_count=2).to_dict()["process_count"] == 4
    assert (
        TensorflowConfiguration(worker_count=2, parameter_server_count=1).to_dict()["process_count"]
        == 3
    )
    with pytest.raises(UserErrorException, match="spread evenly"):
        PyTorchConfiguration(process_count=3, node_count=2)
    with pytest.raises(UserErrorException, match="node_count"):
        PyTorchConfiguration(node_count=0)


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="dist", user=owner)


def log_of(run_id: str, name: str = store.USER_LOG) -> str:
    return store.read_log(run_id, name, 0, 10_000_000)[0]


@pytest.mark.parametrize(
    ("distributed", "problem"),
    [
        ({"type": "pytorch", "process_count": 2, "node_count": 2}, "more than compute target"),
        ({"type": "pytorch", "process_count": 3, "node_count": 2}, "spread evenly"),
        ({"type": "horovod"}, "PyTorchConfiguration, MpiConfiguration"),
        ({"type": "mpi", "process_count": 0}, "process_count must be"),
        ({"type": "pytorch", "process_count": 10_000}, "above the limit"),
    ],
)
def test_a_bad_job_shape_is_refused_and_nothing_is_queued(
    owner, experiment, api_as, distributed, problem
):
    client = api_as(owner)
    snapshot = upload_snapshot(client, {"train.py": "print(1)"})
    response = client.post(
        f"/api/workspaces/lab/experiments/{experiment.pk}/runs",
        {"snapshot_id": snapshot, "config": {"script": "train.py", "distributed": distributed}},
        content_type="application/json",
    )
    assert response.status_code == 400 and problem in response.json()["detail"]
    assert not Run.objects.exists()


ALL_REDUCE = """
    import os, sys
    import torch
    import torch.distributed as dist
    dist.init_process_group("gloo")
    value = torch.tensor([float(dist.get_rank() + 1)])
    dist.all_reduce(value)
    print(f"rank {dist.get_rank()} of {dist.get_world_size()} local {os.environ['LOCAL_RANK']}"
          f" node {os.environ['NODE_RANK']} args {sys.argv[1:]} sum {value.item()}", flush=True)
    dist.destroy_process_group()
"""


@pytest.mark.slow
def test_pytorch_all_reduce_across_two_processes_on_one_node(
    owner, experiment, api_as, local_worker
):
    job = {"type": "pytorch", "communication_backend": "Gloo", "process_count": 2}
    run_id = submit_script(api_as(owner), experiment, {"train.py": ALL_REDUCE},
                           arguments=["--local-rank", "$LOCAL_RANK"], distributed=job)  # fmt: skip
    run = wait_for_status(run_id, "Completed", "Failed", timeout=120)
    assert run.status == "Completed", log_of(run_id) + log_of(run_id, store.SYSTEM_LOG)
    for rank in (0, 1):
        own = log_of(run_id, f"user_logs/std_log_process_{rank}.txt")
        assert (
            f"rank {rank} of 2 local {rank} node 0 args ['--local-rank', '{rank}'] sum 3.0" in own
        )
    combined = log_of(run_id)
    assert "[rank 0] rank 0 of 2" in combined and "[rank 1] rank 1 of 2" in combined
    assert "PyTorch job: 2 process(es)" in log_of(run_id, store.SYSTEM_LOG)


@pytest.mark.slow
def test_mpi_runs_its_processes_with_mpirun(owner, experiment, api_as, local_worker):
    script = """
        import os
        print("mpi rank", os.environ["OMPI_COMM_WORLD_RANK"], "of", os.environ["WORLD_SIZE"],
              "rank var", os.environ["RANK"], flush=True)
    """
    job = {"type": "mpi", "process_count": 2, "node_count": 1}
    run_id = submit_script(api_as(owner), experiment, {"train.py": script}, distributed=job)
    run = wait_for_status(run_id, "Completed", "Failed", timeout=120)
    assert run.status == "Completed", log_of(run_id) + log_of(run_id, store.SYSTEM_LOG)
    for rank in (0, 1):
        own = log_of(run_id, f"user_logs/std_log_process_{rank}.txt")
        assert f"mpi rank {rank} of 2 rank var {rank}" in own
    assert "MPI job: mpirun with 2 process(es)" in log_of(run_id, store.SYSTEM_LOG)


@pytest.mark.slow
def test_tensorflow_processes_each_get_their_tf_config(owner, experiment, api_as, local_worker):
    script = """
        import json, os
        config = json.loads(os.environ["TF_CONFIG"])
        print("TASK", json.dumps(config["task"]), len(config["cluster"]["worker"]),
              len(config["cluster"]["ps"]), flush=True)
    """
    job = {"type": "tensorflow", "worker_count": 2, "parameter_server_count": 1}
    run_id = submit_script(api_as(owner), experiment, {"train.py": script}, distributed=job)
    run = wait_for_status(run_id, "Completed", "Failed", timeout=120)
    assert run.status == "Completed", log_of(run_id) + log_of(run_id, store.SYSTEM_LOG)
    tasks = []
    for rank in range(3):
        line = log_of(run_id, f"user_logs/std_log_process_{rank}.txt").split("TASK ", 1)[1]
        task, workers, servers = line.rsplit(" ", 2)
        tasks.append(json.loads(task))
        assert (workers, servers.strip()) == ("2", "1")
    assert tasks == [{"type": "worker", "index": 0}, {"type": "worker", "index": 1},
                     {"type": "ps", "index": 0}]  # fmt: skip


@pytest.mark.slow
def test_one_failing_process_fails_the_run_and_stops_the_others(
    owner, experiment, api_as, local_worker
):
    script = """
        import os, sys, time
        if os.environ["RANK"] == "1":
            print("rank 1 gives up", flush=True)
            sys.exit(3)
        print("rank 0 waits", flush=True)
        time.sleep(600)
    """
    job = {"type": "pytorch", "process_count": 2}
    run_id = submit_script(api_as(owner), experiment, {"train.py": script}, distributed=job)
    run = wait_for_status(run_id, "Completed", "Failed", timeout=60)
    assert run.status == "Failed" and run.exit_code == 3, log_of(run_id, store.SYSTEM_LOG)
    assert "rank 1 gives up" in log_of(run_id, "user_logs/std_log_process_1.txt")
