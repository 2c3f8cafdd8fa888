"""MLflow's artifact proxy (`mlflow-artifacts`): PUT, GET and list. A run's artifacts are its
run files under outputs/ (artifact `plots/roc.png` is the run file `outputs/plots/roc.png`,
shown on the run page and by run.get_file_names()); a logged model without a run keeps its
files in its own folder of the file store."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, JsonResponse

from mlstudio.paths import clean_relative_path, confined
from runs import quotas, store
from runs.models import Run
from tracking import model_files, selectors
from tracking.errors import MlflowError, missing
from workspaces.models import Workspace

OUTPUTS = "outputs"


def model_dir(model_id: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "mlflow_models" / model_id


def dispatch(call, path: str):
    request = call.request
    listed = request.method == "GET" and not path
    parts = _parts(request.GET.get("path", "") if listed else path)
    if model_files.is_version_path(parts):
        if request.method != "GET":
            raise MlflowError("A registered model version's files never change; log to the run "
                              "and register a new version.", "INVALID_PARAMETER_VALUE")  # fmt: skip
        return (model_files.listing if listed else model_files.download)(call, parts)
    if listed:
        return _list(call, request.GET.get("path", ""))
    if request.method == "GET":
        return _download(call, path)
    if request.method == "PUT":
        return _upload(call, path)
    raise MlflowError(
        f"{request.method} on artifacts is not supported by MLStudio; artifacts are kept with "
        "their run.", "NOT_IMPLEMENTED",
    )  # fmt: skip


def _where(call, path: str, *, write: bool) -> tuple[Path, str, Run | None, Workspace]:
    """(the folder that holds the artifacts of `path`, the path inside it, the run, the
    workspace) for a proxy path `<run id>/artifacts/<path>` or
    `models/<model id>/artifacts/<path>`."""
    workspace = call.writer() if write else call.workspace()
    parts = _parts(path)
    if len(parts) >= 3 and parts[0] == "models" and parts[2] == "artifacts":
        model = selectors.logged_model_by_id(workspace=workspace, model_id=parts[1])
        return model_dir(model.id), "/".join(parts[3:]), None, workspace
    if len(parts) >= 2 and parts[1] == "artifacts":
        run = selectors.run_by_id(workspace=workspace, run_id=parts[0])
        inner = "/".join([OUTPUTS, *parts[2:]])
        return store.run_dir(run.pk), inner, run, workspace
    raise missing(
        f"No artifacts at {path!r}: artifact paths are <run id>/artifacts/<path> (the run's "
        "artifact_uri)."
    )


def _parts(path: str) -> list[str]:
    return clean_relative_path(path, what="artifact path").split("/") if path else []


def _upload(call, path: str):
    """One artifact, within the bounds of any uploaded file (quotas.upload_bounded)."""
    folder, inner, run, workspace = _where(call, path, write=True)
    if not inner or inner == OUTPUTS:
        raise MlflowError("An artifact upload needs a file name.", "INVALID_PARAMETER_VALUE")
    declared = _declared_length(call.request)
    if run is not None:
        quotas.run_file_upload(run=run, name=inner, source=call.request, declared=declared)
        return JsonResponse({})
    target = confined(folder, inner, what="artifact path")

    def write(limit: int, too_big) -> int:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        try:
            with open(partial, "wb") as out:
                size = store.copy_hashed(call.request, out, limit=limit, too_big=too_big)[1]
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return size

    quotas.upload_bounded(workspace=workspace, name=inner, declared=declared, write=write)
    return JsonResponse({})


def _declared_length(request) -> int | None:
    try:
        return int(request.META["CONTENT_LENGTH"])
    except (KeyError, ValueError):
        return None


def _download(call, path: str):
    folder, inner, *_ = _where(call, path, write=False)
    target = confined(folder, inner, what="artifact path") if inner else folder
    if not target.is_file():
        raise missing(f"No artifact at {path!r}.")
    return FileResponse(open(target, "rb"), content_type="application/octet-stream")


def _list(call, path: str):
    folder, inner, *_ = _where(call, path, write=False)
    target = confined(folder, inner, what="artifact path") if inner else folder
    if not target.is_dir():
        return JsonResponse({})  # a file, or nothing yet: MLflow lists neither
    files = []
    for entry in sorted(os.scandir(target), key=lambda e: e.name):
        if entry.is_symlink() or entry.name.endswith(".partial"):
            continue
        item = {"path": entry.name, "is_dir": entry.is_dir()}
        if not entry.is_dir():
            item["file_size"] = entry.stat().st_size
        files.append(item)
    return JsonResponse({"files": files})
