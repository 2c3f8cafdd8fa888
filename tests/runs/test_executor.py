"""Runs executed by a real Celery worker process, as a user submits them."""

import contextlib
import os
import signal
import time
from datetime import timedelta

import psutil
import pytest

from runs import services, store
from runs.models import Run
from tests import processes
from tests.runs.helpers import submit_script, wait_for_status

pytestmark = pytest.mark.slow


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="exp", user=owner)


def log_of(run_id: str, name: str = store.USER_LOG) -> str:
    return store.read_log(run_id, name, 0, 50_000_000)[0]


def test_it_runs_a_script_and_keeps_its_output(owner, experiment, api_as, local_worker):
    files = {
        "train.py": """
            import os, sys
            from mlstudio.sdk import Run
            print("hello from", os.environ["MLSTUDIO_RUN_ID"])
            print("args", sys.argv[1:])
            print("to stderr", file=sys.stderr)
            os.makedirs("outputs/model", exist_ok=True)
            open("outputs/model/weights.txt", "w").write("42")
            open("logs/events.txt", "w").write("event")
        """
    }
    run_id = submit_script(api_as(owner), experiment, files, arguments=["--lr", 0.5])
    run = wait_for_status(run_id, "Completed", "Failed")
    log = log_of(run_id)
    assert run.status == "Completed", log + log_of(run_id, store.SYSTEM_LOG)
    assert f"hello from {run_id}" in log
    assert "args ['--lr', '0.5']" in log
    assert "to stderr" in log
    system = log_of(run_id, store.SYSTEM_LOG)
    assert "Materializing snapshot" in system and "Command:" in system and "Exit code 0" in system
    assert "Collected ./outputs: 1 file(s), 2 bytes" in system
    assert run.exit_code == 0
    names = [f["name"] for f in store.list_files(run_id)]
    assert "outputs/model/weights.txt" in names and "logs/events.txt" in names
    statuses = [h["status"] for h in run.status_history]
    assert statuses == [
        "NotStarted", "Queued", "Preparing", "Starting", "Running", "Finalizing", "Completed",
    ]  # fmt: skip


def test_a_script_runs_at_a_lower_priority_than_the_studio(owner, experiment, api_as, local_worker):
    """MLSTUDIO_RUN_NICENESS (10): the worker started with this process's nice value."""
    files = {"train.py": "import os\nprint('nice', os.nice(0))\n"}
    run_id = submit_script(api_as(owner), experiment, files)
    run = wait_for_status(run_id, "Completed", "Failed")
    assert run.status == "Completed", log_of(run_id, store.SYSTEM_LOG)
    assert f"nice {min(19, os.nice(0) + 10)}" in log_of(run_id)


def test_it_fails_with_the_traceback_as_error(owner, experiment, api_as, local_worker):
    files = {"train.py": "print('before')\n1 / 0\n"}
    run_id = submit_script(api_as(owner), experiment, files)
    run = wait_for_status(run_id, "Completed", "Failed")
    assert run.status == "Failed"
    assert run.exit_code == 1
    assert run.error["message"] == "ZeroDivisionError: division by zero (exit code 1)"
    assert 'File "train.py", line 2' in run.error["traceback"]
    details = api_as(owner).get(f"/api/workspaces/lab/runs/{run_id}").json()
    assert details["error"]["error"]["message"].startswith("ZeroDivisionError")
    assert set(details["logFiles"]) == {store.USER_LOG, store.SYSTEM_LOG}


def test_it_keeps_only_the_final_state_of_progress_bars(owner, experiment, api_as, local_worker):
    files = {
        "train.py": r"""
            import sys
            for i in range(2001):
                sys.stdout.write(f"\rprogress {i}/2000")
            sys.stdout.write("\n")
            print("x" * 300_000)
            print("done")
        """
    }
    run_id = submit_script(api_as(owner), experiment, files)
    assert wait_for_status(run_id, "Completed", "Failed").status == "Completed"
    log = log_of(run_id)
    assert log.count("progress") == 1
    assert "progress 2000/2000\n" in log
    assert log.count("x") == 300_000
    assert log.endswith("done\n")


def test_it_cancels_the_whole_process_tree(owner, experiment, api_as, local_worker):
    files = {
        "train.py": """
            import signal, subprocess, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            child = subprocess.Popen([sys.executable, "-c", stubborn + "time.sleep(600)"])
            open("outputs/partial.txt", "w").write("kept")
            print("started", flush=True)
            time.sleep(600)
        """
    }
    client = api_as(owner)
    run_id = submit_script(client, experiment, files)
    processes.wait_until(lambda: "started" in log_of(run_id), 60, "the script to start")
    # The sandbox has its own process numbers: find the script and its child as the host
    # sees them, by the run id in their environment.
    pids = _pids_of_run(run_id)
    assert len(pids) >= 2
    assert client.post(f"/api/workspaces/lab/runs/{run_id}/cancel").status_code == 200
    run = wait_for_status(run_id, "Canceled", timeout=30)
    assert "Canceled by the user" in run.error["message"]
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert "outputs/partial.txt" in [f["name"] for f in store.list_files(run_id)]


def _pids_of_run(run_id: str) -> list[int]:
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("MLSTUDIO_RUN_ID") == run_id:
                found.append(proc.pid)
    return found


def test_it_cancels_a_run_that_overruns_its_limit(owner, experiment, api_as, local_worker):
    files = {"train.py": "import time\nprint('working', flush=True)\ntime.sleep(600)\n"}
    run_id = submit_script(api_as(owner), experiment, files, max_run_duration_seconds=2)
    run = wait_for_status(run_id, "Canceled", "Failed", "Completed", timeout=60)
    assert run.status == "Canceled"
    assert "max_run_duration_seconds=2" in run.error["message"]


def test_it_skips_output_links_that_lead_outside_the_run(owner, experiment, api_as, local_worker):
    files = {"train.py": "import os\nos.symlink('/etc/passwd', 'outputs/passwd')\n"}
    run_id = submit_script(api_as(owner), experiment, files)
    assert wait_for_status(run_id, "Completed", "Failed").status == "Completed"
    assert "outputs/passwd" not in [f["name"] for f in store.list_files(run_id)]
    assert "Skipped outputs/passwd" in log_of(run_id, store.SYSTEM_LOG)


def test_it_does_nothing_for_a_redelivered_task(owner, experiment, api_as, local_worker):
    from runs.executor import execute

    run_id = submit_script(api_as(owner), experiment, {"train.py": "print('once')"})
    wait_for_status(run_id, "Completed")
    before = Run.objects.get(pk=run_id).status_history
    execute(run_id, worker="redelivery")
    assert Run.objects.get(pk=run_id).status_history == before
    assert log_of(run_id).count("once") == 1


def test_it_fails_a_run_whose_worker_was_killed(
    transactional_db, owner, experiment, api_as, tmp_path
):
    _, worker = processes.start_worker(["target-local"], log=tmp_path / "doomed.log")
    files = {
        "train.py": """
            import time
            for i in range(3):
                print("line", i, flush=True)
            time.sleep(600)
        """
    }
    run_id = submit_script(api_as(owner), experiment, files)
    processes.wait_until(lambda: "line 2" in log_of(run_id), 60, "the script's output")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    time.sleep(2)
    assert services.runs_fail_lost(stale_after=timedelta(seconds=1)) == [run_id]
    run = Run.objects.get(pk=run_id)
    assert run.status == "Failed"
    assert "Worker lost" in run.error["message"]
    assert "line 0\nline 1\nline 2\n" in log_of(run_id)


def test_it_passes_environment_variables_and_the_chosen_interpreter(
    owner, experiment, api_as, local_worker
):
    import sys

    files = {"train.py": "import os, sys\nprint(os.environ['GREETING'], sys.executable)\n"}
    run_id = submit_script(
        api_as(owner),
        experiment,
        files,
        environment={"name": "mine", "python": {"user_managed_dependencies": True,
                                                "interpreter_path": sys.executable}},
        environment_variables={"GREETING": "bonjour"},
    )  # fmt: skip
    assert wait_for_status(run_id, "Completed", "Failed").status == "Completed"
    assert f"bonjour {sys.executable}" in log_of(run_id)


def test_it_fails_clearly_when_the_interpreter_is_missing(owner, experiment, api_as, local_worker):
    files = {"train.py": "print('never')\n"}
    environment = {
        "name": "elsewhere",
        "python": {
            "user_managed_dependencies": True,
            "interpreter_path": "/opt/nowhere/bin/python",
        },
    }
    run_id = submit_script(api_as(owner), experiment, files, environment=environment)
    run = wait_for_status(run_id, "Completed", "Failed")
    assert run.status == "Failed"
    assert "'/opt/nowhere/bin/python' does not exist" in run.error["message"]
    assert "interpreter_path" in run.error["message"]
    assert [h["status"] for h in run.status_history][-2:] == ["Preparing", "Failed"]


def test_it_syncs_the_logs_folder_while_the_run_goes_on(owner, experiment, api_as, local_worker):
    files = {
        "train.py": """
            import time
            open("logs/events.out", "w").write("step 1")
            print("written", flush=True)
            time.sleep(600)
        """
    }
    client = api_as(owner)
    run_id = submit_script(client, experiment, files)
    processes.wait_until(
        lambda: "logs/events.out" in [f["name"] for f in store.list_files(run_id)],
        20,
        "./logs to be synced while running",
    )
    assert Run.objects.get(pk=run_id).status == "Running"
    client.post(f"/api/workspaces/lab/runs/{run_id}/cancel")
    wait_for_status(run_id, "Canceled")


def test_it_cancels_a_script_that_closed_its_output(owner, experiment, api_as, local_worker):
    files = {
        "train.py": """
            import os, time
            print("started", flush=True)
            os.close(1)
            os.close(2)
            time.sleep(600)
        """
    }
    client = api_as(owner)
    run_id = submit_script(client, experiment, files)
    processes.wait_until(lambda: "started" in log_of(run_id), 60, "the script to start")
    time.sleep(0.5)  # the output is closed now; the script still runs
    assert Run.objects.get(pk=run_id).status == "Running"
    client.post(f"/api/workspaces/lab/runs/{run_id}/cancel")
    run = wait_for_status(run_id, "Canceled", timeout=30)
    assert run.exit_code == -signal.SIGTERM  # the signal, not a made-up success


def test_it_stops_processes_the_script_left_running(owner, experiment, api_as, local_worker):
    files = {
        "train.py": """
            import subprocess, sys, time
            daemon = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
            )
            print("leaving a daemon behind", flush=True)
            time.sleep(1)
        """
    }
    run_id = submit_script(api_as(owner), experiment, files)
    processes.wait_until(lambda: "leaving" in log_of(run_id), 60, "the script to start")
    pids = _pids_of_run(run_id)
    run = wait_for_status(run_id, "Completed", "Failed", timeout=60)
    assert run.status == "Completed"
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    system = log_of(run_id, store.SYSTEM_LOG)
    # In the sandbox the end of the script's process namespace stops them at once; without
    # it the executor does, and says so.
    if "bubblewrap sandbox" not in system:
        assert "process(es) it started still run; stopping them" in system
