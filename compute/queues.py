"""Celery queue names. Each compute target has its own queue; control work has one more.

`local` is one queue for every workspace: its nodes are the studio's own machines. Any other
target's queue carries its workspace, `target-<workspace>.<target>`; neither name may contain
a dot, so targets of the same name in two workspaces never share a queue.
"""

from __future__ import annotations

CONTROL_QUEUE = "control"
LOCAL_TARGET = "local"
QUEUE_PREFIX = "target-"
SEPARATOR = "."


def target_queue(target_name: str, workspace_name: str | None = None) -> str:
    if target_name == LOCAL_TARGET:
        return QUEUE_PREFIX + LOCAL_TARGET
    if not workspace_name:
        raise ValueError(f"the queue of compute target {target_name!r} depends on its workspace")
    return f"{QUEUE_PREFIX}{workspace_name}{SEPARATOR}{target_name}"


def parse_target_queue(queue: str) -> tuple[str | None, str] | None:
    """(workspace name or None for local, target name) of a target queue; None for others."""
    if not queue.startswith(QUEUE_PREFIX):
        return None
    rest = queue[len(QUEUE_PREFIX) :]
    if rest == LOCAL_TARGET:
        return None, LOCAL_TARGET
    workspace, dot, target = rest.partition(SEPARATOR)
    if not dot or not workspace or not target:
        return None
    return workspace, target
