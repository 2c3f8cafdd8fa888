"""MLflow's model registry routes over MLStudio's registry (registry/): a model version is
registered from the files of a logged model's run (outputs/<model folder>/), by the same
service as v1's run.register_model()."""

from __future__ import annotations

import re

from registry import selectors as registry_selectors
from registry import services as registry_services
from registry.models import ModelVersion, RegisteredModel
from tracking import model_files, protocol, routing
from tracking.errors import MlflowError, invalid
from tracking.models import LoggedModel
from tracking.presenters import millis


def _version_json(version: ModelVersion) -> dict:
    found = {
        "name": version.model.name,
        "version": str(version.version),
        "creation_timestamp": millis(version.created_at),
        "last_updated_timestamp": millis(version.created_at),
        "description": version.description,
        "source": version.properties.get("mlflow.source", version.source_path),
        "run_id": version.run_id_text,
        "status": "READY",
        "tags": [{"key": k, "value": v} for k, v in version.tags.items()],
        "aliases": list(version.aliases.values_list("alias", flat=True)),
    }
    if "mlflow.model_id" in version.properties:
        found["model_id"] = version.properties["mlflow.model_id"]
    return found


def _model_json(model: RegisteredModel) -> dict:
    latest = model.versions.order_by("-version").first()
    return {
        "name": model.name,
        "creation_timestamp": millis(model.created_at),
        "last_updated_timestamp": millis(latest.created_at if latest else model.created_at),
        "latest_versions": [_version_json(latest)] if latest else [],
    }


def create_model(call) -> dict:
    """MLStudio makes a registered model with its first version; until then the name is only
    checked, and it is free."""
    workspace = call.writer()
    name = protocol.required(call.body, "name")
    if RegisteredModel.objects.filter(workspace=workspace, name=name).exists():
        raise MlflowError(f"Registered Model (name={name}) already exists.",
                          "RESOURCE_ALREADY_EXISTS")  # fmt: skip
    return {"registered_model": {"name": name}}


def get_model(call) -> dict:
    workspace = call.workspace()
    name = protocol.required(call.body, "name")
    model = RegisteredModel.objects.filter(workspace=workspace, name=name).first()
    if model is None:
        raise MlflowError(f"Registered Model with name={name} not found",
                          "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    return {"registered_model": _model_json(model)}


def search_models(call) -> dict:
    models = RegisteredModel.objects.filter(workspace=call.workspace()).order_by("name")
    return {"registered_models": [_model_json(m) for m in models]}


def create_version(call) -> dict:
    workspace = call.writer()
    name = protocol.required(call.body, "name")
    source = protocol.required(call.body, "source")
    model_id = call.body.get("model_id") or source.removeprefix("models:/")
    logged = LoggedModel.objects.filter(pk=model_id, experiment__workspace=workspace).first()
    if logged is None or logged.source_run is None:
        raise invalid(
            f"MLStudio registers models logged in a run (source models:/<model id>); {source!r} "
            "is not one. Log it with mlflow.<flavor>.log_model inside a run first."
        )
    tags = {t["key"]: t.get("value", "") for t in protocol.array(call.body, "tags")}
    version = registry_services.model_register_from_run(
        run=logged.source_run, user=call.user, name=name,
        model_path=f"outputs/{logged.tags['mlstudio.folder']}", tags=tags,
        properties={"mlflow.source": source, "mlflow.model_id": logged.id},
        description=protocol.optional_str(call.body, "description") or None,
    )  # fmt: skip
    return {"model_version": _version_json(version)}


def _version_asked(call, workspace, by: str = "version") -> ModelVersion:
    """The version of model `name` that the request names by its `version` (or `alias`)."""
    return registry_selectors.model_version_get(
        workspace=workspace, name=protocol.required(call.body, "name"),
        **{by: protocol.required(call.body, by)},
    )  # fmt: skip


def get_version(call) -> dict:
    return {"model_version": _version_json(_version_asked(call, call.workspace()))}


def get_download_uri(call) -> dict:
    """Where `models:/<name>/<version>` loads from: the version's own files (model_files)."""
    return {"artifact_uri": model_files.download_uri(_version_asked(call, call.workspace()))}


FILTER_TERM = re.compile(r"""\s*(name|run_id)\s*=\s*(?:'([^']*)'|"([^"]*)")\s*""")


def _version_filter(text: str) -> dict:
    """MLflow's model-version filters MLStudio answers: name and run_id equalities, joined
    with AND."""
    found = {}
    for term in re.split(r"(?i)\s+and\s+", text.strip()) if text.strip() else []:
        match = FILTER_TERM.fullmatch(term)
        if match is None:
            raise invalid(f"Unsupported model version filter {term!r}; MLStudio takes "
                          "name='<model>' and run_id='<run>', joined with AND.")  # fmt: skip
        found[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
    return found


def search_versions(call) -> dict:
    wanted = _version_filter(call.body.get("filter") or "")
    versions = ModelVersion.objects.filter(model__workspace=call.workspace())
    if "name" in wanted:
        versions = versions.filter(model__name=wanted["name"])
    if "run_id" in wanted:
        versions = versions.filter(run_id_text=wanted["run_id"])
    versions = versions.select_related("model").order_by("model__name", "-version")
    return {"model_versions": [_version_json(v) for v in versions]}


def latest_versions(call) -> dict:
    """MLStudio has aliases, not stages: the latest version, whatever stages are asked."""
    version = registry_selectors.model_version_get(
        workspace=call.workspace(), name=protocol.required(call.body, "name")
    )
    return {"model_versions": [_version_json(version)]}


def set_alias(call) -> dict:
    version = _version_asked(call, call.writer())
    registry_services.model_alias_set(version=version, alias=protocol.required(call.body, "alias"))
    return {}


def delete_alias(call) -> dict:
    workspace = call.writer()
    found = registry_selectors.model_version_get(
        workspace=workspace, name=protocol.required(call.body, "name")
    )
    registry_services.model_alias_delete(
        model=found.model, alias=protocol.required(call.body, "alias")
    )
    return {}


def get_by_alias(call) -> dict:
    version = _version_asked(call, call.workspace(), by="alias")
    return {"model_version": _version_json(version)}


ROUTES = routing.table(
    {
        "POST registered-models/create": create_model,
        "GET registered-models/get": get_model,
        "GET registered-models/search": search_models,
        "POST model-versions/create": create_version,
        "GET model-versions/get": get_version,
        "GET model-versions/get-download-uri": get_download_uri,
        "POST registered-models/alias": set_alias,
        "GET registered-models/alias": get_by_alias,
        "DELETE registered-models/alias": delete_alias,
        "GET model-versions/search": search_versions,
        "GET registered-models/get-latest-versions": latest_versions,
        "POST registered-models/get-latest-versions": latest_versions,
    }
)
