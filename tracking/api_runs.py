"""MLflow's runs, logging and metric-history routes over MLStudio's runs."""

from __future__ import annotations

import math

import numpy as np

from tracking import presenters, protocol, routing, search, selectors, services
from tracking.api_experiments import _experiment
from tracking.errors import MlflowError, invalid

RUN_VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
MAX_RUNS_PAGE = 50_000
NUMBER_TYPES = {float, int}


def _run(call, *, write: bool = False, related: tuple[str, ...] = selectors.RUN_RELATED):
    workspace = call.writer() if write else call.workspace()
    run_id = call.body.get("run_id") or call.body.get("run_uuid")
    if not run_id:
        raise invalid("Missing value for required parameter 'run_id'.")
    return selectors.run_by_id(workspace=workspace, run_id=run_id, related=related)


def _run_to_log(call):
    """The run a logging call writes to: services.run_log reads no more than its MLflow data."""
    return _run(call, write=True, related=("mlflow",))


def _pairs(items: list, what: str, limit: int) -> dict[str, str]:
    found: dict[str, str] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid(f"Invalid value for parameter '{what}[{index}]': give {{key, value}}.")
        key = protocol.key(item.get("key"), where=f"{what}[{index}].key")
        value = protocol.text(item.get("value"), where=f"{what}[{index}].value", limit=limit)
        if what == "params" and key in found and found[key] != value:
            raise invalid(f"Duplicate parameter keys have been submitted: [{key!r}]. Please ensure "
                          "the request contains only one param value per param key.")  # fmt: skip
        found[key] = value
    return found


def _metric(item, index: int | None) -> dict:
    path = "" if index is None else f"metrics[{index}]."
    if not isinstance(item, dict):
        raise invalid(f"Invalid value for parameter 'metrics[{index}]': give a metric object.")
    key = protocol.key(item.get("key"), where=f"{path}key")
    if "value" not in item:
        raise invalid(f"Missing value for required parameter '{path}value'.")
    value = protocol.metric_value(item["value"], where=f"{path}value")
    timestamp = protocol.integer(item, "timestamp", path=path)
    if timestamp is None:
        raise invalid(f"Missing value for required parameter '{path}timestamp'.")
    step = protocol.integer(item, "step", 0, path=path)
    return {"key": key, "value": value, "timestamp": timestamp, "step": step}


def _metrics(items: list) -> dict[str, np.ndarray]:
    """The batch's metrics checked, as (step, value, time in s) rows per key in the order
    the keys first appear. A batch of finite numbers with integer steps and timestamps
    (what MLflow's client sends) is checked column by column; any other goes through the
    check of each metric, which raises the error of the first bad one."""
    series = _number_columns(items)
    return series if series is not None else services.series_of(_each_metric(items))


def _each_metric(items: list) -> list[dict]:
    """Each metric as _metric checks it: one with a finite number, integer step and
    timestamp, under a key already checked in this batch, skips the full check, which costs
    twenty times more."""
    checked_keys: set[str] = set()
    found = []
    for index, item in enumerate(items):
        if type(item) is dict:
            key, value = item.get("key"), item.get("value")
            stamp, step = item.get("timestamp"), item.get("step", 0)
            if (key in checked_keys and type(value) in (float, int) and math.isfinite(value)
                    and type(stamp) is int and type(step) is int):  # fmt: skip
                found.append({"key": key, "value": float(value), "timestamp": stamp, "step": step})
                continue
        metric = _metric(item, index)
        checked_keys.add(metric["key"])
        found.append(metric)
    return found


def _number_columns(items: list) -> dict[str, np.ndarray] | None:
    """The rows of a batch whose every metric is an object with a valid key, a finite int or
    float value and int step (or none) and timestamp; None for any other batch."""
    if not items or set(map(type, items)) != {dict}:
        return None
    keys = [item.get("key") for item in items]
    values = [item.get("value") for item in items]
    stamps = [item.get("timestamp") for item in items]
    steps = [item.get("step", 0) for item in items]
    if not (set(map(type, values)) <= NUMBER_TYPES and set(map(type, stamps)) == {int}
            and set(map(type, steps)) == {int}):  # fmt: skip
        return None
    if set(map(type, keys)) != {str}:
        return None
    names = dict.fromkeys(keys)
    if not all(_valid_key(name) for name in names):
        return None
    rows = np.empty((len(items), 3), dtype=np.float64)
    rows[:, 0] = steps
    rows[:, 1] = values
    rows[:, 2] = stamps
    if not np.isfinite(rows[:, 1]).all():
        return None
    rows[:, 2] /= 1000
    return services.split_rows(rows, keys, list(names))


def _valid_key(name) -> bool:
    try:
        protocol.key(name, where="key")
    except MlflowError:
        return False
    return True


def create(call) -> dict:
    experiment_id = call.body.get("experiment_id") or "0"
    call.body["experiment_id"] = str(experiment_id)
    experiment = _experiment(call, role_writer=True)
    tags = _pairs(protocol.array(call.body, "tags"), "tags", protocol.MAX_TAG_VALUE)
    run = services.run_create(
        experiment=experiment, user=call.user,
        run_name=protocol.optional_str(call.body, "run_name"), tags=tags,
    )  # fmt: skip
    return {"run": presenters.run_json(run)}


def get(call) -> dict:
    return {"run": presenters.run_json(_run(call))}


def update(call) -> dict:
    run = services.run_update(
        run=_run(call, write=True),
        status=call.body.get("status"),
        run_name=protocol.optional_str(call.body, "run_name"),
    )
    return {"run_info": presenters.run_info(run, getattr(run, "mlflow", None))}


def delete(call) -> dict:
    services.run_set_deleted(run=_run(call, write=True), deleted=True)
    return {}


def restore(call) -> dict:
    services.run_set_deleted(run=_run(call, write=True), deleted=False)
    return {}


def log_metric(call) -> dict:
    run = _run_to_log(call)
    services.run_log(
        run=run, metrics=services.series_of([_metric(call.body, None)]), params={}, tags={}
    )
    return {}


def log_param(call) -> dict:
    run = _run_to_log(call)
    params = _pairs([call.body], "params", protocol.MAX_PARAM_VALUE)
    services.run_log(run=run, metrics={}, params=params, tags={})
    return {}


def log_batch(call) -> dict:
    if len(call.request.body) > protocol.MAX_BATCH_BYTES:
        raise invalid(
            f"Batched logging API requests must be at most {protocol.MAX_BATCH_BYTES} bytes, got "
            f"a request of size {len(call.request.body)}."
        )
    run = _run_to_log(call)
    metrics, params, tags = (protocol.array(call.body, n) for n in ("metrics", "params", "tags"))
    protocol.batch_limits(metrics, params, tags)
    services.run_log(
        run=run,
        metrics=_metrics(metrics),
        params=_pairs(params, "params", protocol.MAX_PARAM_VALUE),
        tags=_pairs(tags, "tags", protocol.MAX_TAG_VALUE),
    )
    return {}


def set_tag(call) -> dict:
    run = _run(call, write=True)
    services.writable(run)
    services.run_set_tags(run=run, tags=_pairs([call.body], "tags", protocol.MAX_TAG_VALUE))
    return {}


def delete_tag(call) -> dict:
    services.run_delete_tag(run=_run(call, write=True), key=protocol.required(call.body, "key"))
    return {}


def log_inputs(call) -> dict:
    run = _run(call, write=True)
    datasets = protocol.array(call.body, "datasets")
    for index, entry in enumerate(datasets):
        dataset = entry.get("dataset") if isinstance(entry, dict) else None
        if not isinstance(dataset, dict) or not dataset.get("name") or not dataset.get("digest"):
            raise invalid(f"datasets[{index}] needs a dataset with a name and a digest.")
    services.run_log_inputs(run=run, datasets=datasets)
    return {}


def log_outputs(call) -> dict:
    services.run_log_outputs(run=_run(call, write=True), models=protocol.array(call.body, "models"))
    return {}


def log_model(call) -> dict:
    services.run_log_model(
        run=_run(call, write=True), model_json=protocol.required(call.body, "model_json")
    )
    return {}


def search_runs(call) -> dict:
    view_type = call.body.get("run_view_type") or "ACTIVE_ONLY"
    if view_type not in RUN_VIEW_TYPES:
        raise invalid(f"Invalid run_view_type {view_type!r}; use one of {RUN_VIEW_TYPES}.")
    max_results = protocol.integer(call.body, "max_results", 1000)
    if not 1 <= max_results <= MAX_RUNS_PAGE:
        raise invalid(f"Invalid value for request parameter max_results. It must be at most "
                      f"{MAX_RUNS_PAGE}, but got value {max_results}.")  # fmt: skip
    offset = protocol.integer({"t": call.body.get("page_token")}, "t", 0)
    ids = call.body.get("experiment_ids") or []
    runs = selectors.runs_of_experiments(
        workspace=call.workspace(), experiment_ids=ids if isinstance(ids, list) else [ids]
    )
    found = search.runs_filter(
        [presenters.run_json(run) for run in runs],
        view_type=view_type,
        filter_string=call.body.get("filter") or "",
        order_by=call.body.get("order_by") or [],
    )
    result = {"runs": found[offset : offset + max_results]}
    if offset + max_results < len(found):
        result["next_page_token"] = str(offset + max_results)
    return result


def metric_history(call) -> dict:
    run = _run(call)
    key = protocol.required(call.body, "metric_key")
    offset = protocol.integer({"t": call.body.get("page_token")}, "t", 0)
    points, following = selectors.metric_history(
        run=run, key=key, max_results=protocol.integer(call.body, "max_results"), offset=offset
    )
    result = {"metrics": points}
    if following:
        result["next_page_token"] = str(following)
    return result


ROUTES = routing.table(
    {
        "POST runs/create": create,
        "GET runs/get": get,
        "POST runs/update": update,
        "POST runs/delete": delete,
        "POST runs/restore": restore,
        "POST runs/log-metric": log_metric,
        "POST runs/log-parameter": log_param,
        "POST runs/log-batch": log_batch,
        "POST runs/set-tag": set_tag,
        "POST runs/delete-tag": delete_tag,
        "POST runs/log-inputs": log_inputs,
        "POST runs/outputs": log_outputs,
        "POST runs/log-model": log_model,
        "POST runs/search": search_runs,
        "GET runs/search": search_runs,
        "GET metrics/get-history": metric_history,
    }
)
