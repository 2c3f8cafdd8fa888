"""Registered models, as azureml.core.model.Model in v1: `Model.register`, `Model(ws, name)`,
`Model.list`, `model.download()`, `Model.get_model_path()`, and `run.register_model()` (which
run.py hands to register_from_run here). Aliases (`set_alias`) go beyond v1, as MLflow's.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mlstudio.sdk import _model_files as files
from mlstudio.sdk._http import segment
from mlstudio.sdk.exceptions import (
    MLStudioException,
    ModelNotFoundException,
    NotFoundException,
    UserErrorException,
    WebserviceException,
)

CACHE_FOLDER = "azureml-models"  # v1's folder, so scoring scripts find models where they did
UNSUPPORTED = {
    "deploy": "MLStudio does not deploy models; model.download() and serve them yourself",
    "package": "MLStudio builds no inference images; model.download() into your own image",
    "profile": "MLStudio does not profile models",
    "get_sas_urls": "model.download(target_dir) fetches the files instead",
}


def _unsupported(name: str):
    def call(*args, **kwargs):
        raise NotImplementedError(f"Model.{name}() is not supported: {UNSUPPORTED[name]}.")

    call.__name__ = name
    return staticmethod(call)


def _models_path(workspace) -> str:
    return f"workspaces/{segment(workspace.name)}/models"


def _not_found(exc: NotFoundException) -> ModelNotFoundException:
    return ModelNotFoundException(str(exc))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class Model:
    """One version of a registered model. `Model(ws, name)` is the latest version;
    `Model(ws, name, version=2)`, `Model(ws, id="name:2")` or `Model(ws, name, alias="champion")`
    a given one. Its files never change; tags and description may; properties are only added.
    """

    class Framework:
        CUSTOM = "Custom"
        MULTI = "Multi"
        ONNX = "Onnx"
        PYTORCH = "Pytorch"
        SCIKITLEARN = "ScikitLearn"
        TENSORFLOW = "TensorFlow"

    deploy = _unsupported("deploy")
    package = _unsupported("package")
    profile = _unsupported("profile")

    def __init__(
        self, workspace, name=None, id=None, tags=None, properties=None, version=None,
        run_id=None, model_framework=None, expand=True, alias=None, **kwargs,
    ):  # fmt: skip
        self.workspace = workspace
        details = kwargs.get("_details")
        if details is None:
            details = self._fetch(
                name, id, tags, properties, version, run_id, model_framework, alias
            )
        self._load(details)

    def _fetch(self, name, id, tags, properties, version, run_id, framework, alias) -> dict:
        if id:
            name, _, number = str(id).partition(":")
            version = number or version
        if not name:
            raise WebserviceException(
                "Model needs name or id: Model(ws, 'my-model') or id='my-model:1'."
            )
        if tags or properties or run_id or framework:
            found = Model.list(self.workspace, name=name, tags=tags, properties=properties,
                               run_id=run_id, model_framework=framework)  # fmt: skip
            if version is not None:
                found = [m for m in found if m.version == int(version)]
            if not found:
                raise ModelNotFoundException(
                    f"No version of model {name!r} matches tags={tags!r}, properties="
                    f"{properties!r}, run_id={run_id!r}; Model.list(ws, name) lists them."
                )
            return found[0]._details
        query = {k: v for k, v in (("version", version), ("alias", alias)) if v is not None}
        path = f"{_models_path(self.workspace)}/{segment(name)}"
        try:
            return self._client.get(f"{path}?{urlencode(query)}" if query else path)
        except NotFoundException as exc:
            raise _not_found(exc) from None

    def _load(self, details: dict) -> None:
        self._details = details
        self.name: str = details["name"]
        self.id: str = details["id"]
        self.version: int = details["version"]
        self.url: str = details["url"]
        self.created_time = _time(details.get("createdTime"))
        self.created_by = details.get("createdBy")
        self.description: str = details.get("description") or ""
        self.tags: dict = dict(details.get("tags") or {})
        self.properties: dict = dict(details.get("properties") or {})
        self.run_id = details.get("runId")
        self.experiment_name = details.get("experimentName")
        self.model_framework = details.get("framework")
        self.model_framework_version = details.get("frameworkVersion")
        self.mime_type = details.get("mimeType")
        self.unpack = details.get("unpack", False)
        self.datasets = {}
        self.aliases: list[str] = list(details.get("aliases") or [])
        self.sample_input_dataset = self.sample_output_dataset = None
        self.resource_configuration = None

    @property
    def _client(self):
        return self.workspace._client

    @property
    def _path(self) -> str:
        return f"{_models_path(self.workspace)}/{segment(self.name)}/versions/{self.version}"

    @property
    def run(self):
        """The run the model was registered from, or None."""
        if not (self.run_id and self.experiment_name):
            return None
        from mlstudio.sdk.experiment import Experiment
        from mlstudio.sdk.run import Run

        return Run(Experiment(self.workspace, self.experiment_name), self.run_id)

    def __repr__(self) -> str:
        return (
            f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, "
            f"version={self.version}, tags={self.tags}, properties={self.properties})"
        )

    # --- registering and finding --------------------------------------------------------------
    @staticmethod
    def register(
        workspace, model_path, model_name, tags=None, properties=None, description=None,
        datasets=None, model_framework=None, model_framework_version=None, child_paths=None,
        sample_input_dataset=None, sample_output_dataset=None, resource_configuration=None,
        _run_id=None,
    ) -> Model:  # fmt: skip
        """Upload a local file or folder as the next version of `model_name`; only the file
        bodies the studio lacks are sent."""
        _check_framework(model_framework, model_framework_version)
        root = Path(os.path.realpath(Path(model_path).expanduser())).name
        _, entries = files.local_manifest(model_path, root, child_paths)
        sent = files.upload_missing(workspace._client, workspace.name, entries)
        print(f"Registering model {model_name}")
        body = {
            "model_name": model_name, "root": root, "files": [e.as_dict() for e in entries],
            "run_id": _run_id, **_fields(tags, properties, description, model_framework,
                                         model_framework_version, datasets),
        }  # fmt: skip
        model = Model(workspace, _details=workspace._client.post(_models_path(workspace), body))
        model._uploaded = sent  # {"uploaded_files", "uploaded_bytes"}: what travelled
        return model

    @staticmethod
    def list(
        workspace, name=None, tags=None, properties=None, run_id=None, latest=False,
        expand=True, page_count=255, model_framework=None,
    ) -> list[Model]:  # fmt: skip
        """Versions, newest first; tags and properties filter as v1's: ['key', ['key', 'value']]."""
        query: list[tuple[str, Any]] = [
            (key, value)
            for key, value in (("name", name), ("run_id", run_id), ("framework", model_framework))
            if value
        ]
        query += [("tag", _filter_text(t, "tags")) for t in tags or []]
        query += [("property", _filter_text(p, "properties")) for p in properties or []]
        if latest:
            query.append(("latest", "true"))
        path = _models_path(workspace) + (f"?{urlencode(query)}" if query else "")
        return [Model(workspace, _details=d) for d in workspace._client.get(path)]

    @staticmethod
    def get_model_path(model_name, version=None, _workspace=None) -> str:
        """The local path of a model's file or folder, downloaded into
        ./azureml-models/<name>/<version>/ if it is not there yet (v1's cache)."""
        return _model_path(model_name, version, _workspace)

    @staticmethod
    def deserialize(workspace, model_payload: dict) -> Model:
        return Model(workspace, _details=model_payload)

    # --- changing -----------------------------------------------------------------------------
    def _patch(self, **body) -> None:
        self._load(self._client.request("PATCH", self._path, body))

    def add_tags(self, tags: dict) -> None:
        self._patch(add_tags=files.as_text_map(tags, "tags"))

    def remove_tags(self, tags) -> None:
        self._patch(remove_tags=[str(t) for t in ([tags] if isinstance(tags, str) else tags)])

    def add_properties(self, properties: dict) -> None:
        """Add properties; one that is set already can never change its value."""
        self._patch(add_properties=files.as_text_map(properties, "properties"))

    def update(self, tags=None, description=None, sample_input_dataset=None,
               sample_output_dataset=None, resource_configuration=None) -> None:  # fmt: skip
        """As v1: `tags` replace the model's tags; `description` replaces its description."""
        body: dict[str, Any] = {"description": description}
        if tags is not None:
            new = files.as_text_map(tags, "tags")
            body |= {"add_tags": new, "remove_tags": [k for k in self.tags if k not in new]}
        self._patch(**body)

    def update_tags_properties(self, add_tags=None, remove_tags=None, add_properties=None,
                               remove_properties=None) -> None:  # fmt: skip
        if remove_properties:
            raise UserErrorException("Properties of a model never change; they cannot be removed.")
        self._patch(add_tags=files.as_text_map(add_tags, "tags"), remove_tags=remove_tags,
                    add_properties=files.as_text_map(add_properties, "properties"))  # fmt: skip

    def set_alias(self, alias: str) -> None:
        """Point `alias` (e.g. 'champion') at this version, moving it from another one."""
        path = f"{_models_path(self.workspace)}/{segment(self.name)}/aliases/{segment(alias)}"
        self._load(self._client.request("PUT", path, {"version": self.version}))

    def delete(self) -> None:
        """Delete this version (workspace owners only)."""
        with self._client.open("DELETE", self._path):
            pass

    # --- files --------------------------------------------------------------------------------
    def download(self, target_dir=".", exist_ok=False, exists_ok=None) -> str:
        """Write the model's file or folder into `target_dir`; returns its path."""
        exist_ok = exist_ok if exists_ok is None else exists_ok
        target_dir = Path(target_dir)
        target = target_dir / self._details["root"]
        if target.exists() and not exist_ok:
            raise WebserviceException(
                f"{target} already exists; pass exist_ok=True to overwrite it, or another "
                "target_dir."
            )
        files.download_files(self._client, self._path, self._details["files"], target_dir)
        return str(target)

    def serialize(self) -> dict:
        """v1's dictionary of the model (camelCase keys)."""
        keys = ("id", "name", "version", "description", "tags", "properties", "framework",
                "frameworkVersion", "createdBy", "runId", "experimentName", "url", "mimeType",
                "unpack", "datasets")  # fmt: skip
        out = {key: self._details.get(key) for key in keys}
        out["createdTime"] = self._details.get("createdTime")
        out["resourceConfiguration"] = out["sampleInputDatasetId"] = None
        out["sampleOutputDatasetId"] = None
        return out


Model.get_sas_urls = _unsupported("get_sas_urls")


def _check_framework(framework, framework_version) -> None:
    if framework is None and framework_version is not None:
        raise WebserviceException(
            "Model framework version cannot be given without a framework; pass "
            "model_framework too (e.g. Model.Framework.SCIKITLEARN)."
        )


def _fields(tags, properties, description, framework, framework_version, datasets) -> dict:
    return {
        "tags": files.as_text_map(tags, "tags"),
        "properties": files.as_text_map(properties, "properties"),
        "description": description,
        "model_framework": framework,
        "model_framework_version": framework_version,
        "datasets": [_dataset_ref(d) for d in datasets or []],
    }


def _dataset_ref(item) -> Any:
    """v1 passes (scenario, dataset) pairs; until datasets exist they are kept by name."""
    if isinstance(item, list | tuple) and len(item) == 2:
        return {"scenario": str(item[0]), "dataset": str(getattr(item[1], "name", item[1]))}
    return str(getattr(item, "name", item))


def _filter_text(item, what: str) -> str:
    if isinstance(item, list | tuple) and len(item) == 2:
        return f"{item[0]}={item[1]}"
    if isinstance(item, str):
        return item
    raise UserErrorException(f"A {what} filter is 'key' or ['key', 'value'], not {item!r}.")


# --- run.register_model ---------------------------------------------------------------------


def register_from_run(run, model_name, *, model_path=None, tags=None, properties=None,
                      model_framework=None, model_framework_version=None, description=None,
                      datasets=None, **_unused) -> Model:  # fmt: skip
    """`run.register_model(...)`. From a notebook the studio links the run's file or folder
    (no copy); inside the running script, where ./outputs is collected only at the end, a
    local file or folder is uploaded with the run as its lineage."""
    _check_framework(model_framework, model_framework_version)
    path = model_path or model_name
    fields = _fields(tags, properties, description, model_framework, model_framework_version,
                     datasets)  # fmt: skip
    inside = os.environ.get("MLSTUDIO_RUN_ID") == run.id and os.environ.get("MLSTUDIO_RUN_DIR")
    if inside:
        return _register_inside(run, model_name, path, fields)
    workspace = run.experiment.workspace
    answer = workspace._client.post(
        f"workspaces/{segment(workspace.name)}/runs/{segment(run.id)}/register_model",
        {"model_name": model_name, "model_path": path, **fields},
    )
    return Model(workspace, _details=answer)


def _register_inside(run, model_name, path, fields) -> Model:
    if not (os.environ.get("MLSTUDIO_URL") and os.environ.get("MLSTUDIO_TOKEN")):
        raise UserErrorException(
            "register_model inside a run needs the studio's address, which the worker gives "
            "runs when MLSTUDIO_PUBLIC_URL is set. Or register after the run from a notebook: "
            "run.register_model(model_name, model_path='outputs/...')."
        )
    workspace = run.experiment.workspace
    if not Path(path).exists():
        answer = workspace._client.post(
            f"workspaces/{segment(workspace.name)}/runs/{segment(run.id)}/register_model",
            {"model_name": model_name, "model_path": path, **fields},
        )
        return Model(workspace, _details=answer)
    return Model.register(
        workspace, path, model_name, tags=fields["tags"], properties=fields["properties"],
        description=fields["description"], model_framework=fields["model_framework"],
        model_framework_version=fields["model_framework_version"], _run_id=run.id,
    )  # fmt: skip


# --- Model.get_model_path -------------------------------------------------------------------


def _model_path(model_name: str, version, workspace) -> str:
    cache = Path(CACHE_FOLDER) / model_name
    if version is not None and _cached(cache / str(version)):
        return str(_cached(cache / str(version)))
    workspace = workspace or _ambient_workspace()
    if workspace is not None:
        model = Model(workspace, model_name, version=version)
        folder = cache / str(model.version)
        if not _cached(folder):
            _download_into(model, folder)
        return str(folder / model._details["root"])
    return _offline_path(cache, model_name, version)


def _cached(folder: Path) -> Path | None:
    """The one file or folder a cached version holds, or None."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
    return entries[0] if len(entries) == 1 else None


def _download_into(model: Model, folder: Path) -> None:
    """Download into a hidden sibling and rename it into place, so a cache folder is whole."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.download(partial, exist_ok=True)
    try:
        partial.rename(folder)
    except OSError:  # another process cached it meanwhile
        shutil.rmtree(partial, ignore_errors=True)


def _ambient_workspace():
    """The run's workspace inside a connected run, else config.json's; None when neither."""
    from mlstudio.sdk.workspace import Workspace

    try:
        if os.environ.get("MLSTUDIO_URL") and os.environ.get("MLSTUDIO_TOKEN"):
            return Workspace()
        return Workspace.from_config()
    except MLStudioException:
        return None


def _offline_path(cache: Path, model_name: str, version) -> str:
    if version is None and cache.is_dir():
        numbers = sorted((int(p.name) for p in cache.iterdir() if p.name.isdigit()), reverse=True)
        for number in numbers:
            if found := _cached(cache / str(number)):
                return str(found)
    if version is None and Path(model_name).exists():
        return model_name
    wanted = f"version {version}" if version is not None else "any version"
    raise ModelNotFoundException(
        f"Model {model_name!r} ({wanted}) is not in {cache}/ and no studio is reachable "
        "(no config.json, no MLSTUDIO_URL). Download it first, or pass _workspace=ws."
    )
