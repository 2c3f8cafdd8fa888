"""Datastore, dataset and batch-blob routes. Readers read; contributors upload and register;
owners register local datastores and delete. The rules are in data/services.py and
data/datasets.py."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status

from data import blob_batch, datasets, services
from data.models import DatasetVersion, Datastore
from mlstudio.schemas import VersionOut
from runs.snapshot_api import BINARY_BODY, ManifestEntry
from workspaces.auth import workspace_for
from workspaces.models import Role

router = Router(tags=["data"])
DOWNLOAD_BLOCK = 1024 * 1024


class DataMissingIn(Schema):
    sha256: list[str]


class DataMissingOut(Schema):
    missing: list[str]


class DataBatchOut(Schema):
    stored: int
    new: int
    bytes: int


class DatastoreOut(Schema):
    name: str
    datastore_type: str
    kind: str
    local_path: str | None
    created_time: datetime


class DataLocalIn(Schema):
    name: str
    path: str


class DataCommitIn(Schema):
    files: list[ManifestEntry]
    target_path: str | None = None
    overwrite: bool = False


class DataCommitOut(Schema):
    written: int
    skipped: int
    target_path: str


class DataFileOut(Schema):
    path: str
    size: int
    sha256: str | None
    mode: int


class DataPrefixQuery(Schema):
    prefix: str = ""


class DataDefinitionIn(Schema):
    definition: dict[str, Any]


class DatasetFileOut(Schema):
    path: str
    size: int
    sha256: str
    mode: int
    datastore: str
    datastore_path: str


class DataResolveOut(Schema):
    files: list[DatasetFileOut]


class DataResolveContentIn(DataDefinitionIn):
    unless: str | None = None  # the digest of a manifest whose files the client holds


class DataRegisterIn(Schema):
    name: str
    definition: dict[str, Any]
    description: str | None = None
    tags: dict[str, Any] | None = None
    create_new_version: bool = False


class DatasetOut(VersionOut):
    kind: str
    description: str
    tags: dict[str, str]
    definition: dict[str, Any]
    files: list[DatasetFileOut]
    file_count: int
    total_size: int
    created_time: datetime
    created_by: str | None
    url: str


class DataVersionQuery(Schema):
    version: str | None = None


class DataUpdateIn(Schema):
    description: str | None = None
    tags: dict[str, Any] | None = None


def _datastore(request, ws: str, name: str, role: str = Role.READER) -> Datastore:
    return services.datastore_get(workspace=workspace_for(request, ws, role), name=name)


def datastore_out(datastore: Datastore) -> dict:
    return {
        "name": datastore.name,
        "datastore_type": "AzureBlob" if datastore.kind == Datastore.Kind.BLOB else "Local",
        "kind": datastore.kind,
        "local_path": datastore.local_path or None,
        "created_time": datastore.created_at,
    }


def dataset_out(request: HttpRequest, version: DatasetVersion) -> dict:
    page = f"/w/{version.dataset.workspace.name}/data/datasets/{version.dataset.name}/"
    return {
        "id": str(version.uid),
        "name": version.dataset.name,
        "version": version.version,
        "kind": version.kind,
        "description": version.description,
        "tags": version.tags,
        "definition": version.definition,
        "files": version.manifest,
        "file_count": version.file_count,
        "total_size": version.total_size,
        "created_time": version.created_at,
        "created_by": version.created_by.get_username() if version.created_by else None,
        "url": request.build_absolute_uri(f"{page}{version.version}/"),
    }


def _download(request, handle, name: str, head: bytes = b"") -> FileResponse:
    """The file as an attachment, sent as it is read; `head`, if any, goes before it."""
    response = FileResponse(handle, as_attachment=True, filename=PurePosixPath(name).name)
    response.block_size = DOWNLOAD_BLOCK
    if head and "Content-Length" in response:
        response["Content-Length"] = str(len(head) + int(response["Content-Length"]))
    if isinstance(request, ASGIRequest):
        # Django serves a file's sync iterator under ASGI by reading all of it into memory
        # first; blocks read in a thread are sent as they are read.
        response.streaming_content = _blocks(handle, head)
    elif head:
        blocks = iter(lambda: handle.read(DOWNLOAD_BLOCK), b"")
        response.streaming_content = itertools.chain([head], blocks)
    return response


async def _blocks(handle, head: bytes = b""):
    if head:
        yield head
    read = sync_to_async(handle.read, thread_sensitive=False)
    while block := await read(DOWNLOAD_BLOCK):
        yield block


# --- blobs, many at once -------------------------------------------------------------------


@router.post("/workspaces/{ws}/blob-batches/missing", response=DataMissingOut)
def blobs_missing(request, ws: str, payload: DataMissingIn):
    """Which of these sha256s the workspace lacks: the first step of every upload."""
    workspace = workspace_for(request, ws, Role.CONTRIBUTOR)
    return {"missing": blob_batch.blobs_missing(workspace=workspace, shas=payload.sha256)}


@router.post(
    "/workspaces/{ws}/blob-batches", response={201: DataBatchOut}, openapi_extra=BINARY_BODY
)
def blobs_batch(request, ws: str):
    """Many bodies in one request: a JSON index line, then the bodies (see data/blob_batch.py)."""
    stored = blob_batch.blobs_store_batch(
        workspace=workspace_for(request, ws, Role.CONTRIBUTOR), body=request
    )
    return Status(201, stored)


# --- datastores ----------------------------------------------------------------------------


@router.get("/workspaces/{ws}/datastores", response=list[DatastoreOut])
def datastore_list(request, ws: str):
    return [
        datastore_out(d) for d in services.datastores_list(workspace=workspace_for(request, ws))
    ]


@router.post("/workspaces/{ws}/datastores/local", response={201: DatastoreOut})
def datastore_register_local(request, ws: str, payload: DataLocalIn):
    datastore = services.datastore_register_local(
        workspace=workspace_for(request, ws, Role.OWNER), user=request.user, name=payload.name,
        path=payload.path,
    )  # fmt: skip
    return Status(201, datastore_out(datastore))


@router.get("/workspaces/{ws}/datastores/{name}", response=DatastoreOut)
def datastore_detail(request, ws: str, name: str):
    return datastore_out(_datastore(request, ws, name))


@router.delete("/workspaces/{ws}/datastores/{name}", response={204: None})
def datastore_unregister(request, ws: str, name: str):
    services.datastore_unregister(datastore=_datastore(request, ws, name, Role.OWNER))
    return Status(204, None)


@router.post("/workspaces/{ws}/datastores/{name}/files", response=DataCommitOut)
def datastore_files_commit(request, ws: str, name: str, payload: DataCommitIn):
    """Put uploaded blobs (blob-batches/missing, blob-batches) at their paths in the datastore."""
    return services.datastore_files_commit(
        datastore=_datastore(request, ws, name, Role.CONTRIBUTOR),
        files=[f.model_dump() for f in payload.files], target_path=payload.target_path,
        overwrite=payload.overwrite,
    )  # fmt: skip


@router.get("/workspaces/{ws}/datastores/{name}/files", response=list[DataFileOut])
def datastore_files(request, ws: str, name: str, query: Query[DataPrefixQuery]):
    return services.datastore_files(datastore=_datastore(request, ws, name), prefix=query.prefix)


@router.get("/workspaces/{ws}/datastores/{name}/files/{path:path}")
def datastore_file_download(request, ws: str, name: str, path: str):
    handle, _ = services.datastore_file_open(datastore=_datastore(request, ws, name), path=path)
    return _download(request, handle, path)


# --- datasets ------------------------------------------------------------------------------


@router.post("/workspaces/{ws}/datasets/resolve", response=DataResolveOut)
def dataset_resolve(request, ws: str, payload: DataDefinitionIn):
    """The files an unregistered dataset's definition matches now, each with its sha256."""
    files = datasets.definition_resolve(
        workspace=workspace_for(request, ws), definition=payload.definition
    )
    return {"files": files}


@router.post("/workspaces/{ws}/datasets/resolve/content")
def dataset_resolve_content(request, ws: str, payload: DataResolveContentIn):
    """What resolve answers, and a single-file dataset's bytes in the same answer, so that a
    first read takes one request: a JSON line {"files": [...], "sent": bool}, then the file
    when sent. It is not sent for several files (the client GETs each) nor when the
    manifest's digest is `unless` (the client holds those files)."""
    workspace = workspace_for(request, ws)
    files = datasets.definition_resolve(workspace=workspace, definition=payload.definition)
    send = len(files) == 1 and datasets.manifest_digest(files) != payload.unless
    head = json.dumps({"files": files, "sent": send}).encode() + b"\n"
    if not send:
        return HttpResponse(head, content_type="application/x-ndjson")
    entry = files[0]
    datastore = services.datastore_get(workspace=workspace, name=entry["datastore"])
    handle, _ = services.datastore_file_open(datastore=datastore, path=entry["datastore_path"])
    return _download(request, handle, entry["path"], head=head)


@router.get("/workspaces/{ws}/datasets", response=list[DatasetOut])
def dataset_list(request, ws: str):
    """The latest version of every dataset."""
    workspace = workspace_for(request, ws)
    latest = {}
    for version in DatasetVersion.objects.select_related("dataset__workspace", "created_by").filter(
        dataset__workspace=workspace
    ):
        latest.setdefault(version.dataset_id, version)
    return [dataset_out(request, v) for v in latest.values()]


@router.post("/workspaces/{ws}/datasets", response={201: DatasetOut})
def dataset_register(request, ws: str, payload: DataRegisterIn):
    version = datasets.dataset_register(
        workspace=workspace_for(request, ws, Role.CONTRIBUTOR), user=request.user,
        name=payload.name, definition=payload.definition, description=payload.description,
        tags=payload.tags, create_new_version=payload.create_new_version,
    )  # fmt: skip
    return Status(201, dataset_out(request, version))


@router.get("/workspaces/{ws}/datasets/by-id/{uid}", response=DatasetOut)
def dataset_by_id(request, ws: str, uid: str):
    version = datasets.dataset_version_by_id(workspace=workspace_for(request, ws), uid=uid)
    return dataset_out(request, version)


@router.get("/workspaces/{ws}/datasets/{name}", response=DatasetOut)
def dataset_detail(request, ws: str, name: str, query: Query[DataVersionQuery]):
    version = datasets.dataset_version_get(
        workspace=workspace_for(request, ws), name=name, version=query.version
    )
    return dataset_out(request, version)


@router.get("/workspaces/{ws}/datasets/{name}/versions", response=list[DatasetOut])
def dataset_versions(request, ws: str, name: str):
    latest = datasets.dataset_version_get(workspace=workspace_for(request, ws), name=name)
    return [dataset_out(request, v) for v in latest.dataset.versions.all()]


@router.patch("/workspaces/{ws}/datasets/{name}/versions/{version}", response=DatasetOut)
def dataset_update(request, ws: str, name: str, version: str, payload: DataUpdateIn):
    found = datasets.dataset_version_get(
        workspace=workspace_for(request, ws, Role.CONTRIBUTOR), name=name, version=version
    )
    updated = datasets.dataset_version_update(version=found, **payload.model_dump())
    return dataset_out(request, updated)


@router.delete("/workspaces/{ws}/datasets/{name}/versions/{version}", response={204: None})
def dataset_delete(request, ws: str, name: str, version: str):
    found = datasets.dataset_version_get(
        workspace=workspace_for(request, ws, Role.OWNER), name=name, version=version
    )
    datasets.dataset_version_delete(version=found)
    return Status(204, None)


@router.get("/workspaces/{ws}/datasets/{name}/versions/{version}/files/{path:path}")
def dataset_file_download(request, ws: str, name: str, version: str, path: str):
    found = datasets.dataset_version_get(workspace=workspace_for(request, ws), name=name,
                                         version=version)  # fmt: skip
    handle, entry = datasets.version_file_open(version=found, path=path)
    return _download(request, handle, entry["path"])


@router.get("/workspaces/{ws}/datasets/{name}/versions/{version}/preview")
def dataset_preview(request, ws: str, name: str, version: str) -> dict:
    found = datasets.dataset_version_get(workspace=workspace_for(request, ws), name=name,
                                         version=version)  # fmt: skip
    return datasets.tabular_preview(version=found)
