"""Snapshot routes: blob negotiation and upload for the SDK, one-zip upload for the browser and
curl, and reads (details, one file, the whole snapshot as a zip). Logic is in runs/snapshots.py.
"""

from collections.abc import Callable
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from uuid import UUID

from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, HttpRequest
from ninja import Router, Schema, Status

from mlstudio.errors import UserError
from runs import blobs, snapshot_zips, snapshots
from runs.models import Blob, Snapshot
from workspaces.auth import request_token
from workspaces.models import Role, Workspace
from workspaces.selectors import workspace_get_for_user

router = Router(tags=["snapshots"])

BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
ZIP_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/zip": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


# blobs.blob_store or a store with its own limits (registry's model_blob_store)
BlobStore = Callable[..., tuple[Blob, bool]]


class ManifestEntry(Schema):
    path: str
    size: int
    sha256: str
    mode: int = 0o644


class NegotiateIn(Schema):
    files: list[ManifestEntry]


class NegotiateOut(Schema):
    missing: list[str]


class BlobOut(Schema):
    sha256: str
    size: int


# A blob PUT's contract, for snapshot and model blobs: the raw body in, 201 new or 200 held.
BLOB_PUT = {"response": {200: BlobOut, 201: BlobOut}, "openapi_extra": BINARY_BODY}


class SnapshotIn(Schema):
    files: list[ManifestEntry]
    git: dict[str, Any] | None = None


class SnapshotCreatedOut(Schema):
    id: UUID
    file_count: int
    total_size: int
    digest: str


class SnapshotZipOut(SnapshotCreatedOut):
    ignored: int


class SnapshotOut(Schema):
    id: UUID
    file_count: int
    total_size: int
    created_at: datetime
    git: dict[str, Any]
    files: list[ManifestEntry]


def _writable(request: HttpRequest, ws: str) -> Workspace:
    workspace, _ = workspace_get_for_user(
        user=request.user, name=ws, min_role=Role.CONTRIBUTOR, token=request_token(request)
    )
    return workspace


def _readable(request: HttpRequest, ws: str, snapshot_id: str) -> Snapshot:
    return snapshots.snapshot_get_for_user(
        user=request.user, workspace_name=ws, snapshot_id=snapshot_id, token=request_token(request)
    )


def _created_out(snapshot: Snapshot) -> dict:
    return SnapshotCreatedOut.model_validate(snapshot).model_dump()


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def blob_stored(store: BlobStore, *, request: HttpRequest, workspace: Workspace, sha256: str):
    """A blob PUT: the request body stored under `sha256` by `store`, 201 when it is new here
    and 200 when the workspace already held it."""
    blob, created = store(
        workspace=workspace, sha256=sha256, body=request, declared_size=_content_length(request)
    )
    return Status(201 if created else 200, {"sha256": blob.sha256, "size": blob.size})


def _zip_body(request: HttpRequest) -> UploadedFile | HttpRequest:
    """The uploaded zip: the form field `file` of a multipart form, else the raw body."""
    if request.content_type != "multipart/form-data":
        return request
    upload = request.FILES.get("file")
    if upload is None:
        raise UserError(
            "The form has no field 'file'; send the zip as it (curl -F file=@code.zip ...), "
            "or as the raw body with Content-Type: application/zip."
        )
    return upload


@router.post("/workspaces/{ws}/snapshots/negotiate", response=NegotiateOut)
def snapshot_negotiate(request, ws: str, payload: NegotiateIn):
    missing = snapshots.snapshot_negotiate(
        workspace=_writable(request, ws), files=[f.model_dump() for f in payload.files]
    )
    return {"missing": missing}


@router.put("/workspaces/{ws}/blobs/{sha256}", **BLOB_PUT)
def blob_put(request, ws: str, sha256: str):
    return blob_stored(
        blobs.blob_store, request=request, workspace=_writable(request, ws), sha256=sha256
    )


@router.post("/workspaces/{ws}/snapshots", response={201: SnapshotCreatedOut})
def snapshot_create(request, ws: str, payload: SnapshotIn):
    snapshot = snapshots.snapshot_create(
        workspace=_writable(request, ws),
        user=request.user,
        files=[f.model_dump() for f in payload.files],
        git=payload.git,
    )
    return Status(201, _created_out(snapshot))


@router.post(
    "/workspaces/{ws}/snapshots/zip", response={201: SnapshotZipOut}, openapi_extra=ZIP_BODY
)
def snapshot_create_from_zip(request, ws: str):
    workspace = _writable(request, ws)
    snapshot, ignored = snapshot_zips.snapshot_create_from_zip(
        workspace=workspace, user=request.user, archive=_zip_body(request)
    )
    return Status(201, {**_created_out(snapshot), "ignored": ignored})


@router.get("/workspaces/{ws}/snapshots/{snapshot_id}", response=SnapshotOut)
def snapshot_detail(request, ws: str, snapshot_id: str):
    snapshot = _readable(request, ws, snapshot_id)
    return {
        "id": snapshot.id,
        "file_count": snapshot.file_count,
        "total_size": snapshot.total_size,
        "created_at": snapshot.created_at,
        "git": snapshot.git,
        "files": snapshot.manifest,
    }


@router.get("/workspaces/{ws}/snapshots/{snapshot_id}/files/{path:path}")
def snapshot_file_download(request, ws: str, snapshot_id: str, path: str):
    handle, entry = snapshots.snapshot_file_open(
        snapshot=_readable(request, ws, snapshot_id), path=path
    )
    return FileResponse(handle, as_attachment=True, filename=PurePosixPath(entry["path"]).name)


@router.get("/workspaces/{ws}/snapshots/{snapshot_id}/zip")
def snapshot_zip_download(request, ws: str, snapshot_id: str):
    snapshot = _readable(request, ws, snapshot_id)
    archive = snapshots.snapshot_zip_build(snapshot=snapshot)
    return FileResponse(archive, as_attachment=True, filename=f"snapshot-{snapshot.id}.zip")
