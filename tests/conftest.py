from __future__ import annotations

import contextlib

import pytest
from channels.layers import channel_layers
from django.contrib.auth import get_user_model
from django.test import Client

from mlstudio.sdk import Workspace
from runs import quotas
from tests import processes
from workspaces import services
from workspaces.models import Membership, Role

# Fixture modules that tests import as well as register: rewrite their asserts either way.
pytest.register_assert_rewrite("tests.cluster_fixtures", "tests.docker_fixtures")


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("alice", password="alice-pw-1234")


@pytest.fixture
def teammate(db):
    return get_user_model().objects.create_user("bob", password="bob-pw-1234")


@pytest.fixture
def stranger(db):
    return get_user_model().objects.create_user("charlie", password="charlie-pw-1234")


@pytest.fixture
def contributor(workspace):
    """dave, who contributes to `lab`."""
    user = get_user_model().objects.create_user("dave", password="dave-pw-1234")
    Membership.objects.create(workspace=workspace, user=user, role=Role.CONTRIBUTOR)
    return user


@pytest.fixture
def workspace(owner, teammate):
    """`lab`: alice owns it, bob reads it; charlie is a stranger to it."""
    ws = services.workspace_create(name="lab", owner=owner)
    Membership.objects.create(workspace=ws, user=teammate, role=Role.READER)
    return ws


def sdk_workspace(url: str, user) -> Workspace:
    """The SDK's Workspace `lab` at `url`, with a new API token of `user`'s."""
    token = services.api_token_create(user=user, name="sdk")[1]
    return Workspace(name="lab", url=url, token=token)


@pytest.fixture
def ws(live_server, owner, workspace):
    """Alice's SDK Workspace on the live server."""
    return sdk_workspace(live_server.url, owner)


def bearer_client(user, workspace_name: str | None = None) -> Client:
    _, raw = services.api_token_create(user=user, name="test", workspace_name=workspace_name)
    client = Client(headers={"authorization": f"Bearer {raw}"})
    client.raw_token = raw
    return client


@pytest.fixture
def api_as():
    return bearer_client


@pytest.fixture
def logged_in():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def control_worker(transactional_db, tmp_path):
    """A real Celery worker process consuming the control queue."""
    name, process = processes.start_worker(["control"], log=tmp_path / "worker.log")
    yield name
    processes.stop(process)


@pytest.fixture(autouse=True)
def _members_create_workspaces(settings):
    # The fixtures' ordinary users own workspaces they make; tests/security and
    # tests/workspaces/test_creation_policy.py hold the default `staff` policy to account.
    settings.MLSTUDIO_WORKSPACE_CREATORS = "EVERYONE"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness would dominate the suite; hashing strength isn't under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    # Each async test runs on an event loop of its own, but Channels caches one layer per
    # process. A receive left pending on an earlier test's closed loop holds that layer's
    # state for the old loop; CI once hung 300 s closing a test's loop behind one. A new
    # layer per test has no such state; the old one's connections go with its loop.
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fresh_storage_count():
    # runs.quotas keeps each workspace's bytes for a few seconds; the next test's workspace
    # may reuse this one's id.
    quotas._counted.clear()


@contextlib.contextmanager
def local_worker_process(log, **extra_env: str):
    """A real Celery worker process executing runs from the `local` target's queue."""
    _, process = processes.start_worker(
        ["target-local"], log=log, extra_env={"MLSTUDIO_CANCEL_GRACE_SECONDS": "2", **extra_env}
    )
    try:
        yield process
    finally:
        processes.stop(process)


@pytest.fixture
def local_worker(transactional_db, tmp_path, settings):
    with local_worker_process(tmp_path / "local-worker.log") as process:
        yield process


@pytest.fixture
def connected_worker(live_server, tmp_path):
    """A worker whose runs get a token and the studio's URL (as `manage.py studio` sets it),
    so their scripts can use the API."""
    log = tmp_path / "connected-worker.log"
    with local_worker_process(log, MLSTUDIO_PUBLIC_URL=live_server.url) as process:
        yield process
