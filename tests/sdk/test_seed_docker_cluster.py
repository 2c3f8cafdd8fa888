"""The second seed article, ported by changing its import lines: a Docker environment whose
base image comes from a private registry, a cluster target created from the SDK, a run
submitted to it. Real Docker engine, real registry, a real worker node for the cluster."""

import os
import subprocess
import sys
import textwrap

import pytest

from mlstudio.sdk import Environment, Experiment, ScriptRunConfig
from mlstudio.sdk.compute import AmlCompute, ComputeTarget
from mlstudio.sdk.compute_target import ComputeTargetException
from tests import processes

pytest_plugins = ["tests.docker_fixtures"]
pytestmark = pytest.mark.slow


@pytest.fixture
def fastai_image(docker_engine, private_registry, settings):
    """The base image, pushed to the private registry as the seed's fastai image and removed
    locally, so the build must pull it with the registry's credentials."""
    name = f"{private_registry['address']}/fastdotai/fastai2"
    docker_engine.images.get(settings.MLSTUDIO_DEFAULT_BASE_IMAGE).tag(name, "latest")
    auth = {k: private_registry[k] for k in ("username", "password")}
    for event in docker_engine.api.push(name, tag="latest", auth_config=auth, stream=True,
                                        decode=True):  # fmt: skip
        assert "error" not in event, event
    docker_engine.images.remove(f"{name}:latest")
    yield f"{name}:latest"
    # By name: the pulled image is the base image itself, which must stay.
    if docker_engine.images.list(name=name):
        docker_engine.images.remove(f"{name}:latest")


@pytest.fixture
def cluster_node(transactional_db, tmp_path):
    started = []

    def start(target: str):
        log = open(tmp_path / "node.log", "ab")  # noqa: SIM115 - closed with the process
        env = {**os.environ, "DATABASE_URL": processes.test_database_url()}
        process = subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--target", target, "--workspace", "lab"],
            cwd=processes.REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        started.append((process, log))

    yield start
    for process, log in started:
        processes.stop(process)
        log.close()


def test_it_runs_the_docker_on_a_cluster_seed(ws, fastai_image, private_registry, tmp_path,
                                                cluster_node, docker_engine):  # fmt: skip
    (tmp_path / "fastai-example").mkdir()
    (tmp_path / "fastai-example" / "train.py").write_text(
        textwrap.dedent("""
            import pathlib
            print("training inside", pathlib.Path("/.dockerenv").exists(), flush=True)
        """)
    )
    fastai_env = Environment("fastai2")
    fastai_env.docker.enabled = True
    fastai_env.docker.base_image = fastai_image
    fastai_env.python.user_managed_dependencies = True
    fastai_env.docker.base_image_registry.address = private_registry["address"]
    fastai_env.docker.base_image_registry.username = private_registry["username"]
    fastai_env.docker.base_image_registry.password = private_registry["password"]

    cluster_name = "gpu-cluster"
    with pytest.raises(ComputeTargetException, match="ComputeTargetNotFound"):
        ComputeTarget(workspace=ws, name=cluster_name)
    compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=4)
    compute_target = ComputeTarget.create(ws, cluster_name, compute_config)
    compute_target.wait_for_completion(show_output=True)
    assert compute_target.get_status().serialize()["vmSize"] == "STANDARD_NC6"
    cluster_node(cluster_name)

    src = ScriptRunConfig(
        source_directory=tmp_path / "fastai-example",
        script="train.py",
        compute_target=compute_target,
        environment=fastai_env,
    )
    run = Experiment(ws, "Tutorial-fastai").submit(src)
    run.wait_for_completion(show_output=True)
    assert run.get_status() == "Completed"
    run.download_file("user_logs/std_log.txt", output_file_path=tmp_path / "log.txt")
    assert "training inside True" in (tmp_path / "log.txt").read_text()
    environment = run.get_details()["runDefinition"]["environment"]
    assert (environment["name"], environment["version"], environment["kind"]) == (
        "fastai2", "1", "docker",
    )  # fmt: skip
    assert private_registry["password"] not in str(run.get_details())
