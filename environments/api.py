"""Environment routes. A registry password goes in with a registration and never comes out:
answers say only whether one is set."""

from __future__ import annotations

from typing import Any

from ninja import Body, Router, Status

from environments import builders, presenters, selectors, services
from environments import spec as specs
from workspaces.auth import workspace_for
from workspaces.models import Role

router = Router(tags=["environments"])


@router.post("/workspaces/{ws}/environments", response={200: dict, 201: dict})
def environment_register(request, ws: str, payload: dict[str, Any] = Body(...)):  # noqa: B008
    """Register the spec (what the SDK's Environment.to_dict() sends) as the next version, or
    get the existing version when nothing changed ("created": false)."""
    workspace = workspace_for(request, ws, Role.CONTRIBUTOR)
    warnings = specs.normalize(payload).warnings
    version, created = services.environment_register(
        workspace=workspace, spec=payload, user=request.user
    )
    body = {**presenters.version_details(version), "created": created, "warnings": warnings}
    return Status(201 if created else 200, body)


@router.get("/workspaces/{ws}/environments")
def environment_list(request, ws: str):
    """Name → latest version with its spec, curated environments included."""
    latest = selectors.environments_latest(workspace=workspace_for(request, ws))
    return {
        name: {**presenters.version_summary(v), "spec": presenters.public_spec(v)}
        for name, v in latest.items()
    }


@router.get("/workspaces/{ws}/environments/{name}")
def environment_versions(request, ws: str, name: str):
    versions = selectors.environment_versions(workspace=workspace_for(request, ws), name=name)
    return {"name": name, "versions": [presenters.version_summary(v) for v in versions]}


@router.get("/workspaces/{ws}/environments/{name}/versions/{version}")
def environment_version(request, ws: str, name: str, version: str):
    found = selectors.environment_version_get(
        workspace=workspace_for(request, ws), name=name, version=version
    )
    return presenters.version_details(found)


@router.get("/workspaces/{ws}/environments/{name}/versions/{version}/log")
def environment_build_log(request, ws: str, name: str, version: str, offset: int = 0):
    """The last build log of this version's content hash from `offset`; poll with the
    returned offset while build_status is Building."""
    found = selectors.environment_version_get(
        workspace=workspace_for(request, ws), name=name, version=version
    )
    text, next_offset = builders.build_log_read(found.content_hash, offset)
    return {"text": text, "offset": next_offset, "build_status": found.build_status}
