import json

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mlstudio.errors import UserError
from mlstudio.urls_public import public_base_url
from workspaces import selectors, services
from workspaces.models import Role


@require_GET
def home(request):
    memberships = selectors.memberships_for_user(user=request.user)
    try:
        services.workspace_creation_check(user=request.user)
        may_create = True
    except UserError:
        may_create = False  # the policy (MLSTUDIO_WORKSPACE_CREATORS) leaves the form out
    return render(
        request, "workspaces/home.html", {"memberships": memberships, "may_create": may_create}
    )


@require_GET
def workspace_detail(request, name: str):
    workspace, membership = selectors.workspace_get_for_user(user=request.user, name=name)
    return render(
        request,
        "workspaces/detail.html",
        {
            "workspace": workspace,
            "membership": membership,
            "members": selectors.memberships_of(workspace=workspace),
            "roles": Role.choices,
            "is_owner": membership.allows(Role.OWNER),
        },
    )


@require_POST
def workspace_members(request, name: str):
    """Owners add a member by username, change a role, or remove a member."""
    workspace, _ = selectors.workspace_get_for_user(user=request.user, name=name)
    username = request.POST.get("username", "").strip()
    try:
        if request.POST.get("action") == "remove":
            services.membership_remove(workspace=workspace, actor=request.user, username=username)
            messages.success(request, f"{username} is no longer a member of {workspace.name}.")
        else:
            role = request.POST.get("role", "")
            services.membership_set(
                workspace=workspace, actor=request.user, username=username, role=role
            )
            messages.success(request, f"{username} is now {role} of {workspace.name}.")
    except UserError as exc:
        messages.error(request, exc.message)
    return redirect("workspace-settings", workspace.name)


@require_POST
def workspace_new(request):
    """Create a workspace owned by its creator, through the service that holds the policy."""
    name = request.POST.get("name", "").strip()
    try:
        workspace = services.workspace_create(
            name=name, owner=request.user, description=request.POST.get("description", "").strip()
        )
    except UserError as exc:
        messages.error(request, exc.message)
        return redirect("home")
    messages.success(request, f"Workspace {workspace.name} is created; you are its owner.")
    return redirect("workspace", workspace.name)


@require_POST
def workspace_config(request, name: str):
    """Download config.json for `Workspace.from_config()`, with a fresh workspace-scoped token."""
    workspace, _ = selectors.workspace_get_for_user(user=request.user, name=name)
    _, raw = services.api_token_create(
        user=request.user, name=f"config.json for {workspace.name}", workspace_name=workspace.name
    )
    body = {"url": public_base_url(request), "workspace_name": workspace.name, "token": raw}
    response = HttpResponse(json.dumps(body, indent=2) + "\n", content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="config.json"'
    response["Cache-Control"] = "no-store"
    return response


def tokens(request):
    new_token = None
    if request.method == "POST":
        try:
            _, new_token = services.api_token_create(
                user=request.user,
                name=request.POST.get("name", ""),
                workspace_name=request.POST.get("workspace") or None,
            )
        except UserError as exc:
            messages.error(request, exc.message)
    context = {
        "tokens": selectors.api_tokens_of(user=request.user),
        "memberships": selectors.memberships_for_user(user=request.user),
        "new_token": new_token,
    }
    response = render(request, "workspaces/tokens.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request, token_id: int):
    token = services.api_token_revoke(user=request.user, token_id=token_id)
    messages.success(request, f"Token “{token.name}” is revoked; it no longer works.")
    return redirect("tokens")


@login_not_required
@require_GET
def login_link(request, token: str):
    try:
        user = services.login_link_consume(raw=token)
    except UserError as exc:
        return render(
            request, "registration/login_link_invalid.html", {"error": exc.message}, status=400
        )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("home")
