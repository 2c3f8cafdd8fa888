"""The authorization matrix: every operation of the served OpenAPI schema, tried by every
kind of caller. Anonymous, wrong and revoked tokens get 401; a stranger to the workspace gets
404 (nothing says it exists); a reader reads but may not write (403); a contributor writes
but may not administer; an owner may do all. Nothing answers 5xx, and a refused write leaves
every row of the database as it was."""

from __future__ import annotations

import json

import pytest

from tests.security.matrix import ROLES, body_of, fingerprint, operations, url_of, world_make

# Routes where a contributor is refused too: administering the workspace, and deleting what
# others may have made (an experiment and its runs, a registered model version).
OWNER_ONLY = ("/api/workspaces/{name}/members", "/api/workspaces/{name}",
              "DELETE /api/workspaces/{ws}/experiments/{experiment_id}",
              "DELETE /api/workspaces/{ws}/models/{name}/versions/{version}",
              "POST /api/workspaces/{ws}/datastores/local",
              "DELETE /api/workspaces/{ws}/datastores/{name}",
              "DELETE /api/workspaces/{ws}/datasets/{name}/versions/{version}")  # fmt: skip
# Writes that only read: opening a TensorBoard over runs one may read, and closing it; what
# files a dataset definition matches.
READER_WRITES = ("/api/workspaces/{ws}/tensorboards", "/api/workspaces/{ws}/datasets/resolve")
# Permitted calls not made here, with why: they start a server process that outlives a test
# (tests/runs/test_tensorboard.py covers them); their refusals are still tried.
NOT_MADE = ("POST /api/workspaces/{ws}/tensorboards",)
REFUSED = (401, 403, 404)


def expected(role: str, method: str, path: str) -> set[int] | None:
    """The statuses that are right for this caller, or None for "any answer below 500 that
    is not a refusal for lack of rights"."""
    in_workspace = path.startswith(("/api/workspaces/{ws}", "/api/workspaces/{name}"))
    if role in ("anonymous", "wrong token", "revoked token"):
        return {401}
    if not in_workspace:
        return None
    if role == "stranger":
        return {404}
    writes = method != "GET" and not path.startswith(READER_WRITES)
    if role == "reader" and writes:
        return {403}
    owner_only = writes and any(
        f"{method} {path}" == p or path == p or path.startswith(p + "/") for p in OWNER_ONLY
    )
    if role == "contributor" and owner_only:
        return {403}
    return None


def order(case):
    """Refusals first, then the contributor, then the owner; deletions last, the deepest
    first, so the workspace goes at the very end."""
    role, (method, path, _op) = case
    return (ROLES.index(role), method == "DELETE", -len(path) if method == "DELETE" else 0)


@pytest.mark.django_db(transaction=True)
def test_every_operation_answers_every_caller_as_its_role_allows():
    world = world_make()
    schema = world.clients["reader"].get("/api/openapi.json").json()
    cases = sorted(((r, op) for r in ROLES for op in operations(schema)), key=order)
    wrong = []
    for role, (method, path, op) in cases:
        if f"{method} {path}" in NOT_MADE and expected(role, method, path) is None:
            continue
        before = fingerprint() if method != "GET" else None
        body = body_of(op, schema, world.values)
        response = world.clients[role].generic(
            method, url_of(path, op, world.values),
            json.dumps(body) if body is not None else "",
            content_type="application/json",
        )  # fmt: skip
        status, want = response.status_code, expected(role, method, path)
        if status >= 500 or (want is not None and status not in want):
            wrong.append(f"{role:>13} {method:6} {path} -> {status}, expected {want or '<500'}")
        elif want is None and role != "anonymous" and status in (401, 403):
            wrong.append(f"{role:>13} {method:6} {path} -> {status}, refused a permitted call")
        if before is not None and status in REFUSED and fingerprint() != before:
            wrong.append(f"{role:>13} {method:6} {path} -> {status} but changed the database")
    print(f"authorization matrix: {len(operations(schema))} operations x {len(ROLES)} callers "
          f"= {len(cases)} cases, {len(wrong)} wrong")  # fmt: skip
    assert not wrong, "\n".join(wrong)
