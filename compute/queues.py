"""Celery queue names. Each compute target has its own queue; control work has one more."""

CONTROL_QUEUE = "control"
LOCAL_TARGET = "local"


def target_queue(target_name: str) -> str:
    return f"target-{target_name}"
