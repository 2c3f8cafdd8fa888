"""The launch plan, on plain data: no worker, no database, no process."""

import itertools

import pytest

from runs import launch
from runs.definition import RunDefinition

IDENTITY = launch.Identity(
    run_id="exp_1", node_rank=0, experiment="exp", workspace="lab", run_dir="/w/exp_1/.mlstudio",
    metric_name_max=255, metric_value_max_bytes=65536,
)  # fmt: skip
HOST = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "MLSTUDIO_SECRET_KEY": "s", "DATABASE_URL": "pg",
        "REDIS_URL": "redis", "DJANGO_SETTINGS_MODULE": "mlstudio.settings"}  # fmt: skip


def plan(stored: dict, **kwargs):
    ports = itertools.count(29500)
    options = {"python": "/env/bin/python", "image": None, "docker": None,
               "workdir": "/w/exp_1", "sdk_path": "/studio", "host_env": HOST,
               "free_port": lambda: next(ports)}  # fmt: skip
    options.update(kwargs)
    return launch.launch_plan(RunDefinition.of(stored), IDENTITY, **options)


def test_it_runs_the_script_with_the_environments_python_and_its_arguments():
    made = plan({"script": "train.py", "arguments": ["--lr", "0.1"]})
    assert made.argv == ["/env/bin/python", "train.py", "--lr", "0.1"]
    assert made.container is None and not made.distributed


def test_it_runs_a_command_as_given():
    assert plan({"command": ["bash", "-c", "echo hi"]}).argv == ["bash", "-c", "echo hi"]


def test_a_commands_python_is_the_environments():
    made = plan({"command": ["python", "train.py"]})
    assert made.argv == ["python", "train.py"]
    assert made.env["PATH"].split(":")[0] == "/env/bin"


def test_it_keeps_the_studios_settings_and_secrets_from_the_script():
    env = plan({"script": "t.py", "environment_variables": {"MY": "1"}}).env
    assert env["PATH"] == "/env/bin:/usr/bin" and env["LANG"] == "C.UTF-8" and env["MY"] == "1"
    assert not {"MLSTUDIO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"} & set(
        env
    )
    assert env["PYTHONPATH"] == "/studio" and env["PYTHONUNBUFFERED"] == "1"
    assert env["MLSTUDIO_RUN_ID"] == "exp_1" and env["MLSTUDIO_WORKSPACE"] == "lab"
    assert env["MLSTUDIO_RUN_DIR"] == "/w/exp_1/.mlstudio"


def test_a_container_gets_only_its_own_variables_and_a_spec():
    made = plan({"script": "t.py"}, image="mlstudio/python:bookworm",
                docker={"shm_size": "1g", "arguments": ["--cpus", "1"]})  # fmt: skip
    assert "PATH" not in made.env and "PYTHONPATH" not in made.env
    assert made.container == launch.ContainerSpec(
        name="mlstudio-run-exp_1", image="mlstudio/python:bookworm", workdir="/w/exp_1",
        shm_size="1g", arguments=("--cpus", "1"), sdk_path="/studio",
    )  # fmt: skip


def test_a_pytorch_job_starts_through_the_launcher_with_a_rendezvous():
    job = {"type": "pytorch", "process_count": 4, "node_count": 2}
    made = plan({"script": "t.py", "distributed": job},
                node=launch.Node(rank=1, nodes=2, master=("10.0.0.5", 1234)))  # fmt: skip
    assert made.argv == [
        "/env/bin/python", "-m", "mlstudio.sdk._launch", "pytorch", "--nprocs", "2",
        "--nnodes", "2", "--node-rank", "1", "--master-addr", "10.0.0.5",
        "--master-port", "1234", "--", "/env/bin/python", "t.py",
    ]  # fmt: skip
    assert made.distributed and "rendezvous at 10.0.0.5:1234" in made.notes[0]


def test_a_one_node_pytorch_job_takes_a_free_port():
    made = plan({"script": "t.py", "distributed": {"type": "pytorch", "process_count": 2}})
    assert made.argv[made.argv.index("--master-port") + 1] == "29500"


def test_a_tensorflow_job_gets_a_cluster_of_workers_and_parameter_servers():
    job = {"type": "tensorflow", "process_count": 3, "worker_count": 2,
           "parameter_server_count": 1}  # fmt: skip
    made = plan({"script": "t.py", "distributed": job})
    cluster = made.argv[made.argv.index("--cluster") + 1]
    assert cluster == (
        '{"worker": ["127.0.0.1:29500", "127.0.0.1:29501"], "ps": ["127.0.0.1:29502"]}'
    )


def test_an_mpi_job_needs_mpirun_on_the_worker():
    job = {"type": "mpi", "process_count": 2}
    with pytest.raises(launch.PreparationError, match="apt-get install openmpi-bin"):
        plan({"script": "t.py", "distributed": job}, node=launch.Node(mpirun=False))
    made = plan({"script": "t.py", "distributed": job}, node=launch.Node(as_root=True))
    assert made.argv[:9] == ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to",
                             "none", "-np", "2", "/env/bin/python", "-m"]  # fmt: skip


def test_the_definition_decides_docker_in_one_place():
    assert RunDefinition.of({"target_type": "docker"}).in_docker({"docker": {"enabled": False}})
    assert RunDefinition.of({}).in_docker({"docker": {"enabled": True}})
    assert not RunDefinition.of({"target_type": "local"}).in_docker({})
    assert RunDefinition.of({"distributed": {"type": "pytorch", "process_count": 4,
                                             "node_count": 2}}).node_count == 2  # fmt: skip
