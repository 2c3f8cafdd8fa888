"""The snapshot API: hash negotiation, blobs, manifests, zips with ignore rules,
downloads, materializing."""

import io
import json
import os
import stat
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from runs.models import Blob, Snapshot
from runs.snapshots import BlobCorrupt, blob_name, snapshot_materialize
from tests.runs.snapshots.support import (
    API,
    entry,
    make_zip,
    post_json,
    post_zip,
    put_blob,
    sha,
    stored_files,
    upload,
    zip_with_entry,
)
from workspaces import services


def test_it_answers_only_the_missing_blobs_and_none_after_upload(alice):
    files = [entry("a.py", b"a"), entry("b.py", b"b"), entry("copy_of_a.py", b"a")]
    assert put_blob(alice, b"a").status_code == 201

    first = post_json(alice, f"{API}/snapshots/negotiate", {"files": files})
    assert first.status_code == 200
    assert first.json() == {"missing": [sha(b"b")]}

    assert put_blob(alice, b"b").status_code == 201
    second = post_json(alice, f"{API}/snapshots/negotiate", {"files": files})
    assert second.json() == {"missing": []}


def test_it_stores_a_blob_once_and_answers_200_the_second_time(alice, store):
    first = put_blob(alice, b"hello")
    assert first.status_code == 201
    assert first.json() == {"sha256": sha(b"hello"), "size": 5}
    assert put_blob(alice, b"hello").status_code == 200
    assert stored_files(store) == [blob_name(sha256=sha(b"hello"))]
    assert (store / blob_name(sha256=sha(b"hello"))).read_bytes() == b"hello"


def test_it_streams_a_blob_larger_than_djangos_in_memory_upload_limit(alice, store, settings):
    data = os.urandom(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)
    response = put_blob(alice, data)
    assert response.status_code == 201
    assert (store / blob_name(sha256=sha(data))).read_bytes() == data


def test_it_refuses_a_hash_mismatch_and_stores_nothing(alice, store):
    response = put_blob(alice, b"what was sent", sha256=sha(b"what was hashed"))
    assert response.status_code == 400
    assert "Hash mismatch" in response.json()["detail"]
    assert sha(b"what was sent") in response.json()["detail"]
    assert not Blob.objects.exists()
    assert stored_files(store) == []


def test_it_refuses_a_blob_url_that_is_not_a_sha256(alice):
    response = put_blob(alice, b"x", sha256="abc123")
    assert response.status_code == 400
    assert "64 hex characters" in response.json()["detail"]


def test_it_refuses_a_blob_over_the_limit_and_stores_nothing(alice, store, settings):
    settings.MLSTUDIO_SNAPSHOT_MAX_BYTES = 10
    response = put_blob(alice, b"eleven byte")
    assert response.status_code == 400
    assert "MLSTUDIO_SNAPSHOT_MAX_BYTES" in response.json()["detail"]
    assert stored_files(store) == []
    assert not Blob.objects.exists()


def test_it_makes_each_workspace_upload_its_own_blobs(owner, alice, api_as, store):
    services.workspace_create(name="other", owner=owner)
    assert put_blob(alice, b"secret").status_code == 201
    other = api_as(owner)

    negotiated = post_json(
        other, "/api/workspaces/other/snapshots/negotiate", {"files": [entry("s", b"secret")]}
    )
    assert negotiated.json() == {"missing": [sha(b"secret")]}
    created = post_json(
        other, "/api/workspaces/other/snapshots", {"files": [entry("s", b"secret")]}
    )
    assert created.status_code == 400
    assert put_blob(other, b"secret", ws="other").status_code == 201
    assert stored_files(store) == [blob_name(sha256=sha(b"secret"))]


# --- creating snapshots --------------------------------------------------------------------


def test_it_creates_a_snapshot_and_shows_its_files(alice):
    created = upload(
        alice, {"src/train.py": b"print(1)\n", "run.sh": b"#!/bin/sh\n"}, {"run.sh": 0o100755}
    )
    assert created["file_count"] == 2
    assert created["total_size"] == 19
    manifest = [entry("run.sh", b"#!/bin/sh\n", 0o755), entry("src/train.py", b"print(1)\n")]
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    assert created["digest"] == sha(canonical.encode())

    detail = alice.get(f"{API}/snapshots/{created['id']}").json()
    assert detail["id"] == created["id"]
    assert detail["files"] == manifest
    assert detail["git"] == {}
    assert "created_at" in detail


def test_it_returns_the_same_snapshot_for_the_same_files(alice):
    first = upload(alice, {"a.py": b"a"})
    second = upload(alice, {"./a.py": b"a"})
    assert second["id"] == first["id"]
    assert Snapshot.objects.count() == 1


def test_it_refuses_a_snapshot_whose_blobs_are_not_uploaded(alice):
    response = post_json(alice, f"{API}/snapshots", {"files": [entry("a.py", b"never sent")]})
    assert response.status_code == 400
    assert sha(b"never sent") in response.json()["detail"]
    assert "Upload them first" in response.json()["detail"]
    assert not Snapshot.objects.exists()


def test_it_keeps_git_facts_without_a_password(alice):
    put_blob(alice, b"a")
    git = {
        "repository_uri": "https://user:ghp_secret@github.com/org/repo.git",
        "branch": "main",
        "commit": "a" * 40,
        "dirty": False,
    }
    created = post_json(alice, f"{API}/snapshots", {"files": [entry("a.py", b"a")], "git": git})
    detail = alice.get(f"{API}/snapshots/{created.json()['id']}").json()
    assert detail["git"] == {**git, "repository_uri": "https://github.com/org/repo.git"}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([entry("a.py", b"1"), entry("a.py", b"2")], "listed twice"),
        ([entry("a", b"1"), entry("a/b.py", b"2")], "both a file and the folder"),
        ([entry("../escape.py", b"1")], "contains '..'"),
        ([entry("/etc/passwd", b"1")], "absolute"),
        ([entry("src\\train.py", b"1")], "backslash"),
        ([entry(".git/config", b"1")], "never part of a snapshot"),
        ([{**entry("a.py", b"1"), "sha256": "A" * 64}], "64 lowercase hex"),
        ([{**entry("a.py", b"1"), "size": -1}], "not a number of bytes"),
    ],
)
def test_it_refuses_a_bad_manifest(alice, files, message):
    for url in (f"{API}/snapshots/negotiate", f"{API}/snapshots"):
        response = post_json(alice, url, {"files": files})
        assert response.status_code == 400
        assert message in response.json()["detail"]
    assert not Snapshot.objects.exists()


def test_it_refuses_a_manifest_over_the_byte_limit_naming_the_largest_files(alice, store, settings):
    settings.MLSTUDIO_SNAPSHOT_MAX_BYTES = 5 * 1024 * 1024
    files = [
        {"path": "data/big.bin", "size": 4 * 1024 * 1024, "sha256": "b" * 64, "mode": 0o644},
        {"path": "model.pt", "size": 3 * 1024 * 1024, "sha256": "c" * 64, "mode": 0o644},
        {"path": "train.py", "size": 100, "sha256": "d" * 64, "mode": 0o644},
    ]
    for url in (f"{API}/snapshots/negotiate", f"{API}/snapshots"):
        response = post_json(alice, url, {"files": files})
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert "7.0 MiB, over the limit of 5.0 MiB" in detail
        assert "data/big.bin (4.0 MiB), model.pt (3.0 MiB), train.py (100 bytes)" in detail
        assert '.amlignore, e.g. the lines "/data/", or raise' in detail  # 4 MiB of 2 too many
        assert "MLSTUDIO_SNAPSHOT_MAX_BYTES" in detail
    assert stored_files(store) == []
    assert not Snapshot.objects.exists()


def test_it_refuses_a_manifest_with_too_many_files(alice, settings):
    settings.MLSTUDIO_SNAPSHOT_MAX_FILES = 3
    files = [entry(f"node_modules/m{i}.js", str(i).encode()) for i in range(3)]
    files.append(entry("train.py", b"t"))
    response = post_json(alice, f"{API}/snapshots/negotiate", {"files": files})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "4 files, over the limit of 3" in detail
    assert "node_modules/ (3 files)" in detail
    assert '.amlignore, e.g. the lines "/node_modules/", or raise' in detail
    assert "MLSTUDIO_SNAPSHOT_MAX_FILES" in detail


# --- permissions ---------------------------------------------------------------------------


def test_it_lets_a_reader_read_but_not_upload(alice, teammate, api_as, store):
    created = upload(alice, {"train.py": b"print(1)\n"})
    blobs_before = stored_files(store)
    reader = api_as(teammate)

    assert reader.get(f"{API}/snapshots/{created['id']}").status_code == 200
    assert reader.get(f"{API}/snapshots/{created['id']}/files/train.py").status_code == 200
    refused = [
        put_blob(reader, b"new"),
        post_json(reader, f"{API}/snapshots/negotiate", {"files": [entry("n", b"new")]}),
        post_json(reader, f"{API}/snapshots", {"files": [entry("train.py", b"print(1)\n")]}),
        post_zip(reader, make_zip({"n.py": b"new"})),
    ]
    assert [r.status_code for r in refused] == [403] * 4
    assert "reader" in refused[0].json()["detail"]
    assert stored_files(store) == blobs_before
    assert Snapshot.objects.count() == 1


def test_it_gives_a_stranger_404(alice, stranger, api_as):
    created = upload(alice, {"train.py": b"print(1)\n"})
    outsider = api_as(stranger)
    responses = [
        outsider.get(f"{API}/snapshots/{created['id']}"),
        outsider.get(f"{API}/snapshots/{created['id']}/files/train.py"),
        outsider.get(f"{API}/snapshots/{created['id']}/zip"),
        put_blob(outsider, b"x"),
        post_zip(outsider, make_zip({"a.py": b"a"})),
    ]
    assert [r.status_code for r in responses] == [404] * 5
    assert "not found" in responses[0].json()["detail"]


def test_it_answers_404_for_an_unknown_snapshot(alice):
    for snapshot_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = alice.get(f"{API}/snapshots/{snapshot_id}")
        assert response.status_code == 404
        assert "No snapshot" in response.json()["detail"]


# --- zip uploads ---------------------------------------------------------------------------


def test_it_takes_a_zip_with_amlignore(alice, store):
    archive = make_zip(
        {
            "train.py": b"print('train')\n",
            "run.sh": b"#!/bin/sh\n",
            "data/big.csv": b"1,2,3\n",
            "debug.log": b"noise",
            ".amlignore": b"data/\n*.log\n",
            ".gitignore": b"train.py\n",
        },
        {"run.sh": 0o755},
    )
    response = post_zip(alice, archive)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["ignored"] == 2
    assert body["file_count"] == 4

    detail = alice.get(f"{API}/snapshots/{body['id']}").json()
    assert [f["path"] for f in detail["files"]] == [
        ".amlignore",
        ".gitignore",
        "run.sh",
        "train.py",
    ]
    assert {f["path"]: f["mode"] for f in detail["files"]}["run.sh"] == 0o755
    assert detail["git"] == {}
    assert Blob.objects.count() == 4
    assert not list((store / "tmp").rglob("*"))


def test_it_uses_gitignore_when_there_is_no_amlignore(alice):
    archive = make_zip(
        {
            "train.py": b"t",
            "outputs/model.pt": b"m",
            "cache.pyc": b"c",
            ".gitignore": b"outputs/\n*.pyc\n",
        }
    )
    body = post_zip(alice, archive).json()
    assert body["ignored"] == 2
    detail = alice.get(f"{API}/snapshots/{body['id']}").json()
    assert [f["path"] for f in detail["files"]] == [".gitignore", "train.py"]


def test_it_keeps_every_file_of_a_zip_without_ignore_rules(alice):
    archive = make_zip({"train.py": b"t", "outputs/model.pt": b"m", "a/b/c.txt": b"c"})
    body = post_zip(alice, archive).json()
    assert body["ignored"] == 0
    assert body["file_count"] == 3


def test_it_takes_a_zip_as_a_form_field(alice, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # Django spools the upload to disk
    upload_file = SimpleUploadedFile("code.zip", make_zip({"train.py": b"t"}))
    response = alice.post(f"{API}/snapshots/zip", {"file": upload_file})
    assert response.status_code == 201
    assert response.json()["file_count"] == 1

    no_field = alice.post(f"{API}/snapshots/zip", {"other": "x"})
    assert no_field.status_code == 400
    assert "'file'" in no_field.json()["detail"]


def test_it_refuses_what_is_not_a_zip(alice):
    response = post_zip(alice, b"this is not a zip")
    assert response.status_code == 400
    assert "not a readable zip" in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("../../etc/cron.d/evil", stat.S_IFREG, "contains '..'"),
        ("src/../../evil.py", stat.S_IFREG, "contains '..'"),
        ("/etc/passwd", stat.S_IFREG, "absolute"),
        ("C:/Windows/evil.dll", stat.S_IFREG, "absolute"),
        ("..\\evil.py", stat.S_IFREG, "backslash"),
        ("link_to_etc", stat.S_IFLNK, "symbolic link"),
        ("dev/sda", stat.S_IFBLK, "block device"),
        ("dev/tty", stat.S_IFCHR, "character device"),
        ("pipe", stat.S_IFIFO, "FIFO"),
        ("socket", stat.S_IFSOCK, "socket"),
    ],
)
def test_it_refuses_a_whole_zip_with_one_unsafe_entry(alice, store, name, kind, message):
    response = post_zip(alice, zip_with_entry(name, kind, b"/etc/passwd"))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert repr(name) in detail
    assert message in detail
    assert "Nothing was stored" in detail
    assert stored_files(store) == []
    assert not Blob.objects.exists()
    assert not Snapshot.objects.exists()


def test_it_refuses_a_zip_over_the_limit_by_its_declared_sizes(alice, store, settings):
    settings.MLSTUDIO_SNAPSHOT_MAX_BYTES = 1024 * 1024
    bomb = make_zip({"train.py": b"t", "zeros.bin": bytes(2 * 1024 * 1024)})
    assert len(bomb) < 10 * 1024
    response = post_zip(alice, bomb)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "zeros.bin (2.0 MiB)" in detail
    assert ".amlignore" in detail
    assert stored_files(store) == []


def test_it_takes_a_zip_whose_large_files_are_ignored(alice, settings):
    settings.MLSTUDIO_SNAPSHOT_MAX_BYTES = 1024 * 1024
    archive = make_zip(
        {"train.py": b"t", "zeros.bin": bytes(2 * 1024 * 1024), ".amlignore": b"*.bin"}
    )
    response = post_zip(alice, archive)
    assert response.status_code == 201
    assert response.json()["ignored"] == 1


# --- git facts from a zip ------------------------------------------------------------------


def test_it_downloads_one_file_as_an_attachment(alice):
    created = upload(alice, {"src/train.py": b"print('hello')\n"})
    response = alice.get(f"{API}/snapshots/{created['id']}/files/src/train.py")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"print('hello')\n"
    assert response["Content-Disposition"] == 'attachment; filename="train.py"'
    assert response["Content-Type"] == "text/x-python"


def test_it_answers_404_naming_the_top_level_for_a_file_not_in_the_snapshot(alice):
    created = upload(alice, {"src/train.py": b"t", "README.md": b"r"})
    response = alice.get(f"{API}/snapshots/{created['id']}/files/train.py")
    assert response.status_code == 404
    assert "README.md, src/" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "../../../../etc/passwd",
        "src/../../secret.txt",
        "%2e%2e%2f%2e%2e%2fsecret.txt",
        "%252e%252e%252f%252e%252e%252fsecret.txt",
        "/etc/passwd",
        "..\\..\\secret.txt",
        "src\\train.py",
    ],
)
def test_it_never_returns_a_file_for_a_path_that_leaves_the_snapshot(alice, store, path):
    created = upload(alice, {"src/train.py": b"t"})
    (store / "secret.txt").write_bytes(b"secret")
    response = alice.get(f"{API}/snapshots/{created['id']}/files/{path}")
    assert response.status_code in (400, 404)
    assert "Content-Disposition" not in response
    assert (
        "not allowed" in response.json()["detail"] or "not in snapshot" in response.json()["detail"]
    )


def test_it_downloads_the_whole_snapshot_as_a_zip(alice):
    files = {"train.py": b"print(1)\n", "run.sh": b"#!/bin/sh\n", "data/x.csv": b"1,2\n"}
    created = upload(alice, files, {"run.sh": 0o755})
    response = alice.get(f"{API}/snapshots/{created['id']}/zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f"snapshot-{created['id']}.zip" in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == files
        assert (archive.getinfo("run.sh").external_attr >> 16) & 0o777 == 0o755


# --- materializing -------------------------------------------------------------------------


def test_it_materializes_the_files_with_their_modes(alice, tmp_path):
    created = upload(
        alice,
        {"run.sh": b"#!/bin/sh\n", "src/pkg/train.py": b"t", "empty.txt": b""},
        {"run.sh": 0o755},
    )
    destination = tmp_path / "work"
    snapshot_materialize(snapshot=Snapshot.objects.get(pk=created["id"]), destination=destination)

    assert (destination / "run.sh").read_bytes() == b"#!/bin/sh\n"
    assert (destination / "src" / "pkg" / "train.py").read_bytes() == b"t"
    assert (destination / "empty.txt").read_bytes() == b""
    assert stat.S_IMODE((destination / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((destination / "src" / "pkg" / "train.py").stat().st_mode) == 0o644
    assert (destination / "run.sh").stat().st_nlink == 1


def test_it_refuses_to_materialize_a_damaged_blob(alice, store, tmp_path):
    created = upload(alice, {"train.py": b"print(1)\n"})
    (store / blob_name(sha256=sha(b"print(1)\n"))).write_bytes(b"tampered")
    with pytest.raises(BlobCorrupt, match=r"train\.py"):
        snapshot_materialize(
            snapshot=Snapshot.objects.get(pk=created["id"]), destination=tmp_path / "work"
        )
