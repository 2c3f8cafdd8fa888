"""The pieces of the authorization matrix: the callers, request bodies made from the served
OpenAPI schema, and a fingerprint of the database to prove a refused write changed nothing."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client

from runs import services as runs
from workspaces import services
from workspaces.models import Membership, Role

ROLES = ("anonymous", "wrong token", "revoked token", "stranger", "reader", "contributor", "owner")
OUR_APPS = ("workspaces", "runs", "environments", "compute", "data", "registry", "tracking", "auth")


@dataclass
class World:
    clients: dict[str, Client]
    values: dict[str, str]
    users: dict = field(default_factory=dict)  # role -> user, for session (page) callers


def world_make() -> World:
    """Workspace `lab` with an owner, a reader and a contributor; a stranger; an experiment,
    an interactive run with a file, and one API token per caller."""
    User = get_user_model()
    people = {role: User.objects.create_user(role.replace(" ", "-"), password="pw-12345678")
              for role in ("owner", "reader", "contributor", "stranger")}  # fmt: skip
    people["owner"].is_staff = True
    people["owner"].save()
    lab = services.workspace_create(name="lab", owner=people["owner"])
    Membership.objects.create(workspace=lab, user=people["reader"], role=Role.READER)
    Membership.objects.create(workspace=lab, user=people["contributor"], role=Role.CONTRIBUTOR)
    experiment = runs.experiment_create(workspace=lab, name="exp", user=people["owner"])
    run = runs.run_start_interactive(experiment=experiment, user=people["owner"])
    clients = {"anonymous": Client(), "wrong token": _bearer("mls_" + "x" * 43)}
    token, raw = services.api_token_create(user=people["reader"], name="old")
    services.api_token_revoke(user=people["reader"], token_id=token.pk)
    clients["revoked token"] = _bearer(raw)
    for role, user in people.items():
        _, raw = services.api_token_create(user=user, name="matrix")
        clients[role] = _bearer(raw)
    values = {"ws": "lab", "name": "lab", "experiment_id": str(experiment.pk),
              "run_id": run.pk, "username": "reader", "token_id": str(token.pk),
              "path": "outputs/a.txt", "version": "1", "alias": "latest",
              "sha256": "0" * 64, "snapshot_id": "00000000-0000-0000-0000-000000000000",
              "board_id": "1"}  # fmt: skip
    return World(clients, values, people)


def _bearer(raw: str) -> Client:
    return Client(headers={"authorization": f"Bearer {raw}"})


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, ops in schema["paths"].items()
            for method, op in ops.items()]  # fmt: skip


def url_of(path: str, op: dict, values: dict[str, str]) -> str:
    """The path with its parameters filled in, and the required query parameters."""
    url = re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "x"), path)
    query = [
        p["name"] for p in op.get("parameters", []) if p["in"] == "query" and p.get("required")
    ]
    return url + ("?" + "&".join(f"{name}=x" for name in query) if query else "")


def body_of(op: dict, schema: dict, values: dict[str, str]):
    """A small valid request body for the operation, from its JSON schema; `run_ids` name
    the world's run, so a check of the runs is not cut short by an empty list."""
    content = (op.get("requestBody") or {}).get("content") or {}
    if "application/json" not in content:
        return None
    body = example(content["application/json"]["schema"], schema)
    if isinstance(body, dict) and "run_ids" in body:
        body["run_ids"] = [values["run_id"]]
    return body


def example(node: dict, schema: dict, depth: int = 0):
    if "$ref" in node:
        target = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return example(target, schema, depth + 1)
    if "anyOf" in node:
        return example(node["anyOf"][0], schema, depth + 1)
    if "default" in node:
        return node["default"]
    return _typed(node, schema, depth)


def _typed(node: dict, schema: dict, depth: int):
    kind = node.get("type", "object")
    if kind == "object":
        properties = node.get("properties", {})
        return {key: example(properties[key], schema, depth + 1)
                for key in node.get("required", []) if key in properties}  # fmt: skip
    simple = {"string": "x", "integer": 1, "number": 1.0, "boolean": False, "array": []}
    return simple.get(kind)


def fingerprint() -> str:
    """A digest of every row of the studio's tables, but when a token was last used (any
    request that authenticates writes it)."""
    digest = hashlib.sha256()
    for model in apps.get_models():
        if model._meta.app_label not in OUR_APPS:
            continue
        fields = [f.attname for f in model._meta.concrete_fields if f.name != "last_used_at"]
        for row in model.objects.order_by("pk").values_list(*fields):
            digest.update(repr(row).encode())
    return digest.hexdigest()
