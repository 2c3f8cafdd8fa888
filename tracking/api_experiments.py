"""MLflow's experiments routes over MLStudio's experiments: delete archives, restore
reactivates (nothing is ever deleted from MLflow's side)."""

from __future__ import annotations

from runs import services as runs_services
from tracking import presenters, protocol, routing, selectors, services
from tracking.errors import invalid

VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
MAX_EXPERIMENTS_PAGE = 50_000


def _tags(body: dict) -> dict[str, str]:
    tags = {}
    for index, tag in enumerate(protocol.array(body, "tags")):
        if not isinstance(tag, dict):
            raise invalid(f"Invalid value for parameter 'tags[{index}]': give {{key, value}}.")
        key = protocol.key(tag.get("key"), where=f"tags[{index}].key")
        tags[key] = protocol.text(tag.get("value"), where=f"tags[{index}].value", limit=20_000)
    return tags


def _experiment(call, role_writer: bool = False):
    workspace = call.writer() if role_writer else call.workspace()
    experiment_id = protocol.required(call.body, "experiment_id")
    if experiment_id == "0":
        return services.experiment_default(workspace=workspace, user=call.user)
    return selectors.experiment_by_id(workspace=workspace, experiment_id=experiment_id)


def create(call) -> dict:
    workspace = call.writer()
    name = protocol.required(call.body, "name")
    experiment = services.experiment_create(
        workspace=workspace, user=call.user, name=name, tags=_tags(call.body)
    )
    return {"experiment_id": str(experiment.pk)}


def get(call) -> dict:
    return {"experiment": presenters.experiment_json(_experiment(call))}


def get_by_name(call) -> dict:
    name = protocol.required(call.body, "experiment_name")
    workspace = call.workspace()
    if name == "Default":
        experiment = services.experiment_default(workspace=workspace, user=call.user)
    else:
        experiment = selectors.experiment_by_name(workspace=workspace, name=name)
    return {"experiment": presenters.experiment_json(experiment)}


def search(call) -> dict:
    view_type = call.body.get("view_type") or "ACTIVE_ONLY"
    if view_type not in VIEW_TYPES:
        raise invalid(f"Invalid view_type {view_type!r}; use one of {', '.join(VIEW_TYPES)}.")
    if call.body.get("filter"):
        raise invalid(
            "Filtering experiments is not supported by MLStudio; search without a filter."
        )
    max_results = protocol.integer(call.body, "max_results", 1000)
    if not 1 <= max_results <= MAX_EXPERIMENTS_PAGE:
        raise invalid(f"max_results must be between 1 and {MAX_EXPERIMENTS_PAGE}.")
    offset = protocol.integer({"t": call.body.get("page_token")}, "t", 0)
    experiments, more = selectors.experiments_search(
        workspace=call.workspace(), view_type=view_type, max_results=max_results, offset=offset
    )
    result = {"experiments": [presenters.experiment_json(e) for e in experiments]}
    if more:
        result["next_page_token"] = str(offset + max_results)
    return result


def update(call) -> dict:
    experiment = _experiment(call, role_writer=True)
    new_name = protocol.optional_str(call.body, "new_name")
    if new_name:
        services.experiment_rename(experiment=experiment, name=new_name)
    return {}


def delete(call) -> dict:
    runs_services.experiment_archive(experiment=_experiment(call, role_writer=True))
    return {}


def restore(call) -> dict:
    runs_services.experiment_reactivate(experiment=_experiment(call, role_writer=True))
    return {}


def set_tag(call) -> dict:
    experiment = _experiment(call, role_writer=True)
    key = protocol.key(call.body.get("key"), where="key")
    value = protocol.text(call.body.get("value"), where="value", limit=20_000)
    runs_services.experiment_set_tags(experiment=experiment, tags={key: value})
    return {}


def delete_tag(call) -> dict:
    experiment = _experiment(call, role_writer=True)
    services.experiment_untag(experiment=experiment, key=protocol.required(call.body, "key"))
    return {}


ROUTES = routing.table(
    {
        "POST experiments/create": create,
        "GET experiments/get": get,
        "GET experiments/get-by-name": get_by_name,
        "POST experiments/search": search,
        "GET experiments/search": search,
        "POST experiments/update": update,
        "POST experiments/delete": delete,
        "POST experiments/restore": restore,
        "POST experiments/set-experiment-tag": set_tag,
        "POST experiments/delete-experiment-tag": delete_tag,
    }
)
