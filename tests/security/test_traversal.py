"""A traversal corpus on every route that takes a path, as the workspace's owner (so only the
path rules stand between the caller and the file): the variants of MLflow's and ClearML's
path CVEs never answer 2xx or 5xx, never show a byte of a file outside their folder, and a
write never lands outside it. Snapshot manifests naming a way out are refused, nothing stored."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.conf import settings

from registry import services as registry
from runs import services as runs
from runs import store
from runs.models import Blob, Run, Snapshot
from tests.security.matrix import world_make
from tests.security.test_static import get as static_get
from workspaces import services

SECRET = b"SECRET-OF-ANOTHER-WORKSPACE"
# As a client sends them: the test client decodes %XX once, as a web server does.
CORPUS = [
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%252f..%252f..%252fetc%252fpasswd",
    "..%5c..%5c..%5cetc%5cpasswd",
    "..\\..\\..\\etc\\passwd",
    "..;/..;/..;/etc/passwd",
    "outputs/a.txt%00.png",
    "%00",
    "%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "file:///etc/passwd",
    "C:%5cWindows%5cwin.ini",
    "outputs/" + "a" * 300,
    "a/" * 600 + "b",
    "../{other}/outputs/secret.txt",
    "outputs/../../{other}/outputs/secret.txt",
    "%2e%2e/%2e%2e/{other}/outputs/secret.txt",
    "outputs/link-out/secret.txt",
    "link-out/secret.txt",  # the MLflow artifact path of the same link
]


@pytest.fixture
def world(transactional_db):
    """The matrix's world, a snapshot and a model to read files of, and a run of another
    workspace whose outputs hold the secret; `outputs/link-out` of our run points there."""
    world = world_make()
    owner = world.clients["owner"]
    run_id = world.values["run_id"]
    _put(owner, f"/api/workspaces/lab/runs/{run_id}/files/outputs/a.txt", b"ours")
    code = b"print('hi')\n"
    sha = hashlib.sha256(code).hexdigest()
    _put(owner, f"/api/workspaces/lab/blobs/{sha}", code)
    files = [{"path": "train.py", "size": len(code), "sha256": sha, "mode": 0o644}]
    response = owner.post("/api/workspaces/lab/snapshots", {"files": files},
                          content_type="application/json")  # fmt: skip
    assert response.status_code == 201, response.content
    run = Run.objects.get(pk=run_id)
    registry.model_register_from_run(run=run, user=run.submitted_by, name="m",
                                     model_path="outputs/a.txt")  # fmt: skip
    other = services.workspace_create(name="other", owner=run.submitted_by)
    experiment = runs.experiment_create(workspace=other, name="x", user=run.submitted_by)
    other_run = runs.run_start_interactive(experiment=experiment, user=run.submitted_by)
    other_dir = store.run_dir(other_run.pk) / "outputs"
    other_dir.mkdir(parents=True, exist_ok=True)
    (other_dir / "secret.txt").write_bytes(SECRET)
    ours = store.run_dir(run_id) / "outputs"
    (ours / "link-out").symlink_to(other_dir)
    world.values.update(other=other_run.pk, snapshot=response.json()["id"])
    return world


def _put(client, url: str, body: bytes):
    response = client.put(url, body, content_type="application/octet-stream")
    assert response.status_code < 300, (url, response.content)


ROUTES = {
    "run file": "/api/workspaces/lab/runs/{run_id}/files/",
    "run log": "/api/workspaces/lab/runs/{run_id}/logs/",
    "snapshot file": "/api/workspaces/lab/snapshots/{snapshot}/files/",
    "model file": "/api/workspaces/lab/models/m/versions/1/files/",
    "mlflow artifact": "/mlflow/w/lab/api/2.0/mlflow-artifacts/artifacts/{run_id}/artifacts/",
}


def leaked(body: bytes) -> bool:
    return SECRET in body or b"root:" in body


def files_outside(run_id: str) -> set[str]:
    """Every file of the data folder but those inside the run's own folder."""
    root, run = Path(settings.MEDIA_ROOT), store.run_dir(run_id)
    return {str(p) for p in root.rglob("*") if run not in p.parents}


def test_no_path_of_the_corpus_reads_a_file_outside_its_folder(world):
    owner, wrong = world.clients["owner"], []
    for route, prefix in ROUTES.items():
        for raw in CORPUS:
            url = (prefix + raw).format(**world.values)
            response = owner.get(url)
            body = b"".join(response) if response.streaming else response.content
            if response.status_code not in (400, 404) or leaked(body):
                wrong.append(f"{route:>15} GET {raw[:60]} -> {response.status_code} {body[:80]!r}")
    assert not wrong, "\n".join(wrong)


def test_no_path_of_the_corpus_lists_a_folder_outside_its_own(world):
    """MLflow's artifact listing takes its path in the query: `{}` for what is no folder, a
    refusal for a way out, and never the other workspace's file names or /etc's."""
    owner, wrong = world.clients["owner"], []
    for raw in [*CORPUS, "link-out", "../../{other}/outputs", "../../../../../../etc"]:
        path = ("{run_id}/artifacts/" + unquote(raw)).format(**world.values)
        response = owner.get("/mlflow/w/lab/api/2.0/mlflow-artifacts/artifacts", {"path": path})
        listed = response.json().get("files", []) if response.status_code == 200 else []
        names = {f["path"] for f in listed}
        if response.status_code not in (200, 400, 404) or {"secret.txt", "passwd"} & names:
            wrong.append(f"list {raw[:60]} -> {response.status_code} {sorted(names)[:5]}")
    assert not wrong, "\n".join(wrong)


def test_no_path_of_the_corpus_writes_outside_its_folder(world):
    owner, run_id, wrong = world.clients["owner"], world.values["run_id"], []
    before = files_outside(run_id)
    for route in ("run file", "mlflow artifact"):
        for raw in CORPUS:
            url = (ROUTES[route] + raw).format(**world.values)
            status = owner.put(url, b"x", content_type="application/octet-stream").status_code
            if status >= 500 or files_outside(run_id) != before:
                wrong.append(f"{route:>15} PUT {raw[:60]} -> {status}")
                before = files_outside(run_id)
    assert (store.run_dir(world.values["other"]) / "outputs/secret.txt").read_bytes() == SECRET
    assert not wrong, "\n".join(wrong)


@pytest.mark.asyncio
@pytest.mark.parametrize("raw", [p for p in CORPUS if "{" not in p])
async def test_no_path_of_the_corpus_is_served_by_static(raw):
    assert await static_get("/static/" + unquote(raw)) in (400, 404)


MANIFESTS = {
    "../x": ({"path": "../x"}, "contains '..'"),
    "an absolute path": ({"path": "/etc/cron.d/x"}, "absolute"),
    "a backslash": ({"path": "..\\x"}, "backslash"),
    "a NUL": ({"path": "a\x00b"}, "NUL"),
    "a symlink": ({"path": "link", "mode": 0o120777}, "symbolic link"),
    "a device": ({"path": "dev", "mode": 0o020644}, "not a regular file"),
}


@pytest.mark.parametrize("name", MANIFESTS)
def test_a_manifest_naming_a_way_out_is_refused_and_nothing_is_stored(world, name):
    entry, message = MANIFESTS[name]
    code = b"x = 1\n"
    sha = hashlib.sha256(code).hexdigest()
    files = [{"size": len(code), "sha256": sha, "mode": 0o644, **entry}]
    owner = world.clients["owner"]
    snapshots, blobs = Snapshot.objects.count(), Blob.objects.count()
    for route in ("snapshots/negotiate", "snapshots", "model-blobs/negotiate"):
        response = owner.post(f"/api/workspaces/lab/{route}", json.dumps({"files": files}),
                              content_type="application/json")  # fmt: skip
        assert response.status_code == 400, (route, response.content)
        assert message in response.json()["detail"]
    assert (Snapshot.objects.count(), Blob.objects.count()) == (snapshots, blobs)
