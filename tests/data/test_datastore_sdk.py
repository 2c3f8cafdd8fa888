"""A v1 notebook's datastore cells against a live studio: the default datastore, upload with
only missing bodies sent, download, path(), the cloud kinds' clear error, bad target paths."""

from __future__ import annotations

import pytest

from mlstudio.sdk import Datastore, UserErrorException
from mlstudio.sdk.data.datapath import DataPath
from runs.models import Blob


def test_the_default_datastore_is_workspaceblobstore(ws):
    default = ws.get_default_datastore()
    assert default.name == "workspaceblobstore"
    assert Datastore(ws, "workspaceblobstore").datastore_type == "AzureBlob"
    assert list(ws.datastores) == ["workspaceblobstore"]


def test_it_uploads_only_what_the_studio_lacks_and_downloads_it(ws, mnist, tmp_path, capsys):
    datastore = ws.get_default_datastore()
    first = datastore.upload(str(mnist), target_path="mnist", show_progress=True)
    assert "Uploading to workspaceblobstore/mnist" in capsys.readouterr().out
    assert (first.uploaded["uploaded_files"], first.uploaded["written"]) == (3, 3)
    assert isinstance(first, DataPath) and first.path_on_datastore == "mnist"
    assert Blob.objects.count() == 3

    (mnist / "test" / "images.bin").write_bytes(b"\x04" * 3000)
    again = datastore.upload(str(mnist), target_path="mnist", overwrite=True, show_progress=False)
    assert (again.uploaded["uploaded_files"], again.uploaded["uploaded_bytes"]) == (1, 3000)

    count = datastore.download(str(tmp_path / "copy"), prefix="mnist/", show_progress=False)
    assert count == 3
    assert (tmp_path / "copy/mnist/test/images.bin").read_bytes() == b"\x04" * 3000
    assert datastore.download(str(tmp_path / "copy"), prefix="mnist/", show_progress=False) == 0


def test_without_overwrite_an_existing_path_keeps_its_file(ws, mnist, tmp_path):
    datastore = ws.get_default_datastore()
    datastore.upload(str(mnist), target_path="m", show_progress=False)
    (mnist / "train" / "labels.bin").write_bytes(b"changed")
    result = datastore.upload(str(mnist), target_path="m", show_progress=False)
    assert (result.uploaded["written"], result.uploaded["skipped"]) == (0, 3)
    datastore.download(str(tmp_path / "out"), prefix="m/train/labels", show_progress=False)
    assert (tmp_path / "out/m/train/labels.bin").read_bytes() == b"\x02" * 100


def test_upload_files_with_a_relative_root(ws, mnist, tmp_path):
    datastore = ws.get_default_datastore()
    datastore.upload_files(
        [str(mnist / "train" / "labels.bin")], relative_root=str(mnist), target_path="x",
        show_progress=False,
    )  # fmt: skip
    assert [f["path"] for f in datastore.list_files()] == ["x/train/labels.bin"]


@pytest.mark.parametrize("target", ["../up", "/etc", "a/../../b"])
def test_a_target_path_out_of_the_datastore_is_refused_before_sending(ws, mnist, target):
    with pytest.raises(UserErrorException, match="target_path"):
        ws.get_default_datastore().upload(str(mnist), target_path=target, show_progress=False)
    assert Blob.objects.count() == 0


def test_path_and_its_tuple_form(ws):
    datastore = ws.get_default_datastore()
    reference = datastore.path("mnist/")
    assert (reference.datastore.name, reference.path_on_datastore) == (
        "workspaceblobstore", "mnist/",
    )  # fmt: skip


def test_cloud_kinds_name_the_local_kind(ws):
    with pytest.raises(NotImplementedError, match="register_local"):
        Datastore.register_azure_blob_container(ws, "blobs", "container", "account")


def test_a_local_datastore_is_read_in_place(ws, tmp_path, settings):
    shared = tmp_path / "nfs"
    (shared / "iris").mkdir(parents=True)
    (shared / "iris" / "iris.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserErrorException, match="MLSTUDIO_LOCAL_DATASTORE_ROOTS"):
        Datastore.register_local(ws, "nfs", str(shared))
    settings.MLSTUDIO_LOCAL_DATASTORE_ROOTS = [str(tmp_path)]
    local = Datastore.register_local(ws, "nfs", str(shared))
    assert local.datastore_type == "Local"
    assert [f["path"] for f in local.list_files()] == ["iris/iris.csv"]
    assert local.download(str(tmp_path / "got"), show_progress=False) == 1
    assert (tmp_path / "got/iris/iris.csv").read_text() == "a,b\n1,2\n"
    assert Blob.objects.count() == 0  # never copied in
    with pytest.raises(UserErrorException, match="read in place"):
        local.upload(str(shared), show_progress=False)
    assert set(ws.datastores) == {"workspaceblobstore", "nfs"}
