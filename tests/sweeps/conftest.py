import pytest

from mlstudio.sdk import Workspace

# The browser test of the sweep page uses the browser tests' fixtures.
from tests.browser.conftest import (  # noqa: F401
    chromium,
    page,
    pytest_runtest_makereport,
    server,
    signed_in,
)
from workspaces import services


@pytest.fixture
def ws(live_server, owner, workspace):
    """The SDK's workspace `lab`, as alice, against the live studio."""
    token = services.api_token_create(user=owner, name="sdk")[1]
    return Workspace(name="lab", url=live_server.url, token=token)
