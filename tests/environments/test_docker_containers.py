"""Containers that look like a process to the run executor, on a real Docker engine."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

from environments import containers, docker
from mlstudio.errors import UserError
from tests.network import SERVICE_PORTS, host_reaches

pytest_plugins = ["tests.docker_fixtures"]
BASE_IMAGE = settings.MLSTUDIO_DEFAULT_BASE_IMAGE
REPO_ROOT = Path(__file__).resolve().parents[2]


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        env=containers.container_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_lines(process: subprocess.Popen) -> list[tuple[float, str, str]]:
    """(arrival time, stream, line) for each line, read as the executor does: a selector."""
    lines = []
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, "stdout")
        selector.register(process.stderr, selectors.EVENT_READ, "stderr")
        while selector.get_map():
            for key, _ in selector.select(timeout=30):
                line = key.fileobj.readline()
                if line:
                    lines.append((time.monotonic(), key.data, line.rstrip("\n")))
                else:
                    selector.unregister(key.fileobj)
    return lines


def script_argv(name: str, tmp_path, script: str, env: dict | None = None, **options) -> list:
    """The docker argv of `python3 -c script` in the base image, in tmp_path, with the SDK."""
    return containers.container_argv(
        containers.ContainerRun(
            name=name,
            image=BASE_IMAGE,
            argv=["python3", "-u", "-c", script],
            workdir=str(tmp_path),
            env=env or {},
            sdk_path=str(REPO_ROOT),
            **options,
        )
    )


def run_in_container(name: str, tmp_path, script: str, **options):
    process = start(script_argv(name, tmp_path, script, **options), {})
    lines = read_lines(process)
    return process.wait(30), lines


SCRIPT = """
import os, sys, time
print("hello", os.environ["GREETING"])
time.sleep(1.5)
print("cwd", os.getcwd())
open("written-inside.txt", "w").write(os.environ["MLSTUDIO_RUN_DIR"])
import mlstudio.sdk
print("sdk from", mlstudio.sdk.__file__, file=sys.stderr)
sys.exit(3)
"""


def test_it_runs_a_script_like_a_process_with_live_output(container_name, tmp_path):
    env = {"GREETING": "from-env", "MLSTUDIO_RUN_DIR": str(tmp_path), "TOKEN": "secret-4711"}
    argv = script_argv(container_name, tmp_path, SCRIPT, env=env)
    process = start(argv, env)
    lines = read_lines(process)
    ended = time.monotonic()

    assert process.wait(30) == 3
    by_stream = {(stream, line) for _, stream, line in lines}
    assert ("stdout", "hello from-env") in by_stream
    assert ("stdout", f"cwd {tmp_path}") in by_stream
    assert ("stderr", f"sdk from {docker.SDK_DIR}/mlstudio/sdk/__init__.py") in by_stream
    first = next(at for at, _, line in lines if line == "hello from-env")
    assert ended - first > 1, "stdout arrives while the script runs"
    assert (tmp_path / "written-inside.txt").read_text() == str(tmp_path)
    assert "secret-4711" not in " ".join(argv)
    assert containers.container_exit_code(container_name) == 3


def test_it_mounts_the_sdk_read_only(container_name, tmp_path):
    code, lines = run_in_container(
        container_name,
        tmp_path,
        f"open('{docker.SDK_DIR}/mlstudio/intruder.py', 'w')",
    )

    assert code == 1
    assert any("Read-only file system" in line for _, _, line in lines)


def test_it_mounts_a_read_only_folder_over_the_working_folder(container_name, tmp_path):
    data = tmp_path / "datasets" / "mnist"
    data.mkdir(parents=True)
    (data / "labels.bin").write_bytes(b"\x02" * 10)
    script = (
        "import os; print('uid', os.geteuid()); open('beside.txt', 'w').write('ok'); "
        f"open('{data}/labels.bin', 'ab').write(b'x')"
    )
    code, lines = run_in_container(container_name, tmp_path, script, read_only=[str(data)])

    assert code == 1
    said = [line for _, _, line in lines]
    assert "uid 0" in said  # root in the container, which file modes would not stop
    assert any("Read-only file system" in line for line in said)
    assert (tmp_path / "beside.txt").read_text() == "ok"  # the rest stays writable
    assert (data / "labels.bin").read_bytes() == b"\x02" * 10
    with pytest.raises(ValueError, match="read_only must be an absolute path"):
        script_argv(container_name, tmp_path, "pass", read_only=["datasets/mnist"])


def test_it_applies_the_shm_size(container_name, tmp_path):
    code, lines = run_in_container(
        container_name,
        tmp_path,
        "import os; s = os.statvfs('/dev/shm'); print('shm', s.f_blocks * s.f_frsize)",
        shm_size="96m",
    )

    assert code == 0
    assert ("stdout", f"shm {96 * 1024 * 1024}") in {(s, line) for _, s, line in lines}


def test_it_passes_allowed_docker_arguments(container_name, tmp_path):
    code, lines = run_in_container(
        container_name,
        tmp_path,
        "import os; print('mem', open('/sys/fs/cgroup/memory.max').read().strip()"
        " if os.path.exists('/sys/fs/cgroup/memory.max')"
        " else open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read().strip())",
        arguments=["--memory", "256m", "--env=EXTRA=1"],
    )

    assert code == 0
    assert ("stdout", f"mem {256 * 1024 * 1024}") in {(s, line) for _, s, line in lines}


def test_it_stops_and_removes_a_container(container_name, tmp_path, docker_engine):
    argv = containers.container_argv(
        containers.ContainerRun(
            name=container_name,
            image=BASE_IMAGE,
            argv=["python3", "-c", "import time; print('up', flush=True); time.sleep(120)"],
            workdir=str(tmp_path),
            env={},
            sdk_path=str(REPO_ROOT),
        )
    )
    process = start(argv, {})
    assert process.stdout.readline() == "up\n"

    started = time.monotonic()
    containers.container_stop(container_name, timeout=10)
    process.wait(10)
    stopped_after = time.monotonic() - started
    containers.container_remove(container_name)

    assert stopped_after < 5, "the script stops on SIGTERM, without waiting for SIGKILL"
    assert docker_engine.containers.list(all=True, filters={"name": container_name}) == []
    assert containers.container_exit_code(container_name) is None
    containers.container_stop(container_name)
    containers.container_remove(container_name)


def base_run(name: str, tmp_path, python_args: list[str], **options) -> containers.ContainerRun:
    """`python3 -c ...` in the base image, its working folder `tmp_path`, no variables."""
    return containers.ContainerRun(
        name=name, image=BASE_IMAGE, argv=["python3", "-c", *python_args],
        workdir=str(tmp_path), env={}, sdk_path=str(REPO_ROOT), **options,
    )  # fmt: skip


def test_it_copies_files_in_and_out_when_the_engine_cannot_mount(container_name, tmp_path):
    (tmp_path / "input.txt").write_text("21")
    script = (
        "import mlstudio.sdk, pathlib; n = int(pathlib.Path('input.txt').read_text()); "
        "out = pathlib.Path('outputs'); out.mkdir(); (out / 'answer.txt').write_text(str(2 * n)); "
        "(out / 'python').symlink_to('/usr/bin/python3')"
    )
    start_argv = containers.container_create(base_run(container_name, tmp_path, [script]))

    process = start(start_argv, {})
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    assert not (tmp_path / "outputs").exists(), "nothing is mounted"
    containers.copy_out(container_name, str(tmp_path))
    assert (tmp_path / "outputs" / "answer.txt").read_text() == "42"
    assert not (tmp_path / "outputs" / "python").exists(), "a link out of the folder is skipped"


CONNECT = """
import json, socket, sys
reached = []
for port in json.loads(sys.argv[1]):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        reached.append(port)
    except OSError as error:
        print("port", port, type(error).__name__)
print("REACHED", json.dumps(reached))
"""


def reached_from_container(name: str, tmp_path, ports: list[int], **options) -> set[int]:
    argv = containers.container_argv(
        base_run(name, tmp_path, [CONNECT, json.dumps(ports)], **options)
    )
    process = start(argv, {})
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    line = next(x for x in stdout.splitlines() if x.startswith("REACHED "))
    return set(json.loads(line.removeprefix("REACHED ")))


def test_with_the_network_on_a_container_reaches_what_the_host_reaches(
    container_name, tmp_path, tcp_listener
):
    ports = [tcp_listener, *SERVICE_PORTS]
    expected = host_reaches(ports)
    print("the host reaches", sorted(expected), "of", ports)

    assert tcp_listener in expected
    assert reached_from_container(container_name, tmp_path, ports, network=True) == expected


def test_without_network_a_container_reaches_no_port_of_the_host(
    container_name, tmp_path, tcp_listener
):
    ports = [tcp_listener, *SERVICE_PORTS]
    print("the host reaches", sorted(host_reaches(ports)), "of", ports)

    assert reached_from_container(container_name, tmp_path, ports, network=False) == set()
    inspected = subprocess.run(
        ["docker", "inspect", "-f", "{{.HostConfig.NetworkMode}}", container_name],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert inspected.strip() == "none"


OWNERSHIP = f"""
import os, pathlib
print("uid", os.getuid(), os.getgid())
print("workdir owner", os.stat(".").st_uid, os.stat("input.txt").st_uid)
print("sdk owner", os.stat("{docker.SDK_DIR}/mlstudio").st_uid,
      os.stat("{docker.SDK_DIR}/mlstudio/sdk/__init__.py").st_uid)
try:
    open("{docker.SDK_DIR}/mlstudio/intruder.py", "w")
    print("sdk written")
except PermissionError:
    print("sdk refused")
pathlib.Path("outputs").mkdir(exist_ok=True)
pathlib.Path("outputs/answer.txt").write_text("written by " + str(os.getuid()))
"""


def test_copied_files_belong_to_the_run_user_and_the_sdk_to_root(container_name, tmp_path):
    (tmp_path / "input.txt").write_text("21")
    (tmp_path / "outputs").mkdir()
    start_argv = containers.container_create(
        containers.ContainerRun(
            name=container_name,
            image=BASE_IMAGE,
            argv=["python3", "-c", OWNERSHIP],
            workdir=str(tmp_path),
            env={"HOME": "/tmp"},
            sdk_path=str(REPO_ROOT),
            user="4321:4322",
        )
    )

    process = start(start_argv, {})
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    lines = stdout.splitlines()
    assert "uid 4321 4322" in lines
    assert "workdir owner 4321 4321" in lines
    assert "sdk owner 0 0" in lines
    assert "sdk refused" in lines
    containers.copy_out(container_name, str(tmp_path / "outputs"))
    answer = tmp_path / "outputs" / "answer.txt"
    assert answer.read_text() == "written by 4321"
    assert answer.stat().st_uid == os.getuid(), "what comes back is the studio's"


@pytest.mark.parametrize(
    "arguments, refused",
    [
        (["--privileged"], "--privileged is not allowed"),
        (["-v", "/:/host"], "mounts a host folder"),
        (["--volume=/etc:/etc"], "mounts a host folder"),
        (["--mount", "type=bind,source=/,target=/host"], "must be type=volume or type=tmpfs"),
        (
            [
                "--mount=type=volume,dst=/h,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/"
            ],
            "without volume options",
        ),
        (["--pid", "host"], "--pid is not allowed"),
        (["--pid=host"], "--pid is not allowed"),
        (["--cap-add", "SYS_ADMIN"], "--cap-add is not allowed"),
        (["--security-opt", "seccomp=unconfined"], "--security-opt is not allowed"),
        (["--device", "/dev/sda"], "--device is not allowed"),
        (["--ipc", "host"], "--ipc host is not allowed"),
        (["--network", "bridge"], "--network is not allowed"),
        (["--memory"], "--memory needs a value"),
        (["--frobnicate"], "'--frobnicate' is not an option MLStudio passes"),
    ],
)
def test_it_refuses_dangerous_docker_arguments(arguments, refused):
    with pytest.raises(UserError) as error:
        containers.validate_arguments(arguments)

    assert refused in error.value.message


def test_it_accepts_resource_limits_and_named_volumes():
    arguments = [
        "--memory",
        "1g",
        "-m2g",
        "--cpus=1.5",
        "-v",
        "cache:/cache",
        "-v",
        "/scratch",
        "--ulimit",
        "nofile=1024:1024",
        "--ipc=private",
        "--read-only",
        "--mount",
        "type=tmpfs,target=/tmp/fast",
    ]

    assert containers.validate_arguments(arguments) == arguments


def test_it_refuses_a_malformed_shm_size(tmp_path):
    with pytest.raises(UserError, match=r"docker\.shm_size '2 gigs' is not a size"):
        containers.container_argv(
            containers.ContainerRun(
                name="x",
                image=BASE_IMAGE,
                argv=["true"],
                workdir=str(tmp_path),
                env={},
                sdk_path=str(REPO_ROOT),
                shm_size="2 gigs",
            )
        )


@pytest.mark.parametrize(
    "docker_host, remote",
    [
        ("", False),
        ("unix:///var/run/docker.sock", False),
        ("tcp://127.0.0.1:2375", False),
        ("tcp://localhost:2375", False),
        ("tcp://10.1.2.3:2376", True),
        ("ssh://builder@gpu-box", True),
    ],
)
def test_it_tells_a_remote_engine_from_a_local_one(monkeypatch, docker_host, remote):
    monkeypatch.setenv("DOCKER_HOST", docker_host)

    assert docker.engine_is_remote() is remote


def test_it_names_docker_host_when_no_engine_answers(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")

    with pytest.raises(UserError, match=r"No Docker engine at DOCKER_HOST=unix:///nonexistent"):
        docker.image_exists(BASE_IMAGE)


def test_an_image_with_its_own_user_can_write_its_copied_files(
    container_name, tmp_path, image_with_user
):
    image = image_with_user("2345:2345")
    workdir = tmp_path / "work"
    (workdir / "outputs").mkdir(parents=True)
    script = (
        "import os, pathlib; pathlib.Path('outputs/answer.txt').write_text(str(os.getuid())); "
        "pathlib.Path('more').mkdir(); print('wrote as', os.getuid())"
    )
    run = containers.ContainerRun(
        name=container_name, image=image, argv=["python3", "-c", script],
        workdir=str(workdir), env={"HOME": "/tmp"}, sdk_path=str(REPO_ROOT),
    )  # fmt: skip
    try:
        process = start(containers.container_create(run), {})
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert "wrote as 2345" in stdout
        containers.copy_out(container_name, str(workdir / "outputs"))
        assert (workdir / "outputs" / "answer.txt").read_text() == "2345"
    finally:
        containers.container_remove(container_name)
