"""The registry's REST routes as the SDK and curl use them: owner, contributor, reader, stranger."""

from __future__ import annotations

import hashlib
import io
import zipfile

from registry.models import ModelVersion, RegisteredModel
from runs.models import Blob

API = "/api/workspaces/lab"


def _register(client, run, **body):
    return client.post(
        f"{API}/runs/{run.pk}/register_model",
        {"model_name": "clf", "model_path": "outputs/model.pkl", **body},
        content_type="application/json",
    )


def test_a_contributor_registers_and_a_reader_reads(api_as, trained, contributor, teammate):
    answer = _register(api_as(contributor), trained, tags={"stage": "dev"})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["id"], body["version"], body["runId"], body["experimentName"]) == (
        "clf:1", 1, trained.pk, "train",
    )  # fmt: skip
    assert body["url"].endswith("/w/lab/models/clf/1/")
    reader = api_as(teammate)
    assert reader.get(f"{API}/models/clf").json()["id"] == "clf:1"
    assert [m["id"] for m in reader.get(f"{API}/models?tag=stage=dev").json()] == ["clf:1"]
    assert reader.get(f"{API}/models?tag=stage=prod").json() == []
    assert [m["id"] for m in reader.get(f"{API}/runs/{trained.pk}/models").json()] == ["clf:1"]
    assert _register(reader, trained).status_code == 403


def test_a_stranger_gets_404_everywhere(api_as, trained, owner, stranger):
    _register(api_as(owner), trained)
    client = api_as(stranger)
    for path in (
        "/models",
        "/models/clf",
        "/models/clf/versions/1/zip",
        f"/runs/{trained.pk}/models",
    ):
        assert client.get(API + path).status_code == 404, path
    assert _register(client, trained).status_code == 404


def test_only_owners_delete(api_as, trained, owner, contributor):
    _register(api_as(owner), trained)
    assert api_as(contributor).delete(f"{API}/models/clf/versions/1").status_code == 403
    assert api_as(owner).delete(f"{API}/models/clf/versions/1").status_code == 204
    assert not RegisteredModel.objects.exists()


def test_a_bad_path_is_a_clear_404_that_stores_nothing(api_as, trained, owner):
    answer = _register(api_as(owner), trained, model_path="outputs/modle.pkl")
    assert answer.status_code == 404
    assert "closest are: outputs/model.pkl" in answer.json()["detail"]
    assert not ModelVersion.objects.exists()


def test_tags_change_and_properties_do_not(api_as, trained, owner):
    client = api_as(owner)
    _register(client, trained, properties={"auc": "0.9"})
    path = f"{API}/models/clf/versions/1"
    answer = client.patch(
        path, {"add_tags": {"a": "1"}, "description": "v1"}, content_type="application/json"
    )
    assert answer.json()["tags"] == {"a": "1"} and answer.json()["description"] == "v1"
    refused = client.patch(
        path, {"add_properties": {"auc": "0.5"}}, content_type="application/json"
    )
    assert refused.status_code == 409 and "never change" in refused.json()["detail"]


def test_an_alias_moves_between_versions(api_as, trained, owner):
    client = api_as(owner)
    _register(client, trained)
    _register(client, trained)
    for version in (1, 2):
        answer = client.put(
            f"{API}/models/clf/aliases/champion",
            {"version": version},
            content_type="application/json",
        )
        assert answer.json()["aliases"] == ["champion"]
    assert client.get(f"{API}/models/clf?alias=champion").json()["version"] == 2
    assert client.get(f"{API}/models/clf?version=1").json()["aliases"] == []
    missing = client.get(f"{API}/models/clf?alias=nope")
    assert missing.status_code == 404 and "champion" in missing.json()["detail"]


def test_an_upload_sends_only_missing_blobs_then_registers(api_as, workspace, owner):
    client = api_as(owner)
    body = b"weights" * 100
    sha = hashlib.sha256(body).hexdigest()
    files = [{"path": "net/w.bin", "size": len(body), "sha256": sha, "mode": 0o644}]

    def negotiate():
        return client.post(
            f"{API}/model-blobs/negotiate", {"files": files}, content_type="application/json"
        )

    assert negotiate().json() == {"missing": [sha]}
    refused = client.post(
        f"{API}/models",
        {"model_name": "net", "root": "net", "files": files},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "not uploaded" in refused.json()["detail"]
    assert (
        client.put(
            f"{API}/model-blobs/{sha}", body, content_type="application/octet-stream"
        ).status_code
        == 201
    )
    assert negotiate().json() == {"missing": []}
    made = client.post(
        f"{API}/models",
        {"model_name": "net", "root": "net", "files": files},
        content_type="application/json",
    )
    assert made.status_code == 201 and made.json()["files"] == files
    zipped = zipfile.ZipFile(
        io.BytesIO(b"".join(client.get(f"{API}/models/net/versions/1/zip").streaming_content))
    )
    assert zipped.read("net/w.bin") == body
    assert Blob.objects.filter(sha256=sha).count() == 1


def test_the_routes_are_in_the_openapi_schema(api_as, owner, workspace):
    paths = api_as(owner).get("/api/openapi.json").json()["paths"]
    for route in (
        "/models",
        "/runs/{run_id}/register_model",
        "/models/{name}/aliases/{alias}",
        "/model-blobs/{sha256}",
    ):
        assert f"/api/workspaces/{{ws}}{route}" in paths, route


def test_the_pages_show_models_to_members_only(
    logged_in, api_as, trained, owner, teammate, stranger
):
    _register(api_as(owner), trained, tags={"stage": "dev"}, model_framework="ScikitLearn")
    page = logged_in(teammate).get("/w/lab/models/?q=cl").content.decode()
    assert "clf" in page and "ScikitLearn" in page and "stage=dev" in page
    detail = logged_in(teammate).get("/w/lab/models/clf/1/").content.decode()
    assert trained.pk in detail and "model.pkl" in detail and "Download (zip)" in detail
    assert "Tag lr" not in detail and "Run tag lr" in detail
    assert logged_in(stranger).get("/w/lab/models/").status_code == 404
    fragment = logged_in(teammate).get(f"/w/lab/runs/{trained.pk}/models/").content.decode()
    assert "clf version 1" in fragment


def test_the_register_button_form_registers_or_says_why_not(logged_in, trained, owner, teammate):
    url = f"/w/lab/runs/{trained.pk}/register-model/"
    answer = logged_in(owner).post(url, {"model_name": "net", "model_path": "outputs/model/"})
    assert answer.status_code == 302 and answer["Location"] == "/w/lab/models/net/1/"
    refused = logged_in(owner).post(
        url, {"model_name": "bad name", "model_path": "outputs/model/"}, follow=True
    )
    assert "is not allowed" in refused.content.decode()
    reader = logged_in(teammate).post(url, {"model_name": "x", "model_path": "outputs/model/"})
    assert reader.status_code == 403
