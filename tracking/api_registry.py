"""MLflow's model registry routes over MLStudio's registry (registry/): a model version is
registered from the files of a logged model's run (outputs/<model folder>/), by the same
service as v1's run.register_model()."""

from __future__ import annotations

from registry import selectors as registry_selectors
from registry import services as registry_services
from registry.models import ModelVersion, RegisteredModel
from tracking import protocol
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


def get_version(call) -> dict:
    version = registry_selectors.model_version_get(
        workspace=call.workspace(), name=protocol.required(call.body, "name"),
        version=protocol.required(call.body, "version"),
    )  # fmt: skip
    return {"model_version": _version_json(version)}


def set_alias(call) -> dict:
    version = registry_selectors.model_version_get(
        workspace=call.writer(), name=protocol.required(call.body, "name"),
        version=protocol.required(call.body, "version"),
    )  # fmt: skip
    registry_services.model_alias_set(version=version, alias=protocol.required(call.body, "alias"))
    return {}


def get_by_alias(call) -> dict:
    version = registry_selectors.model_version_get(
        workspace=call.workspace(), name=protocol.required(call.body, "name"),
        alias=protocol.required(call.body, "alias"),
    )  # fmt: skip
    return {"model_version": _version_json(version)}


ROUTES = {
    ("POST", "registered-models/create"): create_model,
    ("GET", "registered-models/get"): get_model,
    ("GET", "registered-models/search"): search_models,
    ("POST", "model-versions/create"): create_version,
    ("GET", "model-versions/get"): get_version,
    ("POST", "registered-models/alias"): set_alias,
    ("GET", "registered-models/alias"): get_by_alias,
}
