"""Cluster fixtures: a `gpu` cluster target and real `manage.py worker` nodes. The compute
tests get them from their conftest; other modules with
`pytest_plugins = ["tests.cluster_fixtures"]`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from compute import services
from tests.processes import REPO, stop, test_database_url


@pytest.fixture
def cluster(workspace, owner):
    """`gpu`: a cluster of lab with at most 2 runs at once."""
    return services.target_create(
        workspace=workspace, user=owner, name="gpu", type="cluster", vm_size="STANDARD_NC6",
        max_nodes=2, idle_seconds_before_scaledown=2,
    )  # fmt: skip


@pytest.fixture
def fast_offline(settings):
    """Nodes count as offline after 3 s without a heartbeat (the workers beat every second)."""
    settings.MLSTUDIO_NODE_OFFLINE_SECONDS = 3


@pytest.fixture
def start_node(transactional_db, tmp_path):
    """`start_node("--target", "gpu", ...)`: a real `manage.py worker` process on the test
    database and Redis; every one started is stopped at the end."""
    started = []

    def start(*args: str) -> subprocess.Popen:
        log = tmp_path / f"node-{len(started)}.log"
        env = {**os.environ, "DATABASE_URL": test_database_url()}
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "worker", *args],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        process.log = log
        started.append(process)
        return process

    yield start
    for process in started:
        stop(process)
