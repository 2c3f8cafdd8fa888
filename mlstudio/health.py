"""What /healthz reports: the database, the broker and the worker nodes."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection

from compute.selectors import nodes_online


def health_check() -> dict:
    checks = {
        "database": _check(_database),
        "broker": _check(_broker),
        "workers": _check(_workers),
    }
    healthy = all(check["ok"] for check in checks.values())
    return {"status": "ok" if healthy else "unhealthy", **checks}


def _check(probe) -> dict:
    try:
        return {"ok": True, **probe()}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"vendor": connection.vendor}


def _broker() -> dict:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return {"embedded": settings.REDIS_EMBEDDED}


def _workers() -> dict:
    nodes = list(nodes_online())
    if not nodes:
        raise RuntimeError("no worker node has sent a heartbeat recently; start one")
    return {"online": len(nodes), "nodes": [node.name for node in nodes]}
