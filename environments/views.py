"""Studio pages for environments: the list with a registration form, and one environment's
versions, spec, Dockerfile and last build log. The registry password is never rendered."""

from __future__ import annotations

import shlex

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from environments import builders, presenters, selectors, services
from environments import spec as specs
from mlstudio.errors import NotFound, UserError
from workspaces.models import Role
from workspaces.selectors import workspace_get_for_user


@require_http_methods(["GET", "POST"])
def environment_list(request, name: str):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    form = request.POST if request.method == "POST" else _prefilled(request, workspace)
    if request.method == "POST":
        registered = _register(request, workspace, membership, form)
        if registered is not None:
            return redirect("environment", workspace.name, registered.name)
    latest = selectors.environments_latest(workspace=workspace)
    return render(
        request,
        "environments/list.html",
        {"workspace": workspace, "membership": membership, "environments": latest.values(),
         "form": form, "can_register": membership.allows(Role.CONTRIBUTOR)},
    )  # fmt: skip


def _prefilled(request, workspace) -> dict:
    """The form for `?from=<name>:<version>&add_pip=<package>`, where a failed run's hint
    links: that version's spec with the package added (so MLStudio installs it; a curated
    one becomes a copy under your own name), or a new environment with just the package."""
    form = {}
    if source := request.GET.get("from"):
        env, _, number = source.partition(":")
        try:
            version = selectors.environment_version_get(
                workspace=workspace, name=env, version=number or None
            )
        except NotFound as exc:
            messages.error(request, exc.message)
        else:
            form = _form_from(version)
            if version.environment.is_curated:
                curated = version.environment.name.removeprefix(specs.RESERVED_PREFIX)
                form["name"] = f"my-{curated.lower()}"
    if package := request.GET.get("add_pip", "").strip():
        lines = form.get("pip_requirements", "").splitlines()
        if package not in lines:
            lines.append(package)
        form["pip_requirements"] = "\n".join(lines)
        form["user_managed"] = False
    return form


@require_http_methods(["GET", "POST"])
def environment_detail(request, name: str, env: str):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    form = None
    if request.method == "POST":
        form = request.POST
        registered = _register(request, workspace, membership, form)
        if registered is not None:
            return redirect("environment", workspace.name, registered.name)
    versions = list(selectors.environment_versions(workspace=workspace, name=env))
    chosen = selectors.environment_version_get(
        workspace=workspace, name=env, version=request.GET.get("version")
    )
    log_text, log_offset = builders.build_log_read(chosen.content_hash, 0)
    return render(
        request,
        "environments/detail.html",
        {"workspace": workspace, "membership": membership, "versions": versions,
         "version": chosen, "spec": chosen.spec, "kind": chosen.kind,
         "pip_packages": specs.pip_lines(chosen.spec),
         "dockerfile": specs.dockerfile_for(chosen.spec), "log_text": log_text,
         "log_offset": log_offset, "form": form or _form_from(chosen),
         "can_register": membership.allows(Role.CONTRIBUTOR)
         and not chosen.environment.is_curated,
         "api": f"/api/workspaces/{workspace.name}/environments/{env}/versions/{chosen.version}",
         "details": presenters.version_summary(chosen)},
    )  # fmt: skip


def _register(request, workspace, membership, form):
    if not membership.allows(Role.CONTRIBUTOR):
        messages.error(request, "Registering environments needs the contributor role or higher.")
        return None
    try:
        version, created = services.environment_register(
            workspace=workspace, spec=spec_from_form(form), user=request.user
        )
    except UserError as exc:
        messages.error(request, exc.message)
        return None
    if created:
        messages.success(request, f"Registered {version.name} version {version.version}.")
    else:
        messages.info(
            request, f"Nothing changed: {version.name} is still version {version.version}."
        )
    return version


def spec_from_form(form) -> dict:
    """The studio form's fields as the spec the SDK would send."""
    password = form.get("registry_password") or None
    if form.get("registry_password_clear"):
        password = ""
    return {
        "name": form.get("name", "").strip(),
        "python": {
            "user_managed_dependencies": bool(form.get("user_managed")),
            "interpreter_path": form.get("interpreter_path", "").strip() or None,
            "pip_requirements": form.get("pip_requirements", ""),
            "conda_dependencies": {
                "conda_packages": form.get("conda_packages", "").split(),
            },
        },
        "docker": {
            "enabled": bool(form.get("docker_enabled")),
            "base_image": form.get("base_image", "").strip() or None,
            "base_dockerfile": form.get("base_dockerfile", "").strip() or None,
            "base_image_registry": {
                "address": form.get("registry_address", "").strip() or None,
                "username": form.get("registry_username", "").strip() or None,
                "password": password,
            },
            "shm_size": form.get("shm_size", "").strip() or None,
            "arguments": _arguments(form.get("docker_arguments", "")),
        },
        "environment_variables": _variables(form.get("environment_variables", "")),
    }


def _form_from(version) -> dict:
    """A new-version form filled in from a version (never with its password)."""
    spec = version.spec
    python, docker = spec["python"], spec["docker"]
    registry = docker["base_image_registry"]
    return {
        "name": spec["name"],
        "user_managed": python["user_managed_dependencies"],
        "interpreter_path": python["interpreter_path"] or "",
        "pip_requirements": specs.requirements_text(spec),
        "conda_packages": " ".join(python["conda_dependencies"]["conda_packages"]),
        "docker_enabled": docker["enabled"],
        "base_image": docker["base_image"] or "",
        "base_dockerfile": docker["base_dockerfile"] or "",
        "registry_address": registry["address"] or "",
        "registry_username": registry["username"] or "",
        "shm_size": docker["shm_size"] or "",
        "docker_arguments": shlex.join(docker["arguments"]),
        "environment_variables": "\n".join(
            f"{k}={v}" for k, v in spec["environment_variables"].items()
        ),
    }


def _arguments(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UserError(f"Cannot split the docker arguments {text!r}: {exc}.") from None


def _variables(text: str) -> dict[str, str]:
    out = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise UserError(
                f"Environment variables line {number} ({line.strip()!r}) is not NAME=value."
            )
        out[key.strip()] = value
    return out
