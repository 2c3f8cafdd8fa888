"""The one place that publishes to browsers over the channel layer.

Producers persist first, then call `publish`; consumers only forward what arrives. Sync
callers (Celery tasks, the executor, sync views) send on the layer's blocking Redis client
(mlstudio.channel_layer), in their own thread; async ones `apublish`.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Literal, TypedDict

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


class LogEvent(TypedDict):
    """Text appended to log `name` at byte `offset`: a client resumes from offset+len."""

    kind: Literal["log"]
    name: str
    offset: int
    data: str


class StatusEvent(TypedDict):
    """A run's status; `seq` (its number of transitions) lets a client drop stale ones."""

    kind: Literal["status"]
    run_id: str
    status: str
    detail: str
    seq: int


class MetricEvent(TypedDict):
    kind: Literal["metric"]
    run_id: str
    metrics: list


class FileEvent(TypedDict):
    kind: Literal["file"]
    name: str
    size: int


class RunEvent(TypedDict):
    """A run's tags and properties after a change: the whole of each, not the difference."""

    kind: Literal["run"]
    run_id: str
    tags: dict
    properties: dict


class ParamsEvent(TypedDict):
    """MLflow params newly logged to a run (params never change once logged)."""

    kind: Literal["params"]
    run_id: str
    params: dict


class SweepEvent(TypedDict):
    """A sweep's child moved or logged; the sweep's pages read its new state."""

    kind: Literal["sweep"]
    run_id: str
    child: str


Event = LogEvent | StatusEvent | MetricEvent | FileEvent | RunEvent | ParamsEvent | SweepEvent


def log_event(name: str, offset: int, data: str) -> LogEvent:
    return {"kind": "log", "name": name, "offset": offset, "data": data}


def status_event(*, run_id: str, status: str, detail: str, seq: int) -> StatusEvent:
    return {"kind": "status", "run_id": run_id, "status": status, "detail": detail, "seq": seq}


def metric_event(run_id: str, metrics: list) -> MetricEvent:
    return {"kind": "metric", "run_id": run_id, "metrics": metrics}


def file_event(name: str, size: int) -> FileEvent:
    return {"kind": "file", "name": name, "size": size}


def run_event(*, run_id: str, tags: dict, properties: dict) -> RunEvent:
    return {"kind": "run", "run_id": run_id, "tags": tags, "properties": properties}


def params_event(run_id: str, params: dict) -> ParamsEvent:
    return {"kind": "params", "run_id": run_id, "params": params}


def sweep_event(*, run_id: str, child: str) -> SweepEvent:
    return {"kind": "sweep", "run_id": run_id, "child": child}


def workspace_group(workspace_id: int) -> str:
    return f"workspace-{workspace_id}"


def run_group(run_id: str) -> str:
    # Channels caps group names below 100 characters; long experiment names make long run ids.
    if len(run_id) > 90:
        run_id = hashlib.sha256(run_id.encode()).hexdigest()
    return f"run-{run_id}"


def publish(group: str, event: Event) -> None:
    """Send `event` to every consumer in `group`. Waits for the send, so events of one
    producer arrive in order. A broker failure is logged, never raised: what matters was
    persisted before, and readers catch up from the store."""
    message = {"type": "live.event", "event": event}
    try:
        get_channel_layer().group_send_blocking(group, message)
    except Exception:
        logger.warning(
            "could not publish a %s event to %s", event.get("kind"), group, exc_info=True
        )


async def apublish(group: str, event: Event) -> None:
    await get_channel_layer().group_send(group, {"type": "live.event", "event": event})
