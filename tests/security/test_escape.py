"""A run that tries to escape (escape_script.py), submitted by a contributor of `lab` as any
user would, on the local target, a cluster node and a Docker environment. Every attempt must
fail: it may not read the secret key, the database, the data folder, another workspace's
files or another run's folder, see the studio's processes or their environments, reach the
Redis or Docker socket, or write outside its folder. Its own ./outputs still works."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from compute import services as compute
from runs import services as runs
from runs import store
from tests.conftest import local_worker_process
from tests.network import SERVICE_PORTS, host_reaches
from tests.runs.helpers import submit_script, wait_for_status
from workspaces import services as workspaces

pytest_plugins = ["tests.docker_fixtures", "tests.cluster_fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCRIPT = (Path(__file__).parent / "escape_script.py").read_text()
VICTIM_TEXT = "another workspace's private result"
PLANTED_TEXT = "another run's code"
BOXED = {"name": "escape-box", "docker": {"enabled": True},
         "python": {"user_managed_dependencies": True, "interpreter_path": "python3"}}  # fmt: skip


@pytest.fixture
def targets(stranger, tmp_path):
    """What the attacker is told: where the secrets lie on this studio. A stranger's
    workspace holds a run with a private output; a folder like another run's sits beside the
    attacker's in the working folders."""
    other = workspaces.workspace_create(name="other", owner=stranger)
    experiment = runs.experiment_create(workspace=other, name="private", user=stranger)
    victim = runs.run_start_interactive(experiment=experiment, user=stranger)
    store.write_file(victim.pk, "outputs/result.txt", io.BytesIO(VICTIM_TEXT.encode()))
    planted = Path(settings.MLSTUDIO_WORK_DIR) / "exp_planted_other" / "train.py"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(PLANTED_TEXT)
    data = Path(settings.DATA_DIR)
    marker = f"escape-{uuid.uuid4().hex[:8]}"
    database = settings.DATABASES["default"]
    found = {
        "secret_key": str(data / "secret_key"),
        "database_file": database["TEST"].get("NAME") or database["NAME"],
        "data_dir": str(data),
        "files_dir": str(settings.MEDIA_ROOT),
        "victim_output": str(store.run_file(victim.pk, "outputs/result.txt")),
        "other_workdir_file": str(planted),
        "work_dir": str(settings.MLSTUDIO_WORK_DIR),
        "redis_socket": settings.REDIS_URL.removeprefix("unix://").split("?")[0]
        if settings.REDIS_URL.startswith("unix://")
        else "",
        "writes": [
            f"/{marker}",
            f"/usr/{marker}",
            f"/etc/{marker}",
            str(data / marker),
            str(Path(settings.MLSTUDIO_WORK_DIR) / marker),
            str(Path(__file__).resolve().parents[2] / "mlstudio" / marker),
            f"/tmp/{marker}",
        ],
    }
    return found


def escape(client, experiment, found: dict, studio_pid: int, **config) -> dict[str, str]:
    """Submit the escaping script; what it saw, once the run has finished."""
    found = {**found, "studio_pid": studio_pid}
    run_id = submit_script(client, experiment, {"train.py": SCRIPT},
                           arguments=[json.dumps(found)], **config)  # fmt: skip
    run = wait_for_status(run_id, "Completed", "Failed", timeout=180)
    log = store.read_log(run_id, store.USER_LOG, 0, 1_000_000)[0]
    system = store.read_log(run_id, store.SYSTEM_LOG, 0, 1_000_000)[0]
    assert run.status == "Completed", system + log
    line = next((x for x in log.splitlines() if x.startswith("ESCAPE ")), None)
    assert line, f"the script printed no outcome:\n{log}"
    assert VICTIM_TEXT not in log and PLANTED_TEXT not in log and settings.SECRET_KEY not in log
    seen = json.loads(line.removeprefix("ESCAPE "))
    print(json.dumps(seen, indent=1))
    assert seen.pop("own outputs").startswith("GOT"), "the run could not write its own outputs"
    assert store.run_file(run_id, "outputs/ok.txt").read_text() == "escaped"
    for where in found["writes"]:
        assert not Path(where).exists(), f"the run wrote {where} on the host"
    # Its private /tmp may be written; nothing else may.
    private_tmp = seen.pop(f"write {found['writes'][-1]}")
    assert private_tmp.startswith(("GOT", "refused"))
    return seen


def assert_all_refused(seen: dict[str, str], expected: set[str]) -> None:
    assert expected <= set(seen), f"attempts missing: {expected - set(seen)}"
    escaped = {name: got for name, got in seen.items() if got.startswith("GOT")}
    assert not escaped, f"the run escaped: {escaped}"


ATTEMPTS = {"secret key", "database file", "data folder", "file store",
            "other workspace's output", "other run's folder", "runs' working folders",
            "studio's environ", "parent's environ", "pid 1's environ",
            "environs naming secrets", "signal the studio", "docker socket"}  # fmt: skip


@pytest.fixture
def experiment(owner, workspace):
    return runs.experiment_create(workspace=workspace, name="escape", user=owner)


def test_a_run_on_the_local_target_cannot_escape(owner, experiment, api_as, targets, tmp_path):
    with local_worker_process(tmp_path / "worker.log") as worker:
        seen = escape(api_as(owner), experiment, targets, worker.pid)
    assert_all_refused(seen, ATTEMPTS)


def test_a_run_without_network_cannot_reach_redis_or_the_database(
    owner, experiment, api_as, targets, tmp_path
):
    found = {**targets, "tcp_ports": [6379, 5432]}
    with local_worker_process(tmp_path / "worker.log", MLSTUDIO_RUN_NETWORK="false") as worker:
        seen = escape(api_as(owner), experiment, found, worker.pid)
    assert_all_refused(seen, ATTEMPTS | {"tcp 6379", "tcp 5432"})
    run = experiment.runs.get()
    system = store.read_log(run.pk, store.SYSTEM_LOG, 0, 1_000_000)[0]
    assert "Network: none (MLSTUDIO_RUN_NETWORK is off); the run reaches no host" in system


def test_a_run_on_a_cluster_node_cannot_escape(
    owner, workspace, experiment, api_as, targets, start_node
):
    compute.target_create(workspace=workspace, user=owner, name="gpu", type="cluster",
                          vm_size="STANDARD_NC6", max_nodes=1)  # fmt: skip
    node = start_node("--target", "gpu", "--workspace", "lab", "--slots", "1")
    seen = escape(api_as(owner), experiment, targets, node.pid, compute_target="gpu")
    assert_all_refused(seen, ATTEMPTS)


def test_a_run_in_a_docker_container_cannot_escape(
    owner, experiment, api_as, targets, tmp_path, docker_engine
):
    with local_worker_process(tmp_path / "worker.log") as worker:
        seen = escape(api_as(owner), experiment, targets, worker.pid, environment=BOXED)
    assert_all_refused(seen, ATTEMPTS)


def test_a_run_in_a_docker_container_without_network_cannot_reach_redis_or_the_database(
    owner, experiment, api_as, targets, tmp_path, docker_engine, tcp_listener
):
    ports = [*SERVICE_PORTS, tcp_listener]
    print("the host itself reaches", sorted(host_reaches(ports)), "of", ports)
    found = {**targets, "tcp_ports": ports}
    with local_worker_process(tmp_path / "worker.log", MLSTUDIO_RUN_NETWORK="false") as worker:
        seen = escape(api_as(owner), experiment, found, worker.pid, environment=BOXED)
    assert_all_refused(seen, ATTEMPTS | {f"tcp {port}" for port in ports})
