"""Writes for workspaces, memberships, API tokens and login links."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from mlstudio.errors import Conflict, Forbidden, NotFound, Unauthorized, UserError
from workspaces.models import ApiToken, LoginLink, Membership, Role, Workspace, name_validator
from workspaces.selectors import workspace_get_for_user

User = get_user_model()
TOKEN_PREFIX = "mls_"  # noqa: S105 - a marker, not a secret
DEFAULT_WORKSPACE = "default"
ADMIN_USERNAME = "admin"
# Writing last_used_at on every request would turn each read into a write.
TOKEN_TOUCH_SECONDS = 60


def digest(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is safe: nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


def workspace_create(*, name: str, owner, description: str = "") -> Workspace:
    """A new workspace owned by `owner`, if MLSTUDIO_WORKSPACE_CREATORS lets them create one."""
    workspace_creation_check(user=owner)
    try:
        name_validator(name)
    except ValidationError as exc:
        raise UserError(f"Invalid workspace name {name!r}: {exc.messages[0]}") from None
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(name=name, description=description)
            Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    except IntegrityError:
        raise Conflict(f"A workspace named {name!r} already exists; choose another name.") from None
    return workspace


def workspace_creation_check(*, user) -> None:
    """Refuse a user the policy does not let create workspaces: `staff` (the default) lets
    only staff members, `everyone` any signed-in account."""
    policy = settings.MLSTUDIO_WORKSPACE_CREATORS
    if policy == "EVERYONE" or user.is_staff or user.is_superuser:
        return
    raise Forbidden(
        "Only staff members may create workspaces here (MLSTUDIO_WORKSPACE_CREATORS=staff): "
        "ask a staff member to create it and make you its owner."
    )


def membership_set(*, workspace: Workspace, actor, username: str, role: str) -> Membership:
    """Add a member or change their role; only owners may do it."""
    workspace_get_for_user(user=actor, name=workspace.name, min_role=Role.OWNER)
    if role not in Role.values:
        raise UserError(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    user = User.objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"No user named {username!r}; create the user first (Django admin).")
    if role != Role.OWNER:
        _refuse_removing_last_owner(workspace, username)
    membership, _ = Membership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    return membership


def membership_remove(*, workspace: Workspace, actor, username: str) -> None:
    workspace_get_for_user(user=actor, name=workspace.name, min_role=Role.OWNER)
    membership = Membership.objects.filter(workspace=workspace, user__username=username).first()
    if membership is None:
        raise NotFound(f"{username!r} is not a member of workspace {workspace.name!r}.")
    _refuse_removing_last_owner(workspace, username)
    membership.delete()


def _refuse_removing_last_owner(workspace: Workspace, username: str) -> None:
    owners = workspace.memberships.filter(role=Role.OWNER)
    if not owners.exclude(user__username=username).exists():
        raise Forbidden(
            f"{username!r} is the last owner of {workspace.name!r}; make someone else owner first."
        )


def api_token_create(
    *, user, name: str, workspace_name: str | None = None, for_run: bool = False
) -> tuple[ApiToken, str]:
    """Create a token and return it with its raw value, which is never stored or shown again.
    A run's token (`for_run`) is the studio's, not the user's: their tokens page leaves it out."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise UserError("Give the token a name of 1 to 100 characters, e.g. 'laptop SDK'.")
    workspace = None
    if workspace_name:
        workspace, _ = workspace_get_for_user(user=user, name=workspace_name)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, workspace=workspace, name=name, prefix=raw[:10], digest=digest(raw),
        for_run=for_run,
    )  # fmt: skip
    return token, raw


def api_token_revoke(*, user, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound(f"You have no API token with id {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_tokens_revoke(*, tokens: list[int | None]) -> int:
    """Revoke tokens by id, whoever owns them: for the studio itself, e.g. the token of a run
    whose worker was lost."""
    ids = [pk for pk in tokens if pk is not None]
    return ApiToken.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def api_token_authenticate(*, raw: str) -> ApiToken:
    token = (
        ApiToken.objects.select_related("user", "workspace")
        .filter(digest=digest(raw.strip()), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        raise Unauthorized(
            "The API token was refused: it is wrong or revoked. Create a new one on the Tokens "
            "page or with `python manage.py api_token <username>`."
        )
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(
        seconds=TOKEN_TOUCH_SECONDS
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def login_link_create(*, user) -> str:
    raw = secrets.token_urlsafe(32)
    LoginLink.objects.create(
        user=user,
        digest=digest(raw),
        expires_at=timezone.now() + timedelta(seconds=settings.MLSTUDIO_LOGIN_LINK_SECONDS),
    )
    return raw


def login_link_consume(*, raw: str):
    """Return the link's user, once: a conditional UPDATE makes a second use fail."""
    now = timezone.now()
    claimed = LoginLink.objects.filter(
        digest=digest(raw), used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not claimed:
        raise UserError(
            "This login link is invalid, expired or already used. "
            "Get a new one with `python manage.py login_link <username>`."
        )
    return LoginLink.objects.select_related("user").get(digest=digest(raw)).user


def login_links_purge() -> int:
    deleted, _ = LoginLink.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


def studio_bootstrap() -> tuple[Workspace, object, bool]:
    """Make sure the `default` workspace and the `admin` user exist; True when just created.

    The admin gets no password: they sign in through a one-time link and may set one later.
    """
    with transaction.atomic():
        admin, created_user = User.objects.get_or_create(
            username=ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created_user:
            admin.set_unusable_password()
            admin.save(update_fields=["password"])
        workspace, created_ws = Workspace.objects.get_or_create(name=DEFAULT_WORKSPACE)
        if created_ws:
            Membership.objects.create(workspace=workspace, user=admin, role=Role.OWNER)
    return workspace, admin, created_user or created_ws
