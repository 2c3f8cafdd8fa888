"""The one place that publishes to browsers over the channel layer.

Producers persist first, then call `publish`; consumers only forward what arrives. Sync
callers (Celery tasks, the executor, sync views) share one background event loop per
process, so the channel layer keeps its Redis connections instead of opening a new event
loop and connection pool for every message.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from typing import Literal, TypedDict

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)
PUBLISH_TIMEOUT = 5.0
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


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
        future = asyncio.run_coroutine_threadsafe(
            get_channel_layer().group_send(group, message), _background_loop()
        )
        future.result(PUBLISH_TIMEOUT)
    except Exception:
        logger.warning(
            "could not publish a %s event to %s", event.get("kind"), group, exc_info=True
        )


async def apublish(group: str, event: Event) -> None:
    await get_channel_layer().group_send(group, {"type": "live.event", "event": event})


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _lock:
        # After a fork (Celery's prefork pool) the parent's loop thread does not exist here.
        if _loop is None or _loop_pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(target=_loop.run_forever, name="live-publish", daemon=True).start()
        return _loop
