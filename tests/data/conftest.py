from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from mlstudio.sdk import Workspace

# The browser test's fixtures: Chromium, the uvicorn server and a signed-in page.
from tests.browser.conftest import chromium, page, server, signed_in  # noqa: F401
from workspaces import services
from workspaces.models import Membership, Role


@pytest.fixture
def contributor(workspace):
    user = get_user_model().objects.create_user("dave", password="dave-pw-1234")
    Membership.objects.create(workspace=workspace, user=user, role=Role.CONTRIBUTOR)
    return user


def sdk_workspace(url: str, user) -> Workspace:
    token = services.api_token_create(user=user, name="sdk")[1]
    return Workspace(name="lab", url=url, token=token)


@pytest.fixture
def ws(live_server, owner, workspace):
    return sdk_workspace(live_server.url, owner)


@pytest.fixture
def mnist(tmp_path):
    """A small folder as v1's notebooks upload: a few files in two folders."""
    folder = tmp_path / "mnist"
    (folder / "train").mkdir(parents=True)
    (folder / "test").mkdir()
    (folder / "train" / "images.bin").write_bytes(b"\x01" * 5000)
    (folder / "train" / "labels.bin").write_bytes(b"\x02" * 100)
    (folder / "test" / "images.bin").write_bytes(b"\x03" * 3000)
    return folder
