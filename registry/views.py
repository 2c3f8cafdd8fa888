"""The studio's model pages: the Models list, a model version's page, the run page's list of
models registered from the run, and the Register model form of a run's Outputs tab."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mlstudio.errors import UserError
from registry import selectors, services
from runs.selectors import run_get_for_user
from workspaces.models import Role
from workspaces.selectors import workspace_get_for_user


@require_GET
def model_list(request, name: str):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    query = request.GET.get("q", "").strip()
    rows = selectors.registered_models_table(workspace=workspace, query=query)
    return render(
        request,
        "registry/models.html",
        {"workspace": workspace, "membership": membership, "rows": rows, "q": query},
    )


@require_GET
def model_detail(request, name: str, model: str, version: int | None = None):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    found = selectors.model_version_get(workspace=workspace, name=model, version=version)
    return render(
        request,
        "registry/model.html",
        {
            "workspace": workspace,
            "membership": membership,
            "version": found,
            "versions": selectors.model_versions_of(model=found.model),
            "metrics": selectors.model_run_metrics(version=found),
            "can_delete": membership.allows(Role.OWNER),
            "api": f"/api/workspaces/{workspace.name}/models/{found.model.name}"
            f"/versions/{found.version}",
        },
    )


@require_GET
def run_models(request, name: str, run_id: str):
    """The fragment the run page shows: the models registered from this run."""
    run = run_get_for_user(user=request.user, workspace_name=name, run_id=run_id)
    versions = selectors.model_versions_of_run(run=run)
    return render(request, "registry/_run_models.html", {"versions": versions, "ws": name})


@require_POST
def register_from_run(request, name: str, run_id: str):
    """The Register model button of a run's Outputs tab."""
    run = run_get_for_user(
        user=request.user, workspace_name=name, run_id=run_id, min_role=Role.CONTRIBUTOR
    )
    try:
        version = services.model_register_from_run(
            run=run,
            user=request.user,
            name=request.POST.get("model_name", "").strip(),
            model_path=request.POST.get("model_path", ""),
            description=request.POST.get("description", ""),
        )
    except UserError as exc:
        messages.error(request, exc.message)
        return redirect(f"/w/{name}/runs/{run.pk}/#outputs")
    messages.success(request, f"Registered model {version.model.name} version {version.version}.")
    return redirect("model-version", name, version.model.name, version.version)


@require_POST
def version_delete(request, name: str, model: str, version: int):
    """Delete of a model page: owners only, once the version's id is typed to confirm."""
    workspace, _ = workspace_get_for_user(user=request.user, name=name, min_role=Role.OWNER)
    found = selectors.model_version_get(workspace=workspace, name=model, version=version)
    if request.POST.get("confirm", "").strip() != found.v1_id:
        messages.error(request, f"Type {found.v1_id} to confirm the delete; nothing was deleted.")
        return redirect("model-version", name, model, version)
    services.model_version_delete(version=found)
    messages.success(request, f"Deleted model {found.v1_id}; files other models or runs use stay.")
    if selectors.models_list(workspace=workspace, name=model):
        return redirect("model", name, model)
    return redirect("models", name)
