from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from compute import selectors, services
from compute.models import TargetType
from mlstudio.errors import UserError
from workspaces.models import Role
from workspaces.selectors import workspace_get_for_user

FORM_FIELDS = ("name", "type", "vm_size", "min_nodes", "max_nodes", "idle_seconds", "docker_host")


@require_http_methods(["GET", "POST"])
def compute_page(request, name: str):
    """The workspace's targets and nodes, live; contributors register targets here."""
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    form = {"type": TargetType.CLUSTER, "min_nodes": "0", "max_nodes": "4", "idle_seconds": "1800"}
    status = 200
    if request.method == "POST":
        form = {field: request.POST.get(field, "").strip() for field in FORM_FIELDS}
        try:
            workspace_get_for_user(user=request.user, name=name, min_role=Role.CONTRIBUTOR)
            target = services.target_create(workspace=workspace, user=request.user, **_values(form))
        except UserError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, f"Compute target “{target.name}” is registered.")
            return redirect("compute", name=workspace.name)
    context = {
        "workspace": workspace,
        "membership": membership,
        "can_edit": membership.allows(Role.CONTRIBUTOR),
        "targets": selectors.targets_with_status(workspace=workspace),
        "nodes": selectors.workspace_nodes(workspace=workspace),
        "form": form,
        "types": [TargetType.CLUSTER, TargetType.DOCKER],
        "page_data": {
            "targets": f"/api/workspaces/{workspace.name}/compute",
            "nodes": f"/api/workspaces/{workspace.name}/nodes",
        },
    }
    return render(request, "compute/targets.html", context, status=status)


def status_context(*, workspace) -> dict:
    """What templates/compute/_status.html needs, for another page that includes it."""
    return {"compute_targets": selectors.targets_with_status(workspace=workspace)}


def _values(form: dict) -> dict:
    values = {"name": form["name"], "type": form["type"], "vm_size": form["vm_size"]}
    if form["type"] == TargetType.DOCKER:
        values["docker_host"] = form["docker_host"]
        values["max_nodes"] = _number(form["max_nodes"], "Runs at once")
        return values
    values["min_nodes"] = _number(form["min_nodes"], "Min nodes")
    values["max_nodes"] = _number(form["max_nodes"], "Max nodes")
    values["idle_seconds_before_scaledown"] = _number(form["idle_seconds"], "Idle seconds")
    return values


def _number(raw: str, label: str) -> int | None:
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"{label} must be a whole number, not {raw!r}.") from None


@require_POST
def target_delete(request, name: str, target: str):
    workspace, _ = workspace_get_for_user(user=request.user, name=name)
    try:
        workspace_get_for_user(user=request.user, name=name, min_role=Role.CONTRIBUTOR)
        found = selectors.target_get(workspace=workspace, name=target)
        services.target_delete(target=found)
    except UserError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Compute target “{target}” is deleted.")
    return redirect("compute", name=workspace.name)
