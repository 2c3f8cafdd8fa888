"""Browser tests: Playwright drives Debian's Chromium against a real ASGI server (uvicorn)
and a real Celery worker, on the test database. A failing test leaves a screenshot in
test-artifacts/."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from runs import services as run_services
from tests.processes import REPO, free_port, stop, test_database_url, wait_until
from workspaces import services

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@contextlib.contextmanager
def serving(log_folder: Path, **extra_env: str):
    """The studio's ASGI app served by uvicorn, as `manage.py studio` runs it; its address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": test_database_url(), "MLSTUDIO_PUBLIC_URL": url,
           **extra_env}  # fmt: skip
    with open(log_folder / "web.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "mlstudio.asgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def answers() -> bool:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
        except urllib.error.HTTPError:
            return True  # 503 until a worker heartbeats, but it answers
        except OSError:
            return False
        return True

    try:
        wait_until(answers, 30, "uvicorn to answer")
        yield url
    finally:
        stop(process)


@pytest.fixture
def server(transactional_db, tmp_path, local_worker):
    with serving(tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/test does it)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, which makes Django's
    # ORM refuse to work here; the tests themselves are plain synchronous code.
    # Scoped to the module, so the loop stops before the suite's async tests run.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.failed_call = report.failed
    return report


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    if getattr(request.node, "failed_call", False):
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def experiment(owner, workspace):
    """Alice's experiment `exp` in `lab`."""
    return run_services.experiment_create(workspace=workspace, name="exp", user=owner)


@pytest.fixture
def signed_in(page, server, owner, workspace):
    """A browser signed in as alice through a one-time login link."""
    page.goto(f"{server}/login/link/{services.login_link_create(user=owner)}/")
    page.wait_for_selector("text=Workspaces")
    return page
