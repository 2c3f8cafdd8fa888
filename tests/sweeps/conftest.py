# The browser test of the sweep page uses the browser tests' fixtures.
from tests.browser.conftest import (  # noqa: F401
    chromium,
    page,
    pytest_runtest_makereport,
    server,
    signed_in,
)
