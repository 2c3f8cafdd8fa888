"""The sandbox's command line (a pure function) and what a sandboxed process can see."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from mlstudio import sandbox
from mlstudio.sandbox import Sandbox, sandbox_argv

SYSTEM = (("/usr", None), ("/bin", "usr/bin"))


def mounts(argv: list[str]) -> list[tuple[str, str]]:
    """(option, path) for each mount bwrap is asked for, in order."""
    found = []
    argv = argv[argv.index(sandbox.BWRAP) :]
    for i, word in enumerate(argv):
        if word in ("--ro-bind", "--bind"):
            found.append((word, argv[i + 2]))
        elif word in ("--tmpfs", "--dir", "--symlink"):
            found.append((word, argv[i + 1] if word != "--symlink" else argv[i + 2]))
        elif word == "--":
            break
    return found


def test_it_binds_the_working_folder_read_write_and_the_interpreter_read_only():
    argv = sandbox_argv(
        ["python", "train.py"],
        Sandbox(workdir=Path("/data/work/r1"), read_only=(Path("/venv"),), system=SYSTEM),
    )
    assert argv[:4] == [sandbox.ENV, "--ignore-signal=TERM", "--", sandbox.BWRAP]
    assert argv[-5:] == [sandbox.ENV, "--default-signal=TERM", "--", "python", "train.py"]
    found = mounts(argv)
    assert ("--ro-bind", "/usr") in found and ("--symlink", "/bin") in found
    assert ("--ro-bind", "/venv") in found
    assert ("--bind", "/data/work/r1") in found
    assert ("--tmpfs", "/tmp") in found
    assert "--unshare-pid" in argv and "--proc" in argv
    assert argv[argv.index("--chdir") + 1] == "/data/work/r1"


def test_it_never_binds_the_data_folder_itself():
    argv = sandbox_argv(
        ["python"],
        Sandbox(workdir=Path("/data/work/r1"), hidden=(Path("/data"),), system=SYSTEM),
    )
    assert [path for _, path in mounts(argv) if path in ("/data", "/data/work")] == [
        "/data",
        "/data/work",
    ]  # only as traversable, empty mount points
    assert ("--ro-bind", "/data") not in mounts(argv)


def test_it_covers_a_data_folder_inside_a_read_only_folder():
    argv = sandbox_argv(
        ["python"],
        Sandbox(
            workdir=Path("/repo/.mlstudio/work/r1"),
            read_only=(Path("/repo"), Path("/repo/.mlstudio/envs/e1")),
            hidden=(Path("/repo/.mlstudio"),),
            system=SYSTEM,
        ),
    )
    found = mounts(argv)
    cover = found.index(("--tmpfs", "/repo/.mlstudio"))
    assert found.index(("--ro-bind", "/repo")) < cover
    assert cover < found.index(("--ro-bind", "/repo/.mlstudio/envs/e1"))
    assert cover < found.index(("--bind", "/repo/.mlstudio/work/r1"))


def test_it_drops_to_the_run_user_with_setpriv_and_no_privileges():
    argv = sandbox_argv(["python"], Sandbox(workdir=Path("/w"), user=(999, 998), system=SYSTEM))
    command = argv[argv.index(sandbox.SETPRIV) :]
    assert command[:6] == [sandbox.SETPRIV, "--reuid=999", "--regid=998", "--clear-groups",
                           "--no-new-privs", "--bounding-set=-all"]  # fmt: skip
    assert command[-1] == "python"


def test_network_follows_the_setting():
    on = sandbox_argv(["x"], Sandbox(workdir=Path("/w"), system=SYSTEM))
    off = sandbox_argv(["x"], Sandbox(workdir=Path("/w"), system=SYSTEM, network=False))
    assert "--unshare-net" not in on
    assert "--unshare-net" in off


def test_without_bwrap_only_the_user_changes():
    argv = sandbox_argv(["x"], Sandbox(workdir=Path("/w"), user=(5, 6), bwrap=False))
    assert argv[0] == sandbox.SETPRIV and argv[-1] == "x"


def test_an_interpreter_needs_its_virtualenv_and_its_base(tmp_path):
    venv = tmp_path / "env"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    (venv / "pyvenv.cfg").write_text("home = /opt/python/bin\n")
    folders = sandbox.interpreter_folders(str(venv / "bin" / "python"))
    assert venv in folders and Path("/opt/python") in folders


@pytest.mark.skipif(not os.path.exists(sandbox.BWRAP), reason="bubblewrap is not installed")
def test_a_sandboxed_process_sees_only_its_folder(tmp_path):
    secret = tmp_path / "data" / "secret_key"
    secret.parent.mkdir()
    secret.write_text("s3cret")
    work = tmp_path / "data" / "work" / "r1"
    work.mkdir(parents=True)
    user = sandbox.run_user_ensure("mlstudio-run") if os.geteuid() == 0 else None
    sandbox.workdir_hand_over(work, user)
    plan = Sandbox(workdir=work, hidden=(tmp_path / "data",), system=sandbox.system_folders(),
                   user=user)  # fmt: skip
    script = (
        f"test -e {secret} && echo SAW-SECRET; test -e /proc/{os.getpid()} && echo SAW-STUDIO; "
        "ls /proc | grep -c '^[0-9]' ; id -u; echo written > here.txt"
    )
    done = subprocess.run(sandbox_argv(["/bin/sh", "-c", script], plan), capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert "SAW-SECRET" not in lines and "SAW-STUDIO" not in lines
    assert int(lines[0]) <= 4  # its own processes only: bwrap's init, sh, ls, grep
    if user is not None:
        assert int(lines[1]) == user[0]
    assert (work / "here.txt").read_text() == "written\n"


@pytest.mark.skipif(not os.path.exists(sandbox.BWRAP), reason="bubblewrap is not installed")
def test_sigterm_reaches_the_script_and_its_exit_is_told_as_a_signal(tmp_path):
    plan = Sandbox(workdir=tmp_path, system=sandbox.system_folders())
    trap = "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done"
    process = sandbox.Popen(sandbox_argv(["/bin/sh", "-c", trap], plan), stdout=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    assert process.stdout.readline() == "ready\n"
    os.killpg(process.pid, signal.SIGTERM)  # as a cancel does: the whole process group
    assert process.wait(timeout=10) == 3
    assert process.stdout.read() == "got-term\n"
    killed = sandbox.Popen(sandbox_argv(["/bin/sh", "-c", "kill -9 $$"], plan))
    assert killed.wait(timeout=10) == -9


@pytest.mark.skipif(not os.path.exists(sandbox.BWRAP), reason="bubblewrap is not installed")
def test_nothing_a_sandboxed_script_starts_outlives_it(tmp_path):
    """Why the supervisor skips its orphan scan for sandbox.Popen (confines_descendants): a
    daemon that left the script's session is killed with the script."""
    plan = Sandbox(workdir=tmp_path, system=sandbox.system_folders())
    nap = f"sleep 37.{os.getpid()}{len(tmp_path.name)}"  # a command line no one else has
    script = f"setsid {nap} & sleep 0.3; echo started"
    process = sandbox.Popen(sandbox_argv(["/bin/sh", "-c", script], plan),
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout.read() == "started\n"
    assert process.wait(timeout=10) == 0
    assert sandbox.Popen.confines_descendants
    left = subprocess.run(["pgrep", "-f", nap], capture_output=True, text=True)
    assert left.stdout == "", f"the daemon outlived the script: pid {left.stdout}"
