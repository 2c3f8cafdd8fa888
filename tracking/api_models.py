"""MLflow 3's logged-models routes, and NOT_IMPLEMENTED for the model registry's routes
(registered-models, model-versions) that tracking.api_registry does not answer."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from runs import store
from tracking import presenters, protocol, routing, selectors
from tracking.api_experiments import _experiment
from tracking.artifacts import OUTPUTS
from tracking.errors import MlflowError, invalid
from tracking.models import LoggedModel

STATUSES = set(LoggedModel.Status.values)


def artifact_location(model: LoggedModel) -> str:
    """A model logged in a run keeps its files with the run, under outputs/<its folder>/."""
    if model.source_run_id:
        return f"mlflow-artifacts:/{model.source_run_id}/artifacts/{model.tags['mlstudio.folder']}"
    return f"mlflow-artifacts:/models/{model.id}/artifacts"


def _json(model: LoggedModel) -> dict:
    return {"model": presenters.logged_model_json(model, artifact_location(model))}


def _folder(run, name: str, model_id: str) -> str:
    """outputs/<name>, or outputs/<name>-<id> when the run already has a model there."""
    taken = store.run_dir(run.pk) / OUTPUTS / name
    return name if not taken.exists() else f"{name}-{model_id[-8:]}"


def _pairs(items: list, what: str) -> dict[str, str]:
    found = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid(f"Invalid value for parameter '{what}[{index}]'.")
        key = protocol.key(item.get("key"), where=f"{what}[{index}].key")
        found[key] = protocol.text(item.get("value"), where=f"{what}[{index}].value", limit=8000)
    return found


def create(call) -> dict:
    experiment = _experiment(call, role_writer=True)
    name = protocol.optional_str(call.body, "name") or "model"
    protocol.key(name, where="name", what="model name")
    run = None
    run_id = protocol.optional_str(call.body, "source_run_id")
    if run_id:
        run = selectors.run_by_id(workspace=experiment.workspace, run_id=run_id)
    model_id = f"m-{uuid.uuid4().hex}"
    tags = _pairs(protocol.array(call.body, "tags"), "tags")
    if run is not None:
        tags["mlstudio.folder"] = _folder(run, name, model_id)
    model = LoggedModel.objects.create(
        id=model_id, experiment=experiment, source_run=run, name=name,
        model_type=protocol.optional_str(call.body, "model_type"),
        params=_pairs(protocol.array(call.body, "params"), "params"), tags=tags,
    )  # fmt: skip
    return _json(model)


def _model(call, model_id: str, *, write: bool = False) -> LoggedModel:
    workspace = call.writer() if write else call.workspace()
    return selectors.logged_model_by_id(workspace=workspace, model_id=model_id)


def get(call, model_id: str) -> dict:
    return _json(_model(call, model_id))


def finalize(call, model_id: str) -> dict:
    model = _model(call, model_id, write=True)
    status = call.body.get("status")
    if status not in STATUSES:
        raise invalid(f"Invalid status {status!r}; use one of {sorted(STATUSES)}.")
    model.status = status
    model.save(update_fields=["status", "updated_at"])
    return _json(model)


def delete(call, model_id: str) -> dict:
    model = _model(call, model_id, write=True)
    model.deleted_at = timezone.now()
    model.save(update_fields=["deleted_at"])
    return {}


def set_tags(call, model_id: str) -> dict:
    with transaction.atomic():
        model = _model(call, model_id, write=True)
        model.tags = {**model.tags, **_pairs(protocol.array(call.body, "tags"), "tags")}
        model.save(update_fields=["tags", "updated_at"])
    return {}


def delete_tag(call, model_id: str, key: str) -> dict:
    model = _model(call, model_id, write=True)
    model.tags.pop(key, None)
    model.save(update_fields=["tags", "updated_at"])
    return {}


def log_params(call, model_id: str) -> dict:
    model = _model(call, model_id, write=True)
    model.params = {**model.params, **_pairs(protocol.array(call.body, "params"), "params")}
    model.save(update_fields=["params", "updated_at"])
    return {}


def search(call) -> dict:
    workspace = call.workspace()
    ids = call.body.get("experiment_ids") or []
    experiments = [selectors.experiment_by_id(workspace=workspace, experiment_id=e) for e in ids]
    if call.body.get("filter"):
        raise invalid("Filtering logged models is not supported by MLStudio; search without one.")
    models = LoggedModel.objects.filter(experiment__in=experiments, deleted_at__isnull=True)
    return {"models": [_json(m)["model"] for m in models]}


def registry_not_implemented(call, *args) -> dict:
    raise MlflowError(
        "This model registry call is not implemented by MLStudio; it supports registered-models "
        "create, get, search, get-latest-versions and alias, and model-versions create, get, "
        "search and get-download-uri.",
        "NOT_IMPLEMENTED",
    )


ROUTES = routing.table(
    {
        "POST logged-models": create,
        "POST logged-models/search": search,
        "GET logged-models/<model_id>": get,
        "PATCH logged-models/<model_id>": finalize,
        "DELETE logged-models/<model_id>": delete,
        "PATCH logged-models/<model_id>/tags": set_tags,
        "DELETE logged-models/<model_id>/tags/<key>": delete_tag,
        "POST logged-models/<model_id>/params": log_params,
        **{
            f"{method} {kind}/<action>": registry_not_implemented
            for kind in ("registered-models", "model-versions")
            for method in ("GET", "POST", "PATCH", "DELETE")
        },
    }
)
