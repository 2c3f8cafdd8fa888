"""Failed runs, executed by a real worker, carry a one-line hint at the likely cause and its
fix: on the run's details, on its page, and behind the link the hint gives."""

from urllib.parse import parse_qs, urlsplit

import pytest

from runs import services, store
from tests import processes
from tests.environments.helpers import make_wheel, offline_packages
from tests.runs.helpers import submit_script, wait_for_status

pytestmark = pytest.mark.slow


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="exp", user=owner)


def hint_of(client, run_id: str) -> dict:
    details = client.get(f"/api/workspaces/lab/runs/{run_id}").json()
    return details["error"]["error"]["hint"]


def test_a_missing_sklearn_names_scikit_learn_and_links_to_the_environment_with_it(
    owner, experiment, api_as, logged_in, local_worker, tmp_path
):
    make_wheel(tmp_path / "wheels")
    packages = offline_packages(tmp_path / "wheels", "tinypkg")
    spec = {"name": "tiny", "python": {"conda_dependencies": {"pip_packages": packages}}}
    client = api_as(owner)
    files = {"train.py": "import tinypkg\nfrom sklearn.linear_model import Ridge\n"}
    run_id = submit_script(client, experiment, files, environment=spec)
    run = wait_for_status(run_id, "Completed", "Failed", timeout=120)
    assert run.error["message"] == "ModuleNotFoundError: No module named 'sklearn' (exit code 1)"

    hint = hint_of(client, run_id)
    assert hint["message"] == (
        "No module named 'sklearn': add scikit-learn to the pip packages of environment tiny, "
        "then submit with the new version."
    )
    assert hint["label"] == "Register a new version of tiny with scikit-learn"
    link = urlsplit(hint["url"])
    assert link.path == "/w/lab/environments/"
    assert parse_qs(link.query) == {"from": ["tiny:1"], "add_pip": ["scikit-learn"]}

    form = logged_in(owner).get(hint["url"]).content.decode()
    pip_box = form.split('name="pip_requirements"', 1)[1].split("</textarea>", 1)[0]
    assert "tinypkg\nscikit-learn" in pip_box
    assert 'value="tiny"' in form


def test_a_name_error_shows_its_file_and_line_linked_in_the_snapshot(
    owner, experiment, api_as, logged_in, local_worker
):
    files = {"train.py": "import os\n\nprint(learning_rate)\n"}
    run_id = submit_script(api_as(owner), experiment, files)
    assert wait_for_status(run_id, "Completed", "Failed").status == "Failed"
    hint = hint_of(api_as(owner), run_id)
    assert hint["message"] == (
        "NameError in train.py, line 3: name 'learning_rate' is not defined; define it before "
        "that line or fix its spelling."
    )
    assert hint["url"] == f"/w/lab/runs/{run_id}/#snapshot:train.py:3"

    page = logged_in(owner).get(f"/w/lab/runs/{run_id}/").content.decode()
    assert "NameError in train.py, line 3: name &#x27;learning_rate&#x27; is not defined" in page
    assert f'href="/w/lab/runs/{run_id}/#snapshot:train.py:3"' in page
    assert "Open train.py at line 3</a>" in page


def test_a_script_killed_by_sigkill_without_an_oom_record_is_said_to_be_killed(
    owner, experiment, api_as, local_worker
):
    files = {
        "train.py": """
            import os, signal, time
            ballast = b"x" * (64 * 1024 * 1024)
            time.sleep(1.5)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    }
    run_id = submit_script(api_as(owner), experiment, files)
    run = wait_for_status(run_id, "Completed", "Failed")
    assert run.status == "Failed" and run.exit_code == -9
    hint = hint_of(api_as(owner), run_id)
    assert hint["code"] == "killed"
    assert hint["message"].startswith(
        "Killed by SIGKILL (signal 9, shell exit code 137) from outside the run; the kernel "
        "recorded no out-of-memory kill"
    )
    peak = hint["message"].split("using up to ", 1)[1].split(" ", 2)
    assert float(peak[0]) >= 64 and peak[1].rstrip(".") == "MiB"


def test_a_canceled_run_killed_with_sigkill_gets_no_memory_hint(
    owner, experiment, api_as, local_worker
):
    files = {
        "train.py": """
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("started", flush=True)
            time.sleep(600)
        """
    }
    client = api_as(owner)
    run_id = submit_script(client, experiment, files)
    processes.wait_until(
        lambda: "started" in store.read_log(run_id, store.USER_LOG, 0)[0], 60, "the script"
    )
    assert client.post(f"/api/workspaces/lab/runs/{run_id}/cancel").status_code == 200
    run = wait_for_status(run_id, "Canceled", "Failed", timeout=30)
    assert run.status == "Canceled" and run.exit_code == -9  # it outlived SIGTERM
    assert "hint" not in run.error
    assert "hint" not in client.get(f"/api/workspaces/lab/runs/{run_id}").json()["error"]["error"]


def test_a_run_over_its_time_limit_names_the_limit(owner, experiment, api_as, local_worker):
    files = {"train.py": "import time\nprint('working', flush=True)\ntime.sleep(600)\n"}
    run_id = submit_script(api_as(owner), experiment, files, max_run_duration_seconds=2)
    assert wait_for_status(run_id, "Canceled", "Failed", "Completed").status == "Canceled"
    assert hint_of(api_as(owner), run_id)["message"] == (
        "Stopped at its time limit, max_run_duration_seconds=2 (2 s). If it needs longer, raise "
        "max_run_duration_seconds in ScriptRunConfig (or the Timeout field of the submit page)."
    )


def test_a_failed_environment_build_quotes_the_pip_line(
    owner, experiment, api_as, local_worker, tmp_path
):
    spec = {
        "name": "broken",
        "python": {"conda_dependencies": {"pip_packages": offline_packages(tmp_path, "nope-pkg")}},
    }
    client = api_as(owner)
    run_id = submit_script(client, experiment, {"train.py": "print(1)"}, environment=spec)
    assert wait_for_status(run_id, "Completed", "Failed", timeout=120).status == "Failed"
    hint = hint_of(client, run_id)
    assert hint["message"] == (
        "Environment broken v1 failed to build: ERROR: No matching distribution found for "
        "nope-pkg. Fix that package's name or version (or the index, PIP_INDEX_URL), then "
        "register a new version and submit again."
    )
    assert hint["url"] == "/w/lab/environments/broken/?version=1"
