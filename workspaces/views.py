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


@require_GET
def home(request):
    memberships = selectors.memberships_for_user(user=request.user)
    return render(request, "workspaces/home.html", {"memberships": memberships})


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
        },
    )


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
