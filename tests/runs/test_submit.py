import re

import pytest

from runs import services
from runs.models import Run, RunStatus


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="exp", user=owner)


def submit(client, experiment, **config):
    body = {"config": {"command": ["python", "-c", "print(1)"], **config}}
    if "snapshot_id" in config:
        body["snapshot_id"] = config.pop("snapshot_id")
    return client.post(
        f"/api/workspaces/lab/experiments/{experiment.pk}/runs",
        body,
        content_type="application/json",
    )


def test_it_queues_a_run_numbered_per_experiment(owner, experiment, api_as):
    client = api_as(owner)
    first = submit(client, experiment).json()
    second = submit(client, experiment, tags={"lr": 0.1}, display_name="try 2").json()
    assert (first["number"], second["number"]) == (1, 2)
    assert first["status"] == "Queued"
    assert re.fullmatch(r"exp_\d{10}_[0-9a-f]{8}", first["runId"])
    assert second["tags"] == {"lr": "0.1"} and second["displayName"] == "try 2"
    history = [h["status"] for h in second["statusHistory"]]
    assert history == ["NotStarted", "Queued"]


def test_it_stringifies_numeric_arguments(owner, experiment, api_as):
    body = submit(api_as(owner), experiment, command=None, script=None)
    assert body.status_code == 400
    details = submit(api_as(owner), experiment, arguments=["--lr", 0.5, "--epochs", 3]).json()
    assert details["runDefinition"]["arguments"] == ["--lr", "0.5", "--epochs", "3"]


@pytest.mark.parametrize(
    ("config", "status", "says"),
    [
        ({"arguments": [{"a": 1}]}, 400, "is not a string or a number"),
        ({"arguments": [True]}, 400, "is not a string or a number"),
        ({"arguments": "--lr 1"}, 400, "must be a list"),
        ({"max_run_duration_seconds": -5}, 400, "positive whole number"),
        ({"max_run_duration_seconds": 0}, 400, "positive whole number"),
        ({"compute_target": "gpu-cluster"}, 404, "Unknown compute target 'gpu-cluster'"),
        ({"script": "train.py"}, 400, "either `script`"),
        ({"command": None, "script": "../escape.py"}, 400, "'..'"),
        ({"command": None, "script": "train.py"}, 400, "is not in the snapshot"),
        ({"environment_variables": ["A=1"]}, 400, "mapping"),
        ({"environment": {"name": "Nope", "version": "1"}}, 404, "No environment 'Nope'"),
        ({"environment": {"name": "MLStudio-Minimal", "version": "9"}}, 404, "has no version"),
        ({"environment": {"name": "MLStudio-Mine"}}, 400, "reserved"),
        ({"environment": {"name": "e", "docker": {"base_image": "a", "base_dockerfile": "FROM b"}}},
         400, "base_image"),
        ({"environment": "python3"}, 400, "must be an Environment"),
    ],
)  # fmt: skip
def test_it_refuses_bad_submissions_and_stores_nothing(
    owner, experiment, api_as, config, status, says
):
    response = submit(api_as(owner), experiment, **config)
    assert response.status_code == status, response.json()
    assert says in response.json()["detail"]
    assert not Run.objects.exists()


def test_it_refuses_an_unknown_snapshot(owner, experiment, api_as):
    response = submit(api_as(owner), experiment, snapshot_id="3f1c3a52-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert not Run.objects.exists()


def test_it_refuses_an_unknown_experiment(owner, workspace, api_as):
    response = api_as(owner).post(
        "/api/workspaces/lab/experiments/999/runs",
        {"config": {"command": ["true"]}},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_it_refuses_submitting_to_an_archived_experiment(owner, experiment, api_as):
    services.experiment_archive(experiment=experiment)
    response = submit(api_as(owner), experiment)
    assert response.status_code == 400
    assert "reactivate it first" in response.json()["detail"]
    assert not Run.objects.exists()


def test_it_lets_a_reader_see_runs_but_not_submit(owner, teammate, experiment, api_as):
    run_id = submit(api_as(owner), experiment).json()["runId"]
    reader = api_as(teammate)
    assert reader.get(f"/api/workspaces/lab/runs/{run_id}").status_code == 200
    assert submit(reader, experiment).status_code == 403
    assert reader.post(f"/api/workspaces/lab/runs/{run_id}/cancel").status_code == 403


def test_it_hides_runs_from_strangers(owner, stranger, experiment, api_as):
    run_id = submit(api_as(owner), experiment).json()["runId"]
    assert api_as(stranger).get(f"/api/workspaces/lab/runs/{run_id}").status_code == 404


def test_it_keeps_runs_of_an_archived_experiment_readable(owner, experiment, api_as):
    client = api_as(owner)
    run_id = submit(client, experiment).json()["runId"]
    services.experiment_archive(experiment=experiment)
    assert client.get(f"/api/workspaces/lab/runs/{run_id}").json()["status"] == "Queued"
    runs = client.get(f"/api/workspaces/lab/experiments/{experiment.pk}/runs").json()
    assert [r["runId"] for r in runs] == [run_id]


def test_it_cancels_a_queued_run_so_it_never_starts(owner, experiment, api_as):
    client = api_as(owner)
    run_id = submit(client, experiment).json()["runId"]
    assert client.post(f"/api/workspaces/lab/runs/{run_id}/cancel").json()["status"] == "Canceled"
    assert services.run_transition(run_id=run_id, to=RunStatus.PREPARING) is None


def test_it_refuses_illegal_transitions_and_timestamps_legal_ones(owner, experiment, api_as):
    run_id = submit(api_as(owner), experiment).json()["runId"]
    assert services.run_transition(run_id=run_id, to=RunStatus.COMPLETED) is None
    for status in ("Preparing", "Starting", "Running", "Finalizing", "Completed"):
        assert services.run_transition(run_id=run_id, to=status) is not None
    run = Run.objects.get(pk=run_id)
    assert [h["status"] for h in run.status_history][-5:] == [
        "Preparing",
        "Starting",
        "Running",
        "Finalizing",
        "Completed",
    ]
    assert run.started_at and run.ended_at
    assert services.run_transition(run_id=run_id, to=RunStatus.RUNNING) is None
