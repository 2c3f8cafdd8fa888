"""Bad input answered in MLflow's error format with MLflow's codes, and nothing stored.
Plain HTTP through Django's test client: what a client sends, byte for byte."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from runs import services as runs_services
from runs.models import Experiment, Metric, Run
from tests.tracking.conftest import token_for
from tracking.models import MlflowRunData
from workspaces import services as ws_services

API = "/mlflow/w/lab/api/2.0/mlflow"


def client_for(user, **extra) -> Client:
    return Client(headers={"authorization": f"Bearer {token_for(user)}", **extra})


def post(client, route: str, body, ws: str = "lab"):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(
        f"/mlflow/w/{ws}/api/2.0/mlflow/{route}", data, content_type="application/json"
    )


def error_of(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error_code"], body["message"]


@pytest.fixture
def run(owner, workspace):
    experiment = runs_services.experiment_create(workspace=workspace, name="exp", user=owner)
    return runs_services.run_start_interactive(experiment=experiment, user=owner)


@pytest.fixture
def alice(owner, workspace):
    return client_for(owner)


def metric(i: int, **extra) -> dict:
    return {"key": "loss", "value": 1.0, "timestamp": 1_700_000_000_000 + i, "step": i, **extra}


def test_it_answers_unknown_ids_as_resource_does_not_exist(alice, run):
    for response in (
        alice.get(f"{API}/runs/get", {"run_id": "nope"}),
        alice.get(f"{API}/experiments/get", {"experiment_id": "999"}),
        post(alice, "runs/log-metric", {"run_id": "nope", **metric(0)}),
        alice.get(f"{API}/metrics/get-history", {"run_id": "nope", "metric_key": "loss"}),
    ):
        status, code, message = error_of(response)
        assert (status, code) == (404, "RESOURCE_DOES_NOT_EXIST"), message
    assert not Metric.objects.exists()


def test_it_hides_another_workspaces_run(alice, run, stranger):
    ws_services.workspace_create(name="other", owner=stranger)
    charlie = client_for(stranger)
    status, code, _ = error_of(post(charlie, "runs/log-metric", {"run_id": run.pk, **metric(0)},
                                    ws="other"))  # fmt: skip
    assert (status, code) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, code, _ = error_of(charlie.get(f"{API}/runs/get", {"run_id": run.pk}))
    assert (status, code) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert not Metric.objects.exists()


def test_it_lets_readers_read_and_not_write(run, teammate):
    bob = client_for(teammate)
    assert bob.get(f"{API}/runs/get", {"run_id": run.pk}).status_code == 200
    status, code, _ = error_of(post(bob, "runs/log-metric", {"run_id": run.pk, **metric(0)}))
    assert (status, code) == (403, "PERMISSION_DENIED")
    assert not Metric.objects.exists()


def test_it_wants_a_token(run, owner):
    status, code, message = error_of(Client().get(f"{API}/runs/get", {"run_id": run.pk}))
    assert (status, code) == (401, "UNAUTHENTICATED") and "MLFLOW_TRACKING_TOKEN" in message
    wrong = Client(headers={"authorization": "Bearer mls_wrong"})
    assert error_of(wrong.get(f"{API}/runs/get", {"run_id": run.pk}))[1] == "UNAUTHENTICATED"
    session = Client()
    session.force_login(owner)  # a browser cookie is not enough: these routes skip CSRF
    assert session.get(f"{API}/runs/get", {"run_id": run.pk}).status_code == 401
    basic = base64.b64encode(f"alice:{token_for(owner)}".encode()).decode()
    assert (
        Client(headers={"authorization": f"Basic {basic}"})
        .get(f"{API}/runs/get", {"run_id": run.pk})
        .status_code
        == 200
    )


def test_it_refuses_log_batch_over_mlflow_limits(alice, run):
    too_many = {"run_id": run.pk, "metrics": [metric(i) for i in range(1001)]}
    params = {"run_id": run.pk, "params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}
    big = {"run_id": run.pk, "tags": [{"key": f"t{i}", "value": "x" * 8000} for i in range(100)],
           "params": [{"key": f"p{i}", "value": "x" * 6000} for i in range(100)]}  # fmt: skip
    for body, expected in ((too_many, "at most 1000 metrics"), (params, "at most 100 params"),
                           (big, "at most 1000000 bytes")):  # fmt: skip
        status, code, message = error_of(post(alice, "runs/log-batch", body))
        assert (status, code) == (400, "INVALID_PARAMETER_VALUE")
        assert expected in message
    run.refresh_from_db()
    assert not Metric.objects.exists() and not run.tags and not MlflowRunData.objects.exists()


def test_it_refuses_changing_a_param_and_stores_nothing_of_that_batch(alice, run):
    assert (
        post(
            alice, "runs/log-parameter", {"run_id": run.pk, "key": "lr", "value": "0.1"}
        ).status_code
        == 200
    )
    body = {"run_id": run.pk, "metrics": [metric(0)], "params": [{"key": "lr", "value": "0.2"}],
            "tags": [{"key": "team", "value": "a"}]}  # fmt: skip
    status, code, message = error_of(post(alice, "runs/log-batch", body))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE")
    assert "Changing param values is not allowed" in message and "'0.1'" in message
    run.refresh_from_db()
    assert run.mlflow.params == {"lr": "0.1"} and not run.tags and not Metric.objects.exists()


def test_it_refuses_a_malformed_body(alice, run):
    status, code, message = error_of(post(alice, "runs/log-metric", b"{not json"))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "not valid JSON" in message
    status, code, message = error_of(post(alice, "runs/log-metric", {"run_id": run.pk, "key": "x"}))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "'value'" in message
    assert not Metric.objects.exists()


def test_it_refuses_a_metric_value_that_is_not_a_number(alice, run):
    bad = {"run_id": run.pk, "metrics": [metric(0), metric(1, value="high")]}
    status, code, message = error_of(post(alice, "runs/log-batch", bad))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE")
    assert "metrics[1].value" in message and "'high'" in message
    assert not Metric.objects.exists()
    assert (
        post(alice, "runs/log-metric", {"run_id": run.pk, **metric(2, value="NaN")}).status_code
        == 200
    )


def test_it_names_routes_it_does_not_have(alice):
    status, code, _ = error_of(alice.get(f"{API}/nothing/here"))
    assert (status, code) == (404, "ENDPOINT_NOT_FOUND")


def test_it_refuses_experiment_names_mlstudio_cannot_hold(alice):
    status, code, message = error_of(post(alice, "experiments/create", {"name": "my exp/1"}))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "letters, digits" in message
    assert post(alice, "experiments/create", {"name": "dup"}).status_code == 200
    assert error_of(post(alice, "experiments/create", {"name": "dup"}))[1] == (
        "RESOURCE_ALREADY_EXISTS"
    )
    assert list(Experiment.objects.values_list("name", flat=True)) == ["dup"]


def test_it_refuses_artifact_paths_out_of_the_run(alice, run):
    url = f"/mlflow/w/lab/api/2.0/mlflow-artifacts/artifacts/{run.pk}/artifacts/../../x"
    response = alice.put(url, b"data", content_type="application/octet-stream")
    assert (
        response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    )
    assert not Run.objects.get(pk=run.pk).is_final


def test_it_shows_params_in_their_own_table_on_the_run_page(alice, run, owner):
    assert (
        post(
            alice, "runs/log-parameter", {"run_id": run.pk, "key": "lr", "value": "0.1"}
        ).status_code
        == 200
    )
    page = Client()
    page.force_login(owner)
    html = page.get(f"/w/lab/runs/{run.pk}/").content.decode()
    assert 'id="params"' in html and '<th scope="row">lr</th><td>0.1</td>' in html


def test_a_deleted_run_takes_no_logging_until_restored(alice, run):
    assert post(alice, "runs/delete", {"run_id": run.pk}).status_code == 200
    status, code, message = error_of(post(alice, "runs/log-batch", {
        "run_id": run.pk, "metrics": [metric(0)], "params": [{"key": "lr", "value": "0.1"}],
    }))  # fmt: skip
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "deleted" in message
    assert not Metric.objects.exists() and not MlflowRunData.objects.get(run=run).params
    assert post(alice, "runs/restore", {"run_id": run.pk}).status_code == 200
    assert post(alice, "runs/log-metric", {"run_id": run.pk, **metric(1)}).status_code == 200
    assert Metric.objects.get(run=run, name="loss").count == 1


def test_a_batch_of_plain_numbers_is_read_column_by_column_as_each_metric_would_be():
    import numpy as np

    from tracking import api_runs, services

    items = [{"key": "a", "value": 1, "timestamp": 1_000, "step": 5},
             {"key": "b", "value": 0.25, "timestamp": 1_001},
             {"key": "a", "value": 2.5, "timestamp": 1_002, "step": 6},
             {"key": "c", "value": -3, "timestamp": 1_003, "step": 0},
             {"key": "b", "value": 7.0, "timestamp": 1_004, "step": 2}]  # fmt: skip
    columns = api_runs._number_columns(items)
    each = services.series_of(api_runs._each_metric(items))
    assert list(columns) == list(each) == ["a", "b", "c"]
    for name, rows in each.items():
        assert np.array_equal(columns[name], rows)
    assert columns["a"].tolist() == [[5, 1, 1], [6, 2.5, 1.002]]
    for odd in ({"value": True}, {"value": "NaN"}, {"step": "3"}, {"timestamp": 1.0},
                {"key": ["a"]}, {"key": "/a"}, {"value": None}):  # fmt: skip
        assert api_runs._number_columns([items[0], {**items[1], **odd}]) is None
    assert api_runs._number_columns([items[0], 3]) is None


def test_interleaved_keys_of_a_batch_keep_their_order(alice, run):
    from runs.metrics import series_read

    points = [{"key": "ab"[i % 2], "value": i, "timestamp": 1_000 + i, "step": i}
              for i in range(6)]  # fmt: skip
    assert post(alice, "runs/log-batch", {"run_id": run.pk, "metrics": points}).status_code == 200
    for name, steps in (("a", [0, 2, 4]), ("b", [1, 3, 5])):
        rows = series_read(Metric.objects.get(run=run, name=name))
        assert rows[:, 0].tolist() == steps == rows[:, 1].tolist()
        assert rows[:, 2].tolist() == [(1_000 + s) / 1000 for s in steps]
