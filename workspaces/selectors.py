"""Reads for workspaces: every lookup is also the access check."""

from __future__ import annotations

from django.db.models import QuerySet

from mlstudio.errors import Forbidden, NotFound
from workspaces.models import ApiToken, Membership, Role, Workspace


def memberships_for_user(*, user, token: ApiToken | None = None) -> QuerySet[Membership]:
    """The user's memberships, narrowed to the token's workspace when the token is scoped."""
    memberships = Membership.objects.filter(user=user).select_related("workspace")
    if token is not None and token.workspace_id is not None:
        memberships = memberships.filter(workspace_id=token.workspace_id)
    return memberships.order_by("workspace__name")


def workspace_get_for_user(
    *, user, name: str, min_role: str = Role.READER, token: ApiToken | None = None
) -> tuple[Workspace, Membership]:
    """The workspace and the user's membership, or NotFound when they are not a member.

    Non-members get the same answer as for a missing workspace, so names don't leak.
    """
    membership = (
        Membership.objects.select_related("workspace")
        .filter(workspace__name=name, user=user)
        .first()
        if user is not None and user.is_authenticated
        else None
    )
    scoped_out = (
        membership is not None
        and token is not None
        and token.workspace_id not in (None, membership.workspace_id)
    )
    if membership is None or scoped_out:
        raise NotFound(
            f"Workspace {name!r} was not found, or you are not a member of it. "
            "Check the name, or ask one of its owners to add you."
        )
    if not membership.allows(min_role):
        needed = Role(min_role).label.lower()
        raise Forbidden(
            f"Your role in {name!r} is {membership.role}; this needs {needed} or higher. "
            "Ask a workspace owner to change your role."
        )
    return membership.workspace, membership


def memberships_of(*, workspace: Workspace) -> QuerySet[Membership]:
    return workspace.memberships.select_related("user").order_by("user__username")


def api_tokens_of(*, user) -> QuerySet[ApiToken]:
    """The tokens the user made; runs' own tokens belong to their runs."""
    return ApiToken.objects.filter(user=user, for_run=False).select_related("workspace")
