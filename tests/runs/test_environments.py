"""Runs in registered environments, executed by a real worker: a virtualenv built once and
cached, a Docker image with the script in a container, and a build that fails."""

import json
import os
import pwd
import subprocess

import pytest
from django.conf import settings

from environments.models import EnvironmentVersion
from runs import services, store
from tests import processes
from tests.conftest import local_worker_process
from tests.environments.helpers import make_wheel, offline_packages
from tests.network import SERVICE_PORTS, host_reaches
from tests.runs.helpers import submit_script, wait_for_status

pytest_plugins = ["tests.docker_fixtures"]
pytestmark = pytest.mark.slow


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="envs", user=owner)


def log_of(run_id: str, name: str) -> str:
    return store.read_log(run_id, name, 0, 10_000_000)[0]


def venv_spec(tmp_path) -> dict:
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    return {
        "name": "tiny",
        "python": {"conda_dependencies": {"pip_packages": offline_packages(wheels, "tinypkg")}},
    }


SCRIPT = """
    import sys, tinypkg
    from mlstudio.sdk import Run
    print(tinypkg.GREETING, sys.prefix, flush=True)
    Run.get_context().log("loss", 0.5)
"""


def test_it_builds_a_virtualenv_once_then_runs_from_the_cache(
    owner, experiment, api_as, local_worker, tmp_path
):
    client = api_as(owner)
    spec = venv_spec(tmp_path)
    first = submit_script(client, experiment, {"train.py": SCRIPT}, environment=spec)
    run = wait_for_status(first, "Completed", "Failed", timeout=120)
    system = log_of(first, store.SYSTEM_LOG)
    assert run.status == "Completed", system + log_of(first, store.USER_LOG)
    assert "hello from tinypkg 1.0" in log_of(first, store.USER_LOG)
    assert "+ tinypkg==1.0" in log_of(first, "system_logs/environment_build_log.txt")  # uv
    assert run.definition["environment"]["name"] == "tiny"
    assert run.definition["environment"]["version"] == "1"
    assert "virtualenv, built in" in system

    second = submit_script(client, experiment, {"train.py": SCRIPT}, environment=spec)
    run = wait_for_status(second, "Completed", "Failed", timeout=60)
    assert run.status == "Completed"
    assert "virtualenv, cached" in log_of(second, store.SYSTEM_LOG)
    assert run.metrics.get(name="loss").last_value == 0.5
    assert EnvironmentVersion.objects.filter(environment__name="tiny").count() == 1


def test_it_fails_a_run_whose_packages_cannot_be_installed(
    owner, experiment, api_as, local_worker, tmp_path
):
    spec = {
        "name": "broken",
        "python": {"conda_dependencies": {"pip_packages": offline_packages(tmp_path, "nope-pkg")}},
    }
    run_id = submit_script(api_as(owner), experiment, {"train.py": "print(1)"}, environment=spec)
    run = wait_for_status(run_id, "Completed", "Failed", timeout=120)
    assert run.status == "Failed"
    assert "failed to build" in run.error["message"]
    assert "No matching distribution found for nope-pkg" in run.error["message"]
    build_log = log_of(run_id, "system_logs/environment_build_log.txt")
    assert "No matching distribution found for nope-pkg" in build_log
    version = EnvironmentVersion.objects.get(environment__name="broken")
    assert version.build_status == "Failed"


def test_it_runs_a_docker_environment_in_a_container(
    owner, experiment, api_as, local_worker, docker_engine
):
    spec = {
        "name": "boxed",
        "python": {"user_managed_dependencies": True, "interpreter_path": "python3"},
        "docker": {"enabled": True, "shm_size": "64m"},
        "environment_variables": {"WHERE": "in a box"},
    }
    script = """
        import os, pathlib
        from mlstudio.sdk import Run
        print(os.environ["WHERE"], pathlib.Path("/.dockerenv").exists(), flush=True)
        Run.get_context().log("acc", 0.9)
        open("outputs/result.txt", "w").write("made inside")
    """
    run_id = submit_script(api_as(owner), experiment, {"train.py": script}, environment=spec)
    run = wait_for_status(run_id, "Completed", "Failed", timeout=180)
    system = log_of(run_id, store.SYSTEM_LOG)
    assert run.status == "Completed", system + log_of(run_id, store.USER_LOG)
    assert "in a box True" in log_of(run_id, store.USER_LOG)
    assert "image mlstudio/env:" in system
    # where it ran, as the API (and so the run page and the runs table) tell it
    details = api_as(owner).get(f"/api/workspaces/lab/runs/{run_id}").json()
    assert details["image"].startswith("mlstudio/env:") and details["image"] in system
    assert details["node"]
    assert run.metrics.get(name="acc").last_value == 0.9
    assert "outputs/result.txt" in [f["name"] for f in store.list_files(run_id)]
    left = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=mlstudio.run-container", "-q"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert left.strip() == ""


def test_it_stops_and_removes_the_container_of_a_canceled_run(
    owner, experiment, api_as, local_worker, docker_engine
):
    spec = {
        "name": "boxed-sleeper",
        "python": {"user_managed_dependencies": True, "interpreter_path": "python3"},
        "docker": {"enabled": True},
    }
    script = "import time\nprint('sleeping in a box', flush=True)\ntime.sleep(600)\n"
    client = api_as(owner)
    run_id = submit_script(client, experiment, {"train.py": script}, environment=spec)
    processes.wait_until(
        lambda: "sleeping in a box" in log_of(run_id, store.USER_LOG), 120, "the container"
    )
    client.post(f"/api/workspaces/lab/runs/{run_id}/cancel")
    run = wait_for_status(run_id, "Canceled", timeout=60)
    assert run.status == "Canceled"
    assert not docker_engine.containers.list(all=True, filters={"label": "mlstudio.run-container"})


@pytest.fixture
def copying_worker(transactional_db, tmp_path):
    """A worker that treats its Docker engine as remote: files are copied in and out of run
    containers (put_archive/get_archive), never mounted, as with DOCKER_HOST on another
    machine. The engine itself is the real local one."""
    with local_worker_process(tmp_path / "worker.log", MLSTUDIO_DOCKER_COPY_FILES="1") as process:
        yield process


REMOTE_SPEC = {
    "name": "boxed-remote",
    "python": {"user_managed_dependencies": True, "interpreter_path": "python3"},
    "docker": {"enabled": True},
}
# Who the script is, who owns its folder and the SDK, which host ports it reaches.
REPORT = """
    import json, os, socket, subprocess, sys
    import mlstudio
    print("id -u:", subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip())
    print("owners:", os.stat(".").st_uid, os.stat("outputs").st_uid,
          os.stat(os.path.dirname(mlstudio.__file__)).st_uid)
    reached = []
    for port in json.loads(sys.argv[1]):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
            reached.append(port)
        except OSError:
            pass
    print("reached:", json.dumps(reached), flush=True)
"""


def run_user_uid() -> int:
    return pwd.getpwnam(settings.MLSTUDIO_RUN_USER).pw_uid


def report_of(log: str) -> tuple[int, list[int], list[int]]:
    """(the uid `id -u` printed, the owners of cwd/outputs/SDK, the host ports reached)."""
    said = dict(line.split(": ", 1) for line in log.splitlines() if ": " in line)
    owners = [int(x) for x in said["owners"].split()]
    return int(said["id -u"]), owners, json.loads(said["reached"])


def test_a_remote_engine_gets_the_files_by_copy_and_gives_them_back(
    owner, experiment, api_as, copying_worker, docker_engine, tcp_listener
):
    script = (
        REPORT
        + """
    import time
    from mlstudio.sdk import Run
    run = Run.get_context()
    print("reading", open("data.txt").read(), flush=True)
    for i in range(3):
        run.log("loss", 1.0 / (i + 1))
    run.flush()
    os.makedirs("logs", exist_ok=True)
    open("logs/progress.txt", "w").write("half way")
    time.sleep(4)  # the metrics arrive while it runs
    open("outputs/result.txt", "w").write("made remotely")
    """
    )
    ports = [tcp_listener, *SERVICE_PORTS]
    files = {"train.py": script, "data.txt": "copied in"}
    run_id = submit_script(api_as(owner), experiment, files, environment=REMOTE_SPEC,
                           arguments=[json.dumps(ports)])  # fmt: skip
    processes.wait_until(
        lambda: store.read_log(run_id, store.USER_LOG, 0, 10_000)[0], 120, "the container"
    )
    processes.wait_until(
        lambda: experiment.runs.get(pk=run_id).metrics.filter(name="loss", count=3).exists(),
        30,
        "the metrics, copied out while the run goes on",
    )
    run = wait_for_status(run_id, "Completed", "Failed", timeout=120)
    system, log = log_of(run_id, store.SYSTEM_LOG), log_of(run_id, store.USER_LOG)
    assert run.status == "Completed", system + log
    assert "copying files in and out" in system
    assert "Network: none" not in system
    assert "reading copied in" in log
    uid, owners, reached = report_of(log)
    assert uid == run_user_uid() != 0, "the script runs as the run user, not root"
    assert owners == [uid, uid, 0], "its folder is the run user's, the SDK root's"
    assert set(reached) == host_reaches(ports) and tcp_listener in reached
    names = [f["name"] for f in store.list_files(run_id)]
    assert "outputs/result.txt" in names and "logs/progress.txt" in names
    result = store.run_file(run_id, "outputs/result.txt")
    assert result.read_text() == "made remotely"
    assert result.stat().st_uid == os.getuid(), "the run's files are the studio's"
    assert not docker_engine.containers.list(all=True, filters={"label": "mlstudio.run-container"})


def test_a_copied_run_without_network_reaches_no_host_and_still_reports(
    owner, experiment, api_as, transactional_db, tmp_path, docker_engine, tcp_listener
):
    script = (
        REPORT
        + """
    from mlstudio.sdk import Run
    run = Run.get_context()
    run.log("acc", 0.75)
    print("metrics read back:", run.get_metrics()["acc"], flush=True)
    open("outputs/result.txt", "w").write("made offline")
    """
    )
    ports = [tcp_listener, *SERVICE_PORTS]
    print("the host reaches", sorted(host_reaches(ports)), "of", ports)
    with local_worker_process(tmp_path / "worker.log", MLSTUDIO_DOCKER_COPY_FILES="1",
                              MLSTUDIO_RUN_NETWORK="false"):  # fmt: skip
        run_id = submit_script(api_as(owner), experiment, {"train.py": script},
                               environment=REMOTE_SPEC, arguments=[json.dumps(ports)])  # fmt: skip
        run = wait_for_status(run_id, "Completed", "Failed", timeout=180)
    system, log = log_of(run_id, store.SYSTEM_LOG), log_of(run_id, store.USER_LOG)
    assert run.status == "Completed", system + log
    assert "Network: none (MLSTUDIO_RUN_NETWORK is off)" in system
    assert "the studio's files come by copy" in system
    uid, owners, reached = report_of(log)
    assert uid == run_user_uid() != 0
    assert owners == [uid, uid, 0]
    assert reached == [], "without network the run reaches no port of the host"
    assert "metrics read back: 0.75" in log
    assert run.metrics.get(name="acc").last_value == 0.75, "metrics come by file, not network"
    assert store.run_file(run_id, "outputs/result.txt").read_text() == "made offline"
