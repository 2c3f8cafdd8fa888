"""Model registry routes. Readers read, contributors register and change, owners delete; the
rules are in registry/services.py and registry/selectors.py.

Upload, as for snapshots: POST model-blobs/negotiate, PUT model-blobs/<sha256> for each missing
body, then POST models with the manifest. From a run: POST runs/<id>/register_model.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Query, Router, Schema, Status

from mlstudio.schemas import VersionOut
from registry import selectors, services
from registry.models import ModelVersion
from runs.selectors import run_get_for_user
from runs.snapshot_api import BLOB_PUT, ManifestEntry, NegotiateOut, blob_stored
from workspaces.auth import request_token, workspace_for
from workspaces.models import Role

router = Router(tags=["models"])
DOWNLOAD_BLOCK = 1024 * 1024


class ModelOut(VersionOut):
    description: str
    tags: dict[str, str]
    properties: dict[str, str]
    framework: str | None
    frameworkVersion: str | None
    createdTime: datetime
    createdBy: str | None
    runId: str | None
    experimentName: str | None
    url: str
    aliases: list[str]
    root: str
    fileCount: int
    totalSize: int
    files: list[ManifestEntry]
    lineage: dict[str, Any]
    datasets: list[Any]
    mimeType: str
    unpack: bool


class RegisterFields(Schema):
    tags: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    description: str | None = None
    model_framework: str | None = None
    model_framework_version: str | None = None
    datasets: list[Any] | None = None


class RegisterIn(RegisterFields):
    model_name: str
    root: str
    files: list[ManifestEntry]
    run_id: str | None = None


class RegisterFromRunIn(RegisterFields):
    model_name: str
    model_path: str | None = None


class NegotiateModelIn(Schema):
    files: list[ManifestEntry]


class UpdateIn(Schema):
    description: str | None = None
    add_tags: dict[str, Any] | None = None
    remove_tags: list[str] | None = None
    add_properties: dict[str, Any] | None = None


class AliasIn(Schema):
    version: int


class ListQuery(Schema):
    name: str | None = None
    tag: list[str] | None = None
    property: list[str] | None = None
    run_id: str | None = None
    framework: str | None = None
    latest: bool = False


class OneQuery(Schema):
    version: str | None = None
    alias: str | None = None


def _version(request, ws: str, name: str, version: str, role: str = Role.READER) -> ModelVersion:
    return selectors.model_version_get(
        workspace=workspace_for(request, ws, role), name=name, version=version
    )


def model_out(request: HttpRequest, version: ModelVersion) -> dict:
    """A version in the shape of v1's Model.serialize() (camelCase), plus files and aliases."""
    workspace = version.model.workspace.name
    page = f"/w/{workspace}/models/{version.model.name}/{version.version}/"
    return {
        "id": version.v1_id,
        "name": version.model.name,
        "version": version.version,
        "description": version.description,
        "tags": version.tags,
        "properties": version.properties,
        "framework": version.framework or None,
        "frameworkVersion": version.framework_version or None,
        "createdTime": version.created_at,
        "createdBy": version.created_by.get_username() if version.created_by else None,
        "runId": version.run_id_text or None,
        "experimentName": version.experiment_name or None,
        "url": request.build_absolute_uri(page),
        "aliases": [a.alias for a in version.aliases.all()],
        "root": version.root,
        "fileCount": version.file_count,
        "totalSize": version.total_size,
        "files": version.manifest,
        "lineage": version.lineage,
        "datasets": version.lineage.get("datasets", []),
        "mimeType": "application/octet-stream",
        "unpack": False,
    }


def _fields(payload: RegisterFields) -> dict:
    return {
        "tags": payload.tags,
        "properties": payload.properties,
        "description": payload.description,
        "framework": payload.model_framework or "",
        "framework_version": payload.model_framework_version or "",
        "datasets": payload.datasets,
    }


@router.get("/workspaces/{ws}/models", response=list[ModelOut])
def model_list(request, ws: str, query: Query[ListQuery]):
    """Model.list(): `tag` and `property` repeat, each `key` or `key=value`."""
    versions = selectors.models_list(
        workspace=workspace_for(request, ws), name=query.name, tags=query.tag,
        properties=query.property, run_id=query.run_id, framework=query.framework,
        latest=query.latest,
    )  # fmt: skip
    return [model_out(request, v) for v in versions]


@router.post("/workspaces/{ws}/model-blobs/negotiate", response=NegotiateOut)
def model_blobs_negotiate(request, ws: str, payload: NegotiateModelIn):
    missing = services.model_blobs_missing(
        workspace=workspace_for(request, ws, Role.CONTRIBUTOR),
        files=[f.model_dump() for f in payload.files],
    )
    return {"missing": missing}


@router.put("/workspaces/{ws}/model-blobs/{sha256}", **BLOB_PUT)
def model_blob_put(request, ws: str, sha256: str):
    return blob_stored(
        services.model_blob_store,
        request=request,
        workspace=workspace_for(request, ws, Role.CONTRIBUTOR),
        sha256=sha256,
    )


@router.post("/workspaces/{ws}/models", response={201: ModelOut})
def model_register(request, ws: str, payload: RegisterIn):
    """Model.register(): the manifest of blobs uploaded through model-blobs."""
    workspace = workspace_for(request, ws, Role.CONTRIBUTOR)
    run = None
    if payload.run_id:
        run = run_get_for_user(
            user=request.user, workspace_name=ws, run_id=payload.run_id,
            min_role=Role.CONTRIBUTOR, token=request_token(request),
        )  # fmt: skip
    version = services.model_register(
        workspace=workspace, user=request.user, name=payload.model_name, root=payload.root,
        files=[f.model_dump() for f in payload.files], run=run, **_fields(payload),
    )  # fmt: skip
    return Status(201, model_out(request, version))


@router.post("/workspaces/{ws}/runs/{run_id}/register_model", response={201: ModelOut})
def model_register_from_run(request, ws: str, run_id: str, payload: RegisterFromRunIn):
    """run.register_model(): a file or folder among the run's files, without a copy."""
    run = run_get_for_user(
        user=request.user, workspace_name=ws, run_id=run_id, min_role=Role.CONTRIBUTOR,
        token=request_token(request),
    )  # fmt: skip
    version = services.model_register_from_run(
        run=run, user=request.user, name=payload.model_name, model_path=payload.model_path,
        **_fields(payload),
    )  # fmt: skip
    return Status(201, model_out(request, version))


@router.get("/workspaces/{ws}/runs/{run_id}/models", response=list[ModelOut])
def models_of_run(request, ws: str, run_id: str):
    run = run_get_for_user(
        user=request.user, workspace_name=ws, run_id=run_id, token=request_token(request)
    )
    return [model_out(request, v) for v in selectors.model_versions_of_run(run=run)]


@router.get("/workspaces/{ws}/models/{name}", response=ModelOut)
def model_detail(request, ws: str, name: str, query: Query[OneQuery]):
    """One version: `version` (a number), `alias`, or else the latest."""
    version = selectors.model_version_get(
        workspace=workspace_for(request, ws), name=name, version=query.version, alias=query.alias
    )
    return model_out(request, version)


@router.patch("/workspaces/{ws}/models/{name}/versions/{version}", response=ModelOut)
def model_update(request, ws: str, name: str, version: str, payload: UpdateIn):
    found = _version(request, ws, name, version, Role.CONTRIBUTOR)
    updated = services.model_version_update(version=found, **payload.model_dump())
    return model_out(request, updated)


@router.delete("/workspaces/{ws}/models/{name}/versions/{version}", response={204: None})
def model_delete(request, ws: str, name: str, version: str):
    services.model_version_delete(version=_version(request, ws, name, version, Role.OWNER))
    return Status(204, None)


@router.put("/workspaces/{ws}/models/{name}/aliases/{alias}", response=ModelOut)
def model_alias_set(request, ws: str, name: str, alias: str, payload: AliasIn):
    found = _version(request, ws, name, str(payload.version), Role.CONTRIBUTOR)
    services.model_alias_set(version=found, alias=alias)
    moved = selectors.model_version_get(
        workspace=found.model.workspace, name=name, version=found.version
    )
    return model_out(request, moved)


@router.delete("/workspaces/{ws}/models/{name}/aliases/{alias}", response={204: None})
def model_alias_delete(request, ws: str, name: str, alias: str):
    found = _version(request, ws, name, "latest", Role.CONTRIBUTOR)
    services.model_alias_delete(model=found.model, alias=alias)
    return Status(204, None)


@router.get("/workspaces/{ws}/models/{name}/versions/{version}/files/{path:path}")
def model_file_download(request, ws: str, name: str, version: str, path: str):
    handle, entry = selectors.model_file_open(
        version=_version(request, ws, name, version), path=path
    )
    response = FileResponse(handle, as_attachment=True, filename=PurePosixPath(entry["path"]).name)
    response.block_size = DOWNLOAD_BLOCK  # Django's 4 KiB pieces cap a large file's throughput
    return response


@router.get("/workspaces/{ws}/models/{name}/versions/{version}/zip")
def model_zip_download(request, ws: str, name: str, version: str):
    found = _version(request, ws, name, version)
    archive = selectors.model_zip_build(version=found)
    return FileResponse(archive, as_attachment=True, filename=f"{name}-{found.version}.zip")
