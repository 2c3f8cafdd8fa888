"""Schemathesis against the served OpenAPI schema, through the real WSGI application, as the
workspace's owner with a token: every operation, a bounded number of generated inputs each
(valid and invalid), and none answers 5xx. Path parameters name the world's workspace, run and
experiment, so the generated bodies and queries reach the handlers instead of a 404."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.security.matrix import world_make
from tests.security.test_authorization import NOT_MADE

EXAMPLES = 6  # per operation: ~80 operations, so the test stays under a minute on 2 cores


def order(operation) -> tuple:
    """Deletions last, the deepest first, so the workspace goes at the very end."""
    deleting = operation.method.upper() == "DELETE"
    return (deleting, -len(operation.path) if deleting else 0, operation.path)


def strategy(operation, values: dict[str, str]):
    """Valid and invalid inputs, the path naming the world's objects."""
    names = [p.name for p in operation.path_parameters]
    pinned = {name: values[name] for name in names if name in values}
    return st.one_of(operation.as_strategy(mode, path_parameters=pinned) for mode in GenerationMode)


@pytest.mark.django_db(transaction=True)
def test_no_generated_input_makes_the_api_answer_5xx():
    world = world_make()
    auth = {"Authorization": world.clients["owner"].defaults["HTTP_AUTHORIZATION"]}
    app = get_wsgi_application()
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, headers=auth)
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=order)
    failures, calls = [], 0
    for operation in operations:
        if f"{operation.method.upper()} {operation.path}" in NOT_MADE:
            continue

        @given(case=strategy(operation, world.values))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def call(case):
            nonlocal calls
            response = case.call(headers=auth)
            calls += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                f"{case.as_curl_command()}")  # fmt: skip

        call()
    print(f"schemathesis: {len(operations)} operations, {calls} calls, {len(failures)} 5xx")
    assert calls >= len(operations)
    assert not failures, "\n".join(failures[:20])
