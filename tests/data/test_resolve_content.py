"""POST datasets/resolve/content: the manifest resolve gives, as a JSON line, and then a
single-file dataset's bytes, unless the caller names that manifest's digest as held."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from data import datasets, services
from mlstudio.sdk import _data_files
from runs import blobs

URL = "/api/workspaces/lab/datasets/resolve/content"


@pytest.fixture
def stored(workspace):
    files = {"t/a.csv": b"x,y\n1,2\n", "t/b.csv": b"x,y\n3,4\n"}
    entries = []
    for path, body in files.items():
        sha = hashlib.sha256(body).hexdigest()
        blobs.blob_store(workspace=workspace, sha256=sha, body=io.BytesIO(body))
        entries.append({"path": path, "size": len(body), "sha256": sha, "mode": 0o644})
    services.datastore_files_commit(datastore=services.datastore_default(workspace=workspace),
                                    files=entries, target_path="", overwrite=True)  # fmt: skip
    return files


def _asked(client, path: str, unless: str | None = None) -> tuple[dict, bytes]:
    definition = {"kind": "tabular", "format": "delimited", "validate": False,
                  "paths": [{"datastore": "workspaceblobstore", "path": path}]}  # fmt: skip
    response = client.post(URL, {"definition": definition, "unless": unless},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content) if response.streaming else response.content
    head, _, rest = body.partition(b"\n")
    assert len(body) == int(response["Content-Length"])
    return json.loads(head), rest


def test_it_sends_a_single_files_bytes_after_its_manifest(api_as, owner, stored):
    head, rest = _asked(api_as(owner), "t/a.csv")
    assert head["sent"] is True
    assert [(f["path"], f["datastore_path"]) for f in head["files"]] == [("a.csv", "t/a.csv")]
    assert rest == stored["t/a.csv"]


def test_it_sends_no_bytes_the_caller_holds_nor_for_several_files(api_as, owner, stored):
    client = api_as(owner)
    first, _ = _asked(client, "t/a.csv")
    held = datasets.manifest_digest(first["files"])
    assert held == _data_files.digest_of(first["files"])  # the SDK's cache key: they agree
    assert _asked(client, "t/a.csv", unless=held) == ({"files": first["files"], "sent": False}, b"")
    head, rest = _asked(client, "t/")
    assert (len(head["files"]), head["sent"], rest) == (2, False, b"")


def test_a_stranger_gets_nothing(api_as, stranger, stored):
    response = api_as(stranger).post(
        URL, {"definition": {"kind": "file", "paths": [{"datastore": "workspaceblobstore",
                                                         "path": "t/a.csv"}]}},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 404
