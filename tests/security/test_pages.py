"""The page half of the authorization matrix: every route of the URLconf, found by walking it
(a page added without a rule here fails the first test), tried by every kind of caller.

Anonymous visitors are sent to the login page; a stranger to the workspace gets 404 (nothing
says it exists); a member below the page's role is refused and the database is unchanged; a
member at or above it gets the page. The API has its own matrix (test_authorization.py)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from data import datasets
from data import services as data_services
from registry import services as registry
from runs.models import Run
from tests.security.matrix import ROLES, fingerprint, world_make
from workspaces.models import Role, Workspace

SIGNED_IN, PUBLIC = "signed-in", "public"
MEMBERS = ("reader", "contributor", "owner")
# Bearer tokens are for the API and the SDK: none opens a page, not even the owner's.
TOKENS = ("wrong token", "revoked token", "owner's token")
RANK = {Role.READER: 0, Role.CONTRIBUTOR: 1, Role.OWNER: 2}
# Covered elsewhere: the REST API by test_authorization.py; the admin is Django's own, behind
# its staff check, tried once below.
ELSEWHERE = ("api/",)


@dataclass(frozen=True)
class Rule:
    method: str
    role: str  # PUBLIC, SIGNED_IN or the workspace role the call needs
    refused: int = 403  # what a member below `role` gets (a page's form may redirect or 400)
    data: tuple = ()  # the form posted
    made: bool = True  # False: a permitted call not made here (it starts a server process)
    ok: tuple = ()  # the statuses a permitted call answers, when not "below 400"


WS = "w/<str:name>/"
RUN = WS + "runs/<str:run_id>/"
BOARD = "tensorboard/<str:key>/"
RULES: dict[str, list[Rule]] = {
    "healthz": [Rule("GET", PUBLIC, ok=(200, 503))],  # 503 while no worker answers
    "admin/": [Rule("GET", SIGNED_IN)],
    "": [Rule("GET", SIGNED_IN)],
    "login/": [Rule("GET", PUBLIC)],
    "login/link/<str:token>/": [Rule("GET", PUBLIC, ok=(400,))],  # not a link: 400 to all
    "logout/": [Rule("POST", SIGNED_IN, ok=(302,))],
    "tokens/": [Rule("GET", SIGNED_IN), Rule("POST", SIGNED_IN, data=(("name", "t"),))],
    "tokens/<int:token_id>/revoke/": [Rule("POST", SIGNED_IN)],
    "workspaces/new/": [Rule("POST", SIGNED_IN, 302, (("name", "new-lab"),))],
    WS: [Rule("GET", Role.READER)],
    WS + "settings/": [Rule("GET", Role.READER)],
    WS + "settings/members/": [
        Rule("POST", Role.OWNER, 302, (("username", "stranger"), ("role", "reader")))
    ],
    WS + "config.json": [Rule("POST", Role.READER)],
    WS + "experiments/": [Rule("GET", Role.READER)],
    WS + "experiments/<int:experiment_id>/": [Rule("GET", Role.READER)],
    RUN: [Rule("GET", Role.READER)],
    WS + "submit/": [Rule("GET", Role.READER)],
    WS + "tensorboard/": [Rule("POST", Role.READER, data=(("run", "{run_id}"),), made=False)],
    WS + BOARD: [Rule("GET", Role.READER)],
    WS + BOARD + "<path:path>": [Rule("GET", Role.READER)],
    WS + "models/": [Rule("GET", Role.READER)],
    WS + "models/<str:model>/": [Rule("GET", Role.READER)],
    WS + "models/<str:model>/<int:version>/": [Rule("GET", Role.READER)],
    RUN + "models/": [Rule("GET", Role.READER)],
    RUN + "children-table/": [Rule("GET", Role.READER)],
    WS + "models/<str:model>/<int:version>/delete/": [
        Rule("POST", Role.OWNER, data=(("confirm", "{model}:{version}"),))
    ],
    WS + "data/": [Rule("GET", Role.READER)],
    WS + "data/datastores/<str:datastore>/": [Rule("GET", Role.READER)],
    WS + "data/datasets/<str:dataset>/": [Rule("GET", Role.READER)],
    WS + "data/datasets/<str:dataset>/<int:version>/": [Rule("GET", Role.READER)],
    RUN + "register-model/": [
        Rule("POST", Role.CONTRIBUTOR, data=(("model_name", "m2"), ("model_path", "outputs")))
    ],
    WS + "compute/": [
        Rule("GET", Role.READER),
        Rule(
            "POST",
            Role.CONTRIBUTOR,
            400,
            (("name", "cpu-{role}"), ("type", "cluster"), ("min_nodes", "0"), ("max_nodes", "2")),
        ),
    ],
    WS + "compute/<str:target>/delete/": [Rule("POST", Role.CONTRIBUTOR, 302)],
    WS + "environments/": [
        Rule("GET", Role.READER),
        Rule(
            "POST", Role.CONTRIBUTOR, 200, (("name", "env-a-{role}"), ("pip_requirements", "six"))
        ),
    ],
    WS + "environments/<str:env>/": [
        Rule("GET", Role.READER),
        Rule(
            "POST", Role.CONTRIBUTOR, 200, (("name", "env-b-{role}"), ("pip_requirements", "six"))
        ),
    ],
}
MLFLOW = "mlflow/w/<str:ws>/"  # the MLflow API: bearer tokens, tried with the API's callers
MLFLOW_RULES: dict[str, tuple[str, str]] = {
    MLFLOW + "api/2.0/mlflow/<path:route>": ("GET", "experiments/search?max_results=5"),
    MLFLOW + "ajax-api/2.0/mlflow/<path:route>": ("GET", "experiments/search?max_results=5"),
    MLFLOW + "api/2.0/mlflow-artifacts/artifacts": ("GET", "?path={run_id}/artifacts"),
    MLFLOW + "api/2.0/mlflow-artifacts/artifacts/<path:path>": (
        "GET",
        "{run_id}/artifacts/model.pkl",
    ),
    MLFLOW + "version": ("GET", PUBLIC),
    MLFLOW + "server-info": ("GET", PUBLIC),
}


def routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the URLconf as written in it; included URLconfs are walked, but the
    API and the admin are one route each."""
    found = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver) and route not in ("admin/", *ELSEWHERE):
            found += routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLResolver | URLPattern):
            found.append(route)
    return found


def test_every_route_of_the_urlconf_has_a_rule():
    known = set(RULES) | set(MLFLOW_RULES) | set(ELSEWHERE)
    assert sorted(set(routes()) - known) == [], "new routes: add their rule to RULES"
    assert sorted(known - set(routes())) == [], "rules of routes that are gone"


def page_world():
    """The API matrix's world, plus what the pages show: a run file, a model from it, a
    cluster target; and the values the routes' parameters take."""
    world = world_make()
    owner = world.clients["owner"]
    run_url = f"/api/workspaces/lab/runs/{world.values['run_id']}/files/outputs/model.pkl"
    assert owner.put(run_url, b"weights", content_type="application/octet-stream").status_code < 300
    run = Run.objects.get(pk=world.values["run_id"])
    registry.model_register_from_run(run=run, user=world.users["owner"], name="m",
                                     model_path="outputs/model.pkl")  # fmt: skip
    response = owner.post("/api/workspaces/lab/compute", {"name": "gpu", "type": "cluster"},
                          content_type="application/json")  # fmt: skip
    assert response.status_code < 300, response.content
    _dataset(world)
    world.values.update(model="m", version="1", target="gpu", env="MLStudio-Minimal",
                        dataset="iris", datastore="workspaceblobstore",
                        key="0" * 16, path="data/plugins_listing", token="not-a-link")  # fmt: skip
    return world


def _dataset(world) -> None:
    """A tabular dataset of one file in the default datastore, uploaded as the SDK does."""
    owner, body = world.clients["owner"], b"x,y\n1,2\n"
    sha = hashlib.sha256(body).hexdigest()
    put = owner.put(
        f"/api/workspaces/lab/blobs/{sha}", body, content_type="application/octet-stream"
    )
    assert put.status_code < 300, put.content
    datastore = data_services.datastore_default(workspace=Workspace.objects.get(name="lab"))
    data_services.datastore_files_commit(datastore=datastore, target_path="", overwrite=True,
                                         files=[{"path": "iris.csv", "size": len(body),
                                                 "sha256": sha, "mode": 0o644}])  # fmt: skip
    definition = {"kind": "tabular", "format": "delimited", "options": {"header": True},
                  "paths": [{"datastore": "workspaceblobstore", "path": "iris.csv"}]}  # fmt: skip
    datasets.dataset_register(workspace=datastore.workspace, user=world.users["owner"],
                              name="iris", definition=definition)  # fmt: skip


def url_of(route: str, values: dict[str, str]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)


def session(world, role: str) -> Client:
    """A signed-in browser for a person; for a token caller, the API matrix's client."""
    if role in TOKENS:
        return world.clients[role.removesuffix("'s token")]
    client = Client()
    if role in world.users:
        client.force_login(world.users[role])
    return client


def expected(role: str, route: str, rule: Rule) -> str:
    """`login`, `404`, `refused` or `allowed` for this caller of the route."""
    if rule.role == PUBLIC:
        return "allowed"
    if role == "anonymous" or role in TOKENS:
        return "admin login" if route == "admin/" else "login"
    if rule.role == SIGNED_IN:
        return _signed_in(role, route)
    if role == "stranger":
        return "404"
    if route.startswith(WS + "tensorboard/<"):
        return "404"  # no board is open: the same answer for members, after the access check
    return "allowed" if RANK[role] >= RANK[rule.role] else "refused"


def _signed_in(role: str, route: str) -> str:
    if route == "admin/":  # the owner of the world is staff; the others are not
        return "allowed" if role == "owner" else "admin login"
    if route == "workspaces/new/":  # MLSTUDIO_WORKSPACE_CREATORS=staff, the default
        return "allowed" if role == "owner" else "refused"
    if route == "tokens/<int:token_id>/revoke/":  # the reader's own token; others' is no one's
        return "allowed" if role == "reader" else "404"
    return "allowed"


def judge(response, want: str, rule: Rule) -> bool:
    status, location = response.status_code, response.get("Location", "")
    if want == "login":
        return status == 302 and location.startswith("/login/?next=")
    if want == "admin login":
        return status == 302 and location.startswith("/admin/login/")
    if want == "404":
        return status == 404
    if want == "refused":
        return status == rule.refused
    if rule.ok:
        return status in rule.ok
    return status < 400 and not location.startswith(("/login/", "/admin/login/"))


@pytest.mark.django_db(transaction=True)
def test_every_page_answers_every_caller_as_its_role_allows(settings):
    settings.MLSTUDIO_WORKSPACE_CREATORS = "STAFF"
    world = page_world()
    callers = ("anonymous", *TOKENS, "stranger", *MEMBERS)
    cases = [(role, route, rule) for role in callers for route, rules in RULES.items()
             for rule in rules]  # fmt: skip
    cases.sort(key=lambda case: (callers.index(case[0]), "delete" in case[1]))
    wrong = []
    for role, route, rule in cases:
        want = expected(role, route, rule)
        if want == "allowed" and not rule.made:
            continue
        client = session(world, role)  # before the fingerprint: signing in sets last_login
        before = fingerprint() if rule.method == "POST" else None
        form = urlencode([(k, v.format(**world.values, role=role)) for k, v in rule.data])
        response = client.generic(rule.method, url_of(route, world.values), form,
                                  "application/x-www-form-urlencoded")  # fmt: skip
        status = response.status_code
        if not judge(response, want, rule) or (status >= 500 and status not in rule.ok):
            wrong.append(f"{role:>11} {rule.method:4} /{route} -> {status} "
                         f"{response.get('Location', '')}, expected {want}")  # fmt: skip
        if before is not None and want != "allowed" and fingerprint() != before:
            wrong.append(f"{role:>11} {rule.method:4} /{route} -> refused but changed the database")
    print(f"page matrix: {sum(map(len, RULES.values()))} page calls x {len(callers)} callers "
          f"= {len(cases)} cases, {len(wrong)} wrong")  # fmt: skip
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db(transaction=True)
def test_the_mlflow_routes_answer_callers_with_tokens_as_their_roles_allow():
    world = page_world()
    values = {"ws": "lab"}
    wrong = []
    for route, (method, rest) in MLFLOW_RULES.items():
        url = url_of(route.split("<path:")[0].rstrip("/") if "<path:" in route else route, values)
        if rest != PUBLIC:
            rest = rest.format(**world.values)
            url = url.rstrip("/") + (rest if rest.startswith("?") else "/" + rest)
        for role in ROLES:
            status = world.clients[role].generic(method, url).status_code
            if rest == PUBLIC:
                want = {200}
            elif role in ("anonymous", "wrong token", "revoked token"):
                want = {401}
            else:
                want = {404} if role == "stranger" else {200}
            if status not in want:
                wrong.append(f"{role:>13} {method} {url} -> {status}, expected {want}")
    assert not wrong, "\n".join(wrong)
