"""The studio's Data pages: datastores (a file browser and a folder upload) and datasets
(versions, tags, files, the runs that read them, a preview of the first 100 rows). Readers
read; the rules are in data/services.py and data/datasets.py. The run page lists a run's
datasets itself (data/selectors.py)."""

from __future__ import annotations

from django.shortcuts import render
from django.template.defaultfilters import filesizeformat, pluralize
from django.views.decorators.http import require_GET

from data import datasets, services
from data.models import DatasetVersion, Datastore
from mlstudio.errors import UserError
from workspaces.models import Role
from workspaces.selectors import workspace_get_for_user

BROWSE_LIMIT = 1000


@require_GET
def data_home(request, name: str):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    latest = {}
    for version in DatasetVersion.objects.select_related("dataset").filter(
        dataset__workspace=workspace
    ):
        latest.setdefault(version.dataset_id, version)
    return render(request, "data/index.html", {
        "workspace": workspace, "membership": membership,
        "datastores": services.datastores_list(workspace=workspace),
        "datasets": list(latest.values()),
    })  # fmt: skip


def _folders_and_files(listing: list[dict], prefix: str) -> tuple[list[tuple], list[dict]]:
    """One level of the tree under `prefix`: its sub-folders and its files."""
    folders, files = set(), []
    for entry in listing:
        rest = entry["path"][len(prefix) :]
        if "/" in rest:
            folders.add(prefix + rest.split("/", 1)[0] + "/")
        else:
            files.append(entry)
    return [(f, f[len(prefix) :]) for f in sorted(folders)], files[:BROWSE_LIMIT]


@require_GET
def datastore_browse(request, name: str, datastore: str):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    found = services.datastore_get(workspace=workspace, name=datastore)
    prefix = request.GET.get("prefix", "").lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    listing = services.datastore_files(datastore=found, prefix=prefix)
    folders, files = _folders_and_files(listing, prefix)
    parent = prefix.rstrip("/").rsplit("/", 1)[0] + "/" if "/" in prefix.rstrip("/") else ""
    return render(request, "data/datastore.html", {
        "workspace": workspace, "membership": membership, "datastore": found,
        "prefix": prefix, "parent": parent, "folders": folders, "files": files,
        "total": len(listing), "api": f"/api/workspaces/{workspace.name}/datastores/{found.name}",
        "can_upload": membership.role != Role.READER and found.kind == Datastore.Kind.BLOB,
        "uploaded": _upload_result(request.GET),
    })  # fmt: skip


def _upload_result(query) -> str:
    """The line the page shows after a browser upload (datastore_upload.js sends the counts)."""
    try:
        written, kept, sent = (int(query[k]) for k in ("written", "kept", "sent"))
    except (KeyError, ValueError):
        return ""
    line = f"Uploaded: {written} file{pluralize(written)} written, {filesizeformat(sent)} sent"
    if kept:
        line += (f"; {kept} kept as they were (already there; tick “Replace files” to "
                 "overwrite them)")  # fmt: skip
    return line + "."


@require_GET
def dataset_detail(request, name: str, dataset: str, version: int | None = None):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    found = datasets.dataset_version_get(workspace=workspace, name=dataset, version=version)
    preview, problem = None, ""
    if found.kind == "tabular":
        try:
            preview = datasets.tabular_preview(version=found)
        except UserError as exc:
            problem = exc.message
    return render(request, "data/dataset.html", {
        "workspace": workspace, "membership": membership, "version": found,
        "versions": found.dataset.versions.all(), "files": found.manifest[:BROWSE_LIMIT],
        "uses": found.uses.all()[:200], "preview": preview, "problem": problem,
        "api": f"/api/workspaces/{workspace.name}/datasets/{found.dataset.name}"
               f"/versions/{found.version}",
    })  # fmt: skip
