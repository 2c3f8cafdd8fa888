"""Bounds on what users send: each refused with a 4xx that states the limit, nothing kept."""

import hashlib
import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from mlstudio.errors import TooLarge
from runs import blobs, quotas, services, store
from runs.models import Blob, Experiment, Snapshot
from tests.tracking.conftest import token_for


@pytest.fixture
def experiment(owner, workspace):
    return services.experiment_create(workspace=workspace, name="exp", user=owner)


@pytest.fixture
def run(owner, experiment):
    return services.run_start_interactive(experiment=experiment, user=owner)


def put(client, run, name: str, body: bytes):
    return client.put(
        f"/api/workspaces/lab/runs/{run.pk}/files/{name}",
        body,
        content_type="application/octet-stream",
    )


def refusal(answer, status: int) -> str:
    """The message of a refusal, once the answer is known to be that 4xx."""
    assert answer.status_code == status, answer.content
    return answer.json()["detail"]


def test_an_upload_over_the_file_limit_is_refused_and_not_kept(owner, run, api_as, settings):
    settings.MLSTUDIO_RUN_FILE_MAX_BYTES = 1000
    client = api_as(owner)
    answer = put(client, run, "outputs/big.bin", b"x" * 1001)
    detail = refusal(answer, 413)
    assert "1000 bytes" in detail
    assert "MLSTUDIO_RUN_FILE_MAX_BYTES" in detail
    assert store.list_files(run.pk) == []
    assert put(client, run, "outputs/small.bin", b"x" * 1000).status_code == 201


def test_a_stream_longer_than_it_declared_is_cut_off(owner, run, settings):
    settings.MLSTUDIO_RUN_FILE_MAX_BYTES = 10

    class Body:
        chunks = [b"x" * 8, b"x" * 8]

        def read(self, _size):
            return self.chunks.pop() if self.chunks else b""

    with pytest.raises(TooLarge):
        quotas.run_file_upload(run=run, name="outputs/a", source=Body(), declared=None)
    assert store.list_files(run.pk) == []


def test_the_workspace_quota_counts_what_its_runs_hold(owner, run, api_as, settings):
    settings.MLSTUDIO_WORKSPACE_QUOTA_BYTES = 1500
    client = api_as(owner)
    assert put(client, run, "outputs/one.bin", b"x" * 1000).status_code == 201
    answer = put(client, run, "outputs/two.bin", b"x" * 1000)
    assert "storage quota of 1500 bytes" in refusal(answer, 413)
    assert [f["name"] for f in store.list_files(run.pk)] == ["outputs/one.bin"]


def test_too_many_tags_on_an_experiment_are_refused(owner, experiment, api_as, settings):
    settings.MLSTUDIO_TAGS_MAX = 3
    url = f"/api/workspaces/lab/experiments/{experiment.pk}/tags"
    answer = api_as(owner).post(
        url, {"tags": {f"k{i}": "v" for i in range(4)}}, content_type="application/json"
    )
    assert "limit of 3" in refusal(answer, 400)
    assert Experiment.objects.get(pk=experiment.pk).tags == {}


def test_a_tag_too_long_on_a_submitted_run_is_refused(owner, experiment, api_as, settings):
    settings.MLSTUDIO_TAG_LENGTH_MAX = 10
    answer = api_as(owner).post(
        f"/api/workspaces/lab/experiments/{experiment.pk}/runs",
        {"config": {"command": ["true"], "tags": {"note": "x" * 11}}},
        content_type="application/json",
    )
    assert "limit of 10 characters" in refusal(answer, 400)
    assert not experiment.runs.exists()


def test_a_metric_name_over_the_limit_is_a_400_over_rest(owner, run, api_as, settings):
    settings.MLSTUDIO_METRIC_NAME_MAX = 20
    url = f"/api/workspaces/lab/runs/{run.pk}/metrics"
    body = {"records": [{"n": "ok", "v": 1.0, "t": 1}, {"n": "n" * 21, "v": 1.0, "t": 1}]}
    answer = api_as(owner).post(url, body, content_type="application/json")
    assert "limit of 20" in refusal(answer, 400)
    assert not run.metrics.exists()


def test_tags_posted_as_metric_records_are_bounded_too(owner, run, api_as, settings):
    settings.MLSTUDIO_TAGS_MAX = 2
    url = f"/api/workspaces/lab/runs/{run.pk}/metrics"
    body = {"records": [{"op": "tag", "tags": {"a": "1", "b": "2", "c": "3"}}]}
    answer = api_as(owner).post(url, body, content_type="application/json")
    assert answer.status_code == 400
    run.refresh_from_db()
    assert run.tags == {}


def test_the_quota_counts_uploaded_blobs_and_refuses_one_that_does_not_fit(
    owner, run, api_as, settings
):
    settings.MLSTUDIO_WORKSPACE_QUOTA_BYTES = 1500
    client = api_as(owner)
    assert put(client, run, "outputs/one.bin", b"x" * 1000).status_code == 201
    body = b"y" * 600
    sha256 = hashlib.sha256(body).hexdigest()
    answer = client.put(f"/api/workspaces/lab/blobs/{sha256}", body,
                        content_type="application/octet-stream")  # fmt: skip
    detail = refusal(answer, 413)
    assert "storage quota of 1500 bytes" in detail
    assert "500 bytes are left" in detail
    assert not Blob.objects.filter(sha256=sha256).exists()
    assert not default_storage.exists(blobs.blob_name(sha256=sha256))
    small = b"z" * 400
    sha256 = hashlib.sha256(small).hexdigest()
    answer = client.put(f"/api/workspaces/lab/blobs/{sha256}", small,
                        content_type="application/octet-stream")  # fmt: skip
    assert answer.status_code == 201
    # Now 1,400 bytes are held: a run file of 200 no longer fits either.
    assert put(client, run, "outputs/two.bin", b"x" * 200).status_code == 413


def test_a_zip_snapshot_over_the_quota_is_refused_before_anything_is_stored(
    owner, workspace, api_as, settings
):
    settings.MLSTUDIO_WORKSPACE_QUOTA_BYTES = 100
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.py", b"print('hi')\n")
        archive.writestr("data.bin", b"d" * 200)
    answer = api_as(owner).post("/api/workspaces/lab/snapshots/zip", buffer.getvalue(),
                                content_type="application/zip")  # fmt: skip
    assert "storage quota of 100 bytes" in refusal(answer, 413)
    assert not Snapshot.objects.exists()
    assert not Blob.objects.exists()


def test_an_mlflow_artifact_is_bounded_like_any_upload(owner, run, settings):
    settings.MLSTUDIO_RUN_FILE_MAX_BYTES = 1000
    settings.MLSTUDIO_WORKSPACE_QUOTA_BYTES = 1500
    client = Client(headers={"authorization": f"Bearer {token_for(owner)}"})
    url = f"/mlflow/w/lab/api/2.0/mlflow-artifacts/artifacts/{run.pk}/artifacts/"
    big = client.put(url + "big.bin", b"x" * 1001, content_type="application/octet-stream")
    assert big.status_code == 413
    assert big.json()["error_code"] == "RESOURCE_LIMIT_EXCEEDED"
    assert "over the limit of 1000 bytes" in big.json()["message"]
    assert client.put(url + "one.bin", b"x" * 900,
                      content_type="application/octet-stream").status_code == 200  # fmt: skip
    over = client.put(url + "two.bin", b"x" * 900, content_type="application/octet-stream")
    assert over.status_code == 413
    assert "storage quota of 1500 bytes" in over.json()["message"]
    assert [f["name"] for f in store.list_files(run.pk)] == ["outputs/one.bin"]
