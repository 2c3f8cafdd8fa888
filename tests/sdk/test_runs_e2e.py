"""The seed's notebook, ported by changing its import line, against a live studio and a real
Celery worker: submit, stream the log, download outputs, archive."""

import subprocess
import textwrap

import pytest

from mlstudio.sdk import (
    ActivityFailedException,
    Environment,
    Experiment,
    Run,
    ScriptRunConfig,
    UserErrorException,
)
from runs.models import Blob, Snapshot
from runs.models import Run as RunRow
from tests.processes import wait_until

pytestmark = pytest.mark.slow

TRAIN = """
    import argparse, os
    parser = argparse.ArgumentParser()
    parser.add_argument("--arg1", type=int)
    args = parser.parse_args()
    for epoch in range(args.arg1):
        print(f"epoch {epoch}", flush=True)
    os.makedirs("outputs", exist_ok=True)
    open("outputs/my_output_file", "w").write("trained")
"""


@pytest.fixture
def project_folder(tmp_path):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "train.py").write_text(textwrap.dedent(TRAIN))
    (folder / "data" / "big.bin").write_bytes(b"\0" * 1000)
    (folder / ".amlignore").write_text("data/\n")
    return folder


def test_it_runs_the_seed_notebook(ws, project_folder, local_worker, tmp_path, capsys):
    experiment = Experiment(workspace=ws, name="my_experiment")
    myenv = Environment("user-managed-env")
    myenv.python.user_managed_dependencies = True
    src = ScriptRunConfig(
        source_directory=project_folder,
        script="train.py",
        compute_target="local",
        environment=myenv,
        arguments=["--arg1", 3],
    )
    run = experiment.submit(config=src, show_output=True)
    run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert f"RunId: {run.id}" in out
    assert "Web View: http" in out
    assert "Streaming user_logs/std_log.txt" in out
    assert "epoch 0\nepoch 1\nepoch 2\n" in out
    assert out.index("epoch 2") < out.index("Execution Summary")

    assert run.get_status() == "Completed"
    details = run.get_details()
    assert {"runId", "target", "status", "startTimeUtc", "endTimeUtc", "properties",
            "runDefinition", "logFiles"} <= set(details)  # fmt: skip
    assert details["runDefinition"]["arguments"] == ["--arg1", "3"]
    assert "outputs/my_output_file" in run.get_file_names()
    run.download_file(name="outputs/my_output_file", output_file_path=tmp_path / "dest")
    assert (tmp_path / "dest").read_text() == "trained"
    written = run.download_files(prefix="outputs", output_directory=tmp_path / "all")
    assert (tmp_path / "all" / "outputs" / "my_output_file").exists() and written

    same = Run(experiment, run.id)
    assert same.get_status() == "Completed"
    assert [r.id for r in experiment.get_runs()] == [run.id]


def test_it_raises_on_a_failed_run_unless_told_not_to(ws, project_folder, local_worker):
    (project_folder / "train.py").write_text("raise ValueError('bad data')\n")
    experiment = Experiment(ws, "failing")
    run = experiment.submit(ScriptRunConfig(project_folder, "train.py"))
    with pytest.raises(ActivityFailedException, match="ValueError: bad data"):
        run.wait_for_completion()
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Failed"


def test_it_adds_the_hint_and_its_link_to_the_failure(ws, project_folder, local_worker):
    (project_folder / "train.py").write_text("print(learning_rate)\n")
    run = Experiment(ws, "hinted").submit(ScriptRunConfig(project_folder, "train.py"))
    with pytest.raises(ActivityFailedException) as caught:
        run.wait_for_completion()
    assert (
        "\nHint: NameError in train.py, line 1: name 'learning_rate' is not defined; define it "
        "before that line or fix its spelling. "
        f"{ws.url}/w/lab/runs/{run.id}/#snapshot:train.py:1"
    ) in str(caught.value)


def test_it_refuses_a_missing_script_listing_what_is_there(ws, project_folder):
    with pytest.raises(UserErrorException, match=r"'tran\.py' is not in the snapshot.*train\.py"):
        Experiment(ws, "typo").submit(ScriptRunConfig(project_folder, "tran.py"))
    assert not Snapshot.objects.exists() and not Blob.objects.exists()  # nothing was uploaded


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"compute_target": "nowhere"}, "Unknown compute target"),
        ({"max_run_duration_seconds": -1}, "positive whole number"),
    ],
)
def test_it_uploads_nothing_for_a_refused_submit(ws, project_folder, config, says):
    with pytest.raises(UserErrorException, match=says):
        Experiment(ws, "refused").submit(ScriptRunConfig(project_folder, "train.py", **config))
    assert not Snapshot.objects.exists() and not Blob.objects.exists()
    assert not RunRow.objects.exists()


def test_it_archives_and_reactivates(ws, project_folder):
    experiment = Experiment(ws, "old")
    experiment.archive()
    assert "old" not in [e.name for e in Experiment.list(ws)]
    assert "old" in [e.name for e in Experiment.list(ws, view_type="ArchivedOnly")]
    with pytest.raises(UserErrorException, match="reactivate it first"):
        experiment.submit(ScriptRunConfig(project_folder, "train.py"))
    assert not Snapshot.objects.exists()
    experiment.reactivate()
    assert "old" in [e.name for e in Experiment.list(ws)]


def test_it_records_git_properties(ws, project_folder, local_worker):
    def git(*args):
        subprocess.run(["git", *args], cwd=project_folder, check=True, capture_output=True)

    git("init", "-b", "main")
    git("config", "user.email", "a@example.com")
    git("config", "user.name", "A")
    git("remote", "add", "origin", "https://example.com/team/repo.git")
    git("add", "train.py")
    git("commit", "-m", "first")
    run = Experiment(ws, "gitexp").submit(
        ScriptRunConfig(project_folder, "train.py", arguments=["--arg1", 1])
    )
    properties = run.get_details()["properties"]
    assert properties["azureml.git.repository_uri"] == "https://example.com/team/repo.git"
    assert properties["azureml.git.branch"] == "main"
    assert properties["mlflow.source.git.commit"] == properties["azureml.git.commit"]
    assert properties["azureml.git.dirty"] == "True"  # .amlignore and data/ are untracked
    run.wait_for_completion()


def test_it_cancels_from_the_sdk(ws, project_folder, local_worker, capsys):
    (project_folder / "train.py").write_text(
        "import time\nprint('up', flush=True)\ntime.sleep(600)\n"
    )
    run = Experiment(ws, "cancelme").submit(ScriptRunConfig(project_folder, "train.py"))
    wait_until(lambda: "up" in run._read_log("user_logs/std_log.txt", 0)[0], 60, "the script")
    run.cancel()
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Canceled"
    assert "Canceled by the user" in details["error"]["error"]["message"]


def test_it_reads_a_submitted_runs_metrics_with_its_children(ws, project_folder, local_worker):
    (project_folder / "train.py").write_text(
        "from mlstudio.sdk import Run\n"
        "run = Run.get_context()\n"
        "run.log('loss', 0.5)\n"
        "run.child_run('fold', run_id=run.id + '_fold').log('acc', 0.9)\n"
    )
    run = Experiment(ws, "tree").submit(ScriptRunConfig(project_folder, "train.py"))
    run.wait_for_completion()
    assert run.get_metrics(recursive=True) == {
        run.id: {"loss": 0.5},
        f"{run.id}_fold": {"acc": 0.9},
    }
    assert run.get_metrics() == {"loss": 0.5}
