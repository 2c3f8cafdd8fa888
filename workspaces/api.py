from datetime import datetime

from ninja import Router, Schema, Status

from workspaces import selectors, services
from workspaces.auth import request_token
from workspaces.models import Role

router = Router(tags=["workspaces"])


class WorkspaceOut(Schema):
    name: str
    description: str
    role: str
    created_at: datetime


class WorkspaceIn(Schema):
    name: str
    description: str = ""


class MemberOut(Schema):
    username: str
    role: str


class RoleIn(Schema):
    role: str


class MeOut(Schema):
    username: str
    token_workspace: str | None
    workspaces: list[str]


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    workspace: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


def _workspace_out(workspace, membership) -> dict:
    return {
        "name": workspace.name,
        "description": workspace.description,
        "role": membership.role,
        "created_at": workspace.created_at,
    }


@router.get("/me", response=MeOut)
def me(request):
    token = request_token(request)
    memberships = selectors.memberships_for_user(user=request.user, token=token)
    return {
        "username": request.user.get_username(),
        "token_workspace": token.workspace.name if token and token.workspace else None,
        "workspaces": [m.workspace.name for m in memberships],
    }


@router.get("/workspaces", response=list[WorkspaceOut])
def workspace_list(request):
    memberships = selectors.memberships_for_user(user=request.user, token=request_token(request))
    return [_workspace_out(m.workspace, m) for m in memberships]


@router.post("/workspaces", response={201: WorkspaceOut})
def workspace_create(request, payload: WorkspaceIn):
    workspace = services.workspace_create(
        name=payload.name, owner=request.user, description=payload.description
    )
    _, membership = selectors.workspace_get_for_user(user=request.user, name=workspace.name)
    return Status(201, _workspace_out(workspace, membership))


@router.get("/workspaces/{name}", response=WorkspaceOut)
def workspace_detail(request, name: str):
    return _workspace_out(
        *selectors.workspace_get_for_user(
            user=request.user, name=name, token=request_token(request)
        )
    )


@router.get("/workspaces/{name}/members", response=list[MemberOut])
def member_list(request, name: str):
    workspace, _ = selectors.workspace_get_for_user(
        user=request.user, name=name, token=request_token(request)
    )
    return [
        {"username": m.user.get_username(), "role": m.role}
        for m in selectors.memberships_of(workspace=workspace)
    ]


@router.put("/workspaces/{name}/members/{username}", response=MemberOut)
def member_set(request, name: str, username: str, payload: RoleIn):
    workspace, _ = selectors.workspace_get_for_user(
        user=request.user, name=name, min_role=Role.OWNER, token=request_token(request)
    )
    membership = services.membership_set(
        workspace=workspace, actor=request.user, username=username, role=payload.role
    )
    return {"username": membership.user.get_username(), "role": membership.role}


@router.delete("/workspaces/{name}/members/{username}", response={204: None})
def member_remove(request, name: str, username: str):
    workspace, _ = selectors.workspace_get_for_user(
        user=request.user, name=name, min_role=Role.OWNER, token=request_token(request)
    )
    services.membership_remove(workspace=workspace, actor=request.user, username=username)
    return Status(204, None)


@router.get("/tokens", response=list[TokenOut])
def token_list(request):
    return [
        {
            "id": t.pk,
            "name": t.name,
            "prefix": t.prefix,
            "workspace": t.workspace.name if t.workspace else None,
            "created_at": t.created_at,
            "last_used_at": t.last_used_at,
            "revoked": not t.is_active,
        }
        for t in selectors.api_tokens_of(user=request.user)
    ]


@router.delete("/tokens/{token_id}", response={204: None})
def token_revoke(request, token_id: int):
    services.api_token_revoke(user=request.user, token_id=token_id)
    return Status(204, None)
