"""Datastores, as azureml.core.datastore.Datastore in v1. The default, `workspaceblobstore`, is
the studio's own file store: uploads send only the bodies it lacks (many small files per
request). `Datastore.register_local` names a folder every worker node sees, read in place.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlstudio.sdk import _data_files as files
from mlstudio.sdk._blob_batch import send_blobs
from mlstudio.sdk._http import segment
from mlstudio.sdk._model_files import Progress
from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.exceptions import UserErrorException

DEFAULT = "workspaceblobstore"
CLOUD_KINDS = (
    "register_azure_blob_container",
    "register_azure_file_share",
    "register_azure_data_lake",
    "register_azure_data_lake_gen2",
    "register_azure_sql_database",
    "register_azure_postgre_sql",
    "register_azure_my_sql",
    "register_dbfs",
    "register_hdfs",
)


def _cloud(kind: str):
    def call(*args, **kwargs):
        raise NotImplementedError(
            f"Datastore.{kind}() (Azure ML SDK v1) is not supported: MLStudio keeps data on "
            "its own file store. Upload to ws.get_default_datastore() (workspaceblobstore), "
            "or mount the storage on every node and use Datastore.register_local(workspace, "
            "name, path)."
        )

    call.__name__ = kind
    return staticmethod(call)


class Datastore(V1Surface):
    """`Datastore(ws, name)`; `Datastore(ws)` is the default, `workspaceblobstore`."""

    def __init__(self, workspace, name: str | None = None, _details: dict | None = None):
        self.workspace = workspace
        self.name = name or DEFAULT
        details = _details or workspace._client.get(self._path())
        self.datastore_type = details["datastore_type"]
        self.local_path = details.get("local_path")

    def _path(self) -> str:
        return f"workspaces/{segment(self.workspace.name)}/datastores/{segment(self.name)}"

    def __repr__(self) -> str:
        return f"Datastore(name={self.name!r}, datastore_type={self.datastore_type!r})"

    @staticmethod
    def get(workspace, datastore_name: str) -> Datastore:
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace) -> Datastore:
        return Datastore(workspace, DEFAULT)

    @staticmethod
    def list(workspace) -> list:
        rows = workspace._client.get(f"workspaces/{segment(workspace.name)}/datastores")
        return [Datastore(workspace, row["name"], _details=row) for row in rows]

    @staticmethod
    def register_local(workspace, datastore_name: str, path: str) -> Datastore:
        """A folder every worker node sees at `path` (an NFS mount), read in place."""
        row = workspace._client.post(
            f"workspaces/{segment(workspace.name)}/datastores/local",
            {"name": datastore_name, "path": os.fspath(path)},
        )
        return Datastore(workspace, row["name"], _details=row)

    def unregister(self) -> None:
        self.workspace._client.request("DELETE", self._path())

    # --- files ------------------------------------------------------------------------------

    def upload(self, src_dir, target_path=None, overwrite=False, show_progress=True):
        """Upload the files under `src_dir` to `target_path`; returns a DataReference to it."""
        target = files.clean_target(target_path)
        return self._send(files.folder_entries(src_dir), target, overwrite, show_progress)

    def upload_files(self, files_, relative_root=None, target_path=None, overwrite=False,
                     show_progress=True):  # fmt: skip
        target = files.clean_target(target_path)
        return self._send(
            files.files_entries(files_, relative_root), target, overwrite, show_progress
        )

    def _send(self, entries, target: str, overwrite: bool, show_progress: bool):
        from mlstudio.sdk.data.data_reference import DataReference

        client = self.workspace._client
        if self.datastore_type == "Local":
            raise UserErrorException(
                f"{self.name!r} is a local datastore, read in place: copy files into "
                f"{self.local_path} instead, or upload to {DEFAULT!r}."
            )
        progress = None
        if show_progress:
            total = sum(e.size for e in entries)
            progress = Progress(f"Uploading to {self.name}/{target}", total)
        sent = send_blobs(client, self.workspace.name, entries, progress=progress)
        if progress is not None:
            progress.close()
        result = client.post(
            f"{self._path()}/files",
            {"files": [e.as_dict() for e in entries], "target_path": target,
             "overwrite": bool(overwrite)},
        )  # fmt: skip
        reference = DataReference(self, target or "/")
        reference.uploaded = {**sent, **result}
        return reference

    def list_files(self, prefix: str = "") -> list[dict]:
        query = f"?prefix={files.quoted(prefix)}" if prefix else ""
        return self.workspace._client.get(f"{self._path()}/files{query}")

    def download(self, target_path, prefix=None, overwrite=False, show_progress=True) -> int:
        """Download the files whose path starts with `prefix`; returns how many were written.
        A file that exists is kept unless `overwrite`."""
        root = Path(target_path).expanduser()
        listing = self.list_files(prefix or "")
        todo = []
        for entry in listing:
            target = files.confined(root, entry["path"])
            if target.exists() and not overwrite:
                continue
            todo.append((entry, target))
        total = sum(e["size"] for e, _ in todo)
        progress = Progress(f"Downloading from {self.name}", total) if show_progress else None
        for entry, target in todo:
            url = f"{self._path()}/files/{files.quoted(entry['path'])}"
            files.fetch(self.workspace._client, url, entry, target, progress)
        if progress is not None:
            progress.close()
        return len(todo)

    def path(self, path=None, data_reference_name=None):
        from mlstudio.sdk.data.data_reference import DataReference

        return DataReference(self, path or "/", data_reference_name=data_reference_name)


for _kind in CLOUD_KINDS:
    setattr(Datastore, _kind, _cloud(_kind))
