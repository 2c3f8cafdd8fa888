"""Registering a run's files reads them no second time: the store records each file's sha256
on it as it writes it (store.file_digest), and the model's blob is the run file itself."""

from __future__ import annotations

import errno
import hashlib
import io
import os

from django.core.files.storage import default_storage

from registry import services
from runs import store
from runs.outputs import OutputCollector
from runs.snapshots import blob_name
from tests.registry.conftest import finished_run


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _register(run, owner, path: str = "outputs/model.pt"):
    return services.model_register_from_run(run=run, user=owner, name="net", model_path=path)


def _blob(version) -> str:
    return default_storage.path(blob_name(sha256=version.manifest[0]["sha256"]))


def test_collected_outputs_become_the_models_blob_by_inode(workspace, owner, tmp_path):
    body = os.urandom(3 * 1024 * 1024 + 17)  # more than one copy chunk
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "model.pt").write_bytes(body)
    run = finished_run(workspace, owner, {})
    said = []
    collector = OutputCollector(run.pk, tmp_path, say=said.append)
    assert collector.collect("outputs") == (1, len(body))
    run_file = store.run_file(run.pk, "outputs/model.pt")
    recorded = os.getxattr(run_file, store.DIGEST_XATTR).decode()
    assert recorded.startswith(_sha(body) + ":")  # hashed while collected

    version = _register(run, owner)

    assert version.manifest[0]["sha256"] == _sha(body)
    assert os.stat(_blob(version)).st_ino == run_file.stat().st_ino  # no second copy
    assert run_file.stat().st_nlink == 2
    assert _register(run, owner).manifest == version.manifest  # again: still the one inode
    assert run_file.stat().st_nlink == 2


def test_a_file_changed_after_registering_is_hashed_again(workspace, owner):
    run = finished_run(workspace, owner, {"outputs/model.pt": b"epoch 1", "outputs/log.bin": b"a"})
    first = _register(run, owner, "outputs/log.bin")
    run_file = store.run_file(run.pk, "outputs/log.bin")
    # Something rewrites the run file in place, as the collector appends to event files:
    # the size and mtime the record was made for no longer hold, so it is not believed.
    with open(run_file, "ab") as out:
        out.write(b"bc")
    second = _register(run, owner, "outputs/log.bin")
    assert first.manifest[0]["sha256"] == _sha(b"a")
    assert second.manifest[0]["sha256"] == _sha(b"abc")
    assert store.file_digest(run_file) == (_sha(b"abc"), 3)  # and the record was refreshed


def test_a_same_size_rewrite_with_a_new_mtime_is_hashed_again(workspace, owner):
    run = finished_run(workspace, owner, {"outputs/model.pt": b"weights-1"})
    run_file = store.run_file(run.pk, "outputs/model.pt")
    stat = run_file.stat()
    with open(run_file, "r+b") as out:
        out.write(b"weights-2")
    os.utime(run_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert _register(run, owner).manifest[0]["sha256"] == _sha(b"weights-2")


def test_a_digest_the_store_did_not_sign_is_not_believed(workspace, owner):
    run = finished_run(workspace, owner, {"outputs/model.pt": b"real bytes"})
    run_file = store.run_file(run.pk, "outputs/model.pt")
    stat = run_file.stat()
    forged = f"{_sha(b'other bytes')}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_dev}:{stat.st_ino}"
    os.setxattr(run_file, store.DIGEST_XATTR, f"{forged}:{'0' * 64}".encode())
    assert _register(run, owner).manifest[0]["sha256"] == _sha(b"real bytes")


def test_without_extended_attributes_files_are_hashed_each_time(workspace, owner, monkeypatch):
    # A fake file system that refuses user extended attributes, as some network and FAT
    # mounts do: the store writes and registers as before, hashing instead of remembering.
    def refuse(*args, **kwargs):
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(os, "setxattr", refuse)
    monkeypatch.setattr(os, "getxattr", refuse)
    body = os.urandom(4096)
    run = finished_run(workspace, owner, {"outputs/model.pt": body})
    store.write_file(run.pk, "outputs/other.bin", io.BytesIO(b"more"))

    version = _register(run, owner)

    run_file = store.run_file(run.pk, "outputs/model.pt")
    assert version.manifest[0]["sha256"] == _sha(body)
    assert os.path.samefile(_blob(version), run_file)  # still linked, not copied
    assert store.file_digest(store.run_file(run.pk, "outputs/other.bin")) == (_sha(b"more"), 4)
