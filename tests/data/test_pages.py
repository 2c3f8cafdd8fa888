"""The Data pages as a signed-in reader sees them, and a stranger's 404."""

from __future__ import annotations

import hashlib
import io

import pytest

from data import datasets, services
from data.models import DatasetUse
from runs import blobs
from runs import services as run_services
from runs.submission import RunConfig


def _put(workspace, files: dict[str, bytes]):
    datastore = services.datastore_default(workspace=workspace)
    entries = []
    for path, body in files.items():
        sha = hashlib.sha256(body).hexdigest()
        blobs.blob_store(workspace=workspace, sha256=sha, body=io.BytesIO(body))
        entries.append({"path": path, "size": len(body), "sha256": sha, "mode": 0o644})
    services.datastore_files_commit(datastore=datastore, files=entries, target_path="",
                                    overwrite=True)  # fmt: skip
    return datastore


@pytest.fixture
def iris(workspace, owner):
    _put(workspace, {"iris/a.csv": b"x,y\n1,2\n3,4\n", "iris/notes/readme.txt": b"hi"})
    definition = {"kind": "tabular", "format": "delimited", "options": {"header": True},
                  "paths": [{"datastore": "workspaceblobstore", "path": "iris/a.csv"}]}  # fmt: skip
    version = datasets.dataset_register(workspace=workspace, user=owner, name="iris",
                                        definition=definition, tags={"src": "uci"})  # fmt: skip
    DatasetUse.objects.create(version=version, run_id="exp_1_ab", input_name="iris", mode="mount")
    return version


def test_it_lists_datastores_and_datasets(logged_in, teammate, iris):
    page = logged_in(teammate).get("/w/lab/data/").content.decode()
    assert "workspaceblobstore" in page and 'data-name="iris"' in page and "src=uci" in page


def test_the_file_browser_walks_folders(logged_in, teammate, iris):
    client = logged_in(teammate)
    top = client.get("/w/lab/data/datastores/workspaceblobstore/").content.decode()
    assert "?prefix=iris/" in top
    inner = client.get("/w/lab/data/datastores/workspaceblobstore/?prefix=iris/").content.decode()
    assert "iris/a.csv" in inner and "?prefix=iris/notes/" in inner


def test_a_dataset_page_shows_versions_preview_and_runs(logged_in, teammate, iris):
    page = logged_in(teammate).get("/w/lab/data/datasets/iris/").content.decode()
    assert "<td>3</td><td>4</td>" in page  # the preview's second row
    assert "exp_1_ab" in page and "as <code>iris</code>" in page


def test_a_run_page_lists_the_datasets_the_run_read(logged_in, owner, teammate, workspace, iris):
    experiment = run_services.experiment_create(workspace=workspace, name="exp", user=owner)
    run = run_services.run_submit(experiment=experiment, user=owner, snapshot=None,
                                  config=RunConfig.parse({"command": ["true"]}))  # fmt: skip
    page = logged_in(teammate).get(f"/w/lab/runs/{run.pk}/").content.decode()
    assert "This run used no registered dataset." in page
    DatasetUse.objects.create(version=iris, run_id=run.pk, input_name="iris", mode="mount")
    page = logged_in(teammate).get(f"/w/lab/runs/{run.pk}/").content.decode()
    listed = page.split('<div id="run-datasets">', 1)[1].split("</div>", 1)[0]
    assert "iris version 1</a> · input <code>iris</code> (mount)" in listed


def test_a_stranger_gets_404(logged_in, stranger, iris):
    client = logged_in(stranger)
    for path in ("/w/lab/data/", "/w/lab/data/datasets/iris/",
                 "/w/lab/data/datastores/workspaceblobstore/"):  # fmt: skip
        assert client.get(path).status_code == 404, path
