"""Reading MLflow requests: the JSON body or query, typed fields with MLflow's rules and
limits, and the mapping between MLflow's run statuses and MLStudio's."""

from __future__ import annotations

import math

import orjson

from runs.models import RunStatus
from tracking.errors import invalid

MAX_BATCH_BYTES = 1_000_000  # MLflow's limits for log-batch
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS_TAGS = 100
MAX_BATCH_ENTITIES = 1000
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
NONFINITE = {"NaN": "NaN", "nan": "NaN", "Infinity": "Infinity", "inf": "Infinity",
             "-Infinity": "-Infinity", "-inf": "-Infinity"}  # fmt: skip

# MLStudio status → MLflow's; and the statuses an MLflow client may set.
TO_MLFLOW = {
    RunStatus.NOT_STARTED: "SCHEDULED",
    RunStatus.QUEUED: "SCHEDULED",
    RunStatus.PREPARING: "SCHEDULED",
    RunStatus.STARTING: "SCHEDULED",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.FINALIZING: "RUNNING",
    RunStatus.CANCEL_REQUESTED: "RUNNING",
    RunStatus.COMPLETED: "FINISHED",
    RunStatus.FAILED: "FAILED",
    RunStatus.CANCELED: "KILLED",
}
FROM_MLFLOW = {
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.RUNNING,
    "FINISHED": RunStatus.COMPLETED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.CANCELED,
}


def body_of(request) -> dict:
    """The request's fields: the query of a GET, else its JSON body (MLflow reads an empty
    body as no fields)."""
    if request.method == "GET":
        return {key: _one_or_all(request.GET.getlist(key)) for key in request.GET}
    if not request.body:
        return {}
    try:
        data = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"The request body is not valid JSON ({exc}); send a JSON object.") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object of the call's fields.")
    return data


def _one_or_all(values: list[str]):
    return values[0] if len(values) == 1 else values


def required(body: dict, name: str, *aliases: str) -> str:
    for key in (name, *aliases):
        value = body.get(key)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise invalid(f"Invalid value {value!r} for parameter '{name}': give a string.")
            return value
    raise invalid(f"Missing value for required parameter '{name}'.")


def optional_str(body: dict, name: str, default: str = "") -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise invalid(f"Invalid value {value!r} for parameter '{name}': give a string.")
    return value


def integer(body: dict, name: str, default: int | None = None, *, path: str = "") -> int | None:
    value = body.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        value = None
    try:
        number = int(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
    except (TypeError, ValueError):
        where = f"{path}{name}"
        raise invalid(
            f"Invalid value {value!r} for parameter '{where}': give an integer."
        ) from None
    return number


def metric_value(value, *, where: str) -> float | str:
    """A metric's value: a number, or "NaN" / "Infinity" / "-Infinity" as MLflow's JSON writes
    non-finite doubles. Returns the float or the non-finite name."""
    if isinstance(value, bool) or value is None:
        raise invalid(f"Invalid value {value!r} for parameter '{where}': a metric is a number.")
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else NONFINITE[_name(value)]
    if isinstance(value, str):
        if value in NONFINITE:
            return NONFINITE[value]
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return number if math.isfinite(number) else NONFINITE[_name(number)]
    raise invalid(
        f"Invalid value {str(value)[:100]!r} for parameter '{where}': a metric value must be "
        "a number (or NaN, Infinity, -Infinity)."
    )


def _name(number: float) -> str:
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def key(value, *, where: str, what: str = "key") -> str:
    if not isinstance(value, str) or not value:
        raise invalid(f"Missing value for required parameter '{where}'.")
    if len(value) > MAX_KEY:
        raise invalid(f"'{where}' {what} {value[:40]!r}… is longer than {MAX_KEY} characters.")
    if value.startswith("/") or ".." in value.split("/"):
        raise invalid(f"Invalid {what} {value[:100]!r} for '{where}': no leading '/' or '..'.")
    return value


def text(value, *, where: str, limit: int) -> str:
    value = "" if value is None else str(value)
    if len(value) > limit:
        raise invalid(
            f"'{where}' is {len(value)} characters long; MLflow's limit is {limit} characters."
        )
    return value


def array(body: dict, name: str) -> list:
    value = body.get(name) or []
    if not isinstance(value, list):
        raise invalid(f"Invalid value for parameter '{name}': give a list.")
    return value


def batch_limits(metrics: list, params: list, tags: list) -> None:
    for what, items, limit in (
        ("metrics", metrics, MAX_BATCH_METRICS),
        ("params", params, MAX_BATCH_PARAMS_TAGS),
        ("tags", tags, MAX_BATCH_PARAMS_TAGS),
    ):
        if len(items) > limit:
            raise invalid(
                f"A batch logging request can contain at most {limit} {what}. Got {len(items)} "
                f"{what}. Please split up {what} across multiple requests and try again."
            )
    total = len(metrics) + len(params) + len(tags)
    if total > MAX_BATCH_ENTITIES:
        raise invalid(
            f"A batch logging request can contain at most {MAX_BATCH_ENTITIES} metrics, params, "
            f"and tags in total. Got {total}. Split them across requests."
        )
