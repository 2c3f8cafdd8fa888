"""A registered model version's files through MLflow's artifact proxy, so `models:/<name>/<n>`
loads: `model-versions/get-download-uri` answers
`mlflow-artifacts:/registered-models/<name>/versions/<n>/artifacts`, and GET and list of
that path read the version's own manifest and blobs (registry/), never the run's folder,
which may have been deleted since. The files of a version never change, so there is no PUT."""

from __future__ import annotations

from django.http import FileResponse, JsonResponse

from mlstudio.errors import NotFound
from registry import selectors as registry_selectors
from tracking.errors import missing

PREFIX = "registered-models"


def download_uri(version) -> str:
    return f"mlflow-artifacts:/{PREFIX}/{version.model.name}/versions/{version.version}/artifacts"


def is_version_path(parts: list[str]) -> bool:
    return len(parts) >= 5 and parts[0] == PREFIX and parts[2:5:2] == ["versions", "artifacts"]


def _version(call, parts: list[str]):
    try:
        return registry_selectors.model_version_get(
            workspace=call.workspace(), name=parts[1], version=parts[3]
        )
    except NotFound as exc:
        raise missing(exc.message) from None


def download(call, parts: list[str]):
    version = _version(call, parts)
    path = _in_root(version, "/".join(parts[5:]))
    try:
        handle, _ = registry_selectors.model_file_open(version=version, path=path)
    except NotFound as exc:
        raise missing(exc.message) from None
    return FileResponse(handle, content_type="application/octet-stream")


def listing(call, parts: list[str]):
    version = _version(call, parts)
    return JsonResponse(_listing(version, "/".join(parts[5:])))


def _in_root(version, inner: str) -> str:
    """The manifest path of an artifact path: a folder model's files sit under its root."""
    single = len(version.manifest) == 1 and version.manifest[0]["path"] == version.root
    if single and inner in ("", version.root):
        return version.root
    return f"{version.root}/{inner}" if inner else version.root


def _listing(version, inner: str) -> dict:
    """MLflow's list of one folder level: direct children, folders without a size."""
    base = _in_root(version, inner)
    files: dict[str, dict] = {}
    for entry in version.manifest:
        path = entry["path"]
        if not path.startswith(base + "/"):
            continue
        rest = path[len(base) + 1 :]
        name, _, deeper = rest.partition("/")
        child = f"{inner}/{name}" if inner else name
        if deeper:
            files.setdefault(child, {"path": child, "is_dir": True})
        else:
            files[child] = {"path": child, "is_dir": False, "file_size": entry["size"]}
    return {"files": [files[k] for k in sorted(files)]} if files else {}
