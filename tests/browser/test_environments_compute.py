"""The Environments and Compute pages in a real browser: registering through the labelled
forms, versions, specs and Dockerfiles, and build and node status that follow a real run
without a reload."""

import http.server
import threading
from pathlib import Path

import pytest

from compute.models import ComputeTarget
from environments.models import EnvironmentVersion
from tests.environments.helpers import make_wheel
from tests.runs.helpers import submit_script, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CURATED = ["MLStudio-Minimal", "MLStudio-PyTorch-CPU", "MLStudio-SKLearn"]

# Left on the page's window: still there later only if the page was never reloaded.
MARK = "window.notReloaded = true"
STILL_MARKED = "window.notReloaded === true"


def register_environment(page, name: str, **fields: str) -> None:
    """Fill the register form by its labels (so each field is labelled) and send it."""
    page.get_by_label("Name", exact=True).fill(name)
    for label, value in fields.items():
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Register").click()


def variable(page, name: str) -> str:
    return page.locator("#spec tr", has_text=f"Variable {name}").locator("td").inner_text()


def test_it_lists_curated_environments_and_registers_new_versions_from_the_form(signed_in, server):
    page = signed_in
    page.goto(f"{server}/w/lab/environments/")
    assert page.title() == "Environments · lab · MLStudio"
    for name in CURATED:
        assert "curated" in page.locator(f"#environments tr[data-name='{name}']").inner_text()

    register_environment(
        page,
        "web",
        **{"Pip requirements": "rich==13.0.0", "Environment variables": "EPOCHS=3"},
    )
    page.wait_for_url("**/w/lab/environments/web/")
    page.get_by_text("Registered web version 1.").wait_for()
    assert page.title().startswith("web · Environments · lab")
    spec = page.locator("#spec")
    assert "Version 1" in spec.inner_text()
    assert "virtualenv" in spec.inner_text() and "rich==13.0.0" in spec.inner_text()
    assert page.inner_text("#build-status") == "Not built"

    # The detail page's form starts from the shown version: change one thing.
    assert page.get_by_label("Pip requirements").input_value() == "rich==13.0.0\n"
    page.get_by_label("Environment variables").fill("EPOCHS=5")
    page.get_by_role("button", name="Register").click()
    page.get_by_text("Registered web version 2.").wait_for()
    assert page.locator("#versions tbody tr").count() == 2
    assert "Version 2" in spec.inner_text() and "EPOCHS" in spec.inner_text()
    assert variable(page, "EPOCHS") == "5"

    page.get_by_role("button", name="Register").click()
    page.get_by_text("Nothing changed: web is still version 2.").wait_for()

    page.locator("#versions").get_by_role("link", name="1", exact=True).click()
    page.wait_for_url("**/web/?version=1")
    assert "Version 1" in spec.inner_text()
    assert variable(page, "EPOCHS") == "3"

    page.goto(f"{server}/w/lab/environments/")
    row = page.locator("#environments tr[data-name='web']")
    assert row.locator("td").nth(1).inner_text() == "2"
    assert "curated" not in row.inner_text()
    assert EnvironmentVersion.objects.filter(environment__name="web").count() == 2


def test_it_shows_the_generated_dockerfile_and_says_why_a_spec_is_refused(signed_in, server):
    page = signed_in
    page.goto(f"{server}/w/lab/environments/")
    page.get_by_label("Run in a Docker image").check()
    page.get_by_label("Base image", exact=True).fill("python:3.12-slim")
    register_environment(
        page,
        "boxed",
        **{
            "Pip requirements": "rich==13.0.0",
            "Environment variables": "EPOCHS 3",
        },
    )
    page.get_by_text("Environment variables line 1 ('EPOCHS 3') is not NAME=value.").wait_for()
    assert page.get_by_label("Base image", exact=True).input_value() == "python:3.12-slim"
    assert not EnvironmentVersion.objects.filter(environment__name="boxed").exists()

    page.get_by_label("Environment variables").fill("EPOCHS=3")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/w/lab/environments/boxed/")
    assert "docker" in page.locator("#spec tr", has_text="Kind").inner_text()
    page.get_by_role("heading", name="Generated Dockerfile").wait_for()
    dockerfile = page.inner_text("#dockerfile")
    assert dockerfile.startswith("FROM python:3.12-slim\n")
    assert "RUN python3 -m venv /opt/mlstudio/env" in dockerfile
    assert "pip install" in dockerfile


SCRIPT = """
    import tinypkg
    print(tinypkg.GREETING, flush=True)
"""


class GatedWheels:
    """A local package index (a find-links page) holding one tiny wheel that answers only
    once opened: a build that is slow the way a real download is, for as long as a test
    needs to watch it."""

    def __init__(self, folder: Path):
        make_wheel(folder)
        self.gate = threading.Event()
        gate = self.gate

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                gate.wait(60)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gated_wheels(tmp_path):
    wheels = GatedWheels(tmp_path / "wheels")
    yield wheels
    wheels.close()


def test_it_shows_the_build_status_and_log_live_while_a_run_builds_the_environment(
    signed_in, server, owner, experiment, api_as, gated_wheels
):
    page = signed_in
    page.goto(f"{server}/w/lab/environments/")
    pip = "\n".join(["--no-index", f"--find-links {gated_wheels.url}", "tinypkg"])
    register_environment(page, "tiny", **{"Pip requirements": pip})
    page.wait_for_url("**/w/lab/environments/tiny/")
    assert page.inner_text("#build-status") == "Not built"
    assert page.inner_text("#build-log") == "No build on this server yet."
    page.evaluate(MARK)

    environment = {"name": "tiny", "version": "1"}
    run_id = submit_script(api_as(owner), experiment, {"train.py": SCRIPT}, environment=environment)
    # uv waits on the index: the build is under way, and its log so far is on the page.
    page.wait_for_selector("#build-status:has-text('Building')")
    page.wait_for_selector(f"#build-log:has-text('{gated_wheels.url}')")
    assert page.inner_text("#build-status") == "Building"

    gated_wheels.gate.set()
    page.wait_for_selector("#build-status:has-text('Succeeded')")
    assert "+ tinypkg==1.0" in page.inner_text("#build-log")  # uv's words
    assert page.evaluate(STILL_MARKED)
    assert wait_for_status(run_id, "Completed", "Failed", timeout=60).status == "Completed"


SLEEPER = """
    import time
    print("working", flush=True)
    time.sleep(8)
"""


def test_it_shows_the_local_node_going_busy_and_idle_while_a_run_goes_on(
    signed_in, server, owner, experiment, api_as
):
    page = signed_in
    page.goto(f"{server}/w/lab/compute/")
    assert page.title() == "Compute · lab · MLStudio"
    local = page.locator("#targets tr[data-target='local']")
    assert "Local" in local.inner_text()
    # The worker registers as a node once it is up; the page picks it up by itself.
    page.wait_for_selector("#nodes tbody tr:has-text('local') .node-idle", timeout=30_000)
    page.evaluate(MARK)

    run_id = submit_script(api_as(owner), experiment, {"train.py": SLEEPER})
    page.wait_for_selector("#nodes tbody tr:has-text('local') .node-busy")
    page.wait_for_selector(
        "#targets tr[data-target='local'] [data-field=running_node_count]:text-is('1')"
    )
    wait_for_status(run_id, "Completed", timeout=60)
    page.wait_for_selector("#nodes tbody tr:has-text('local') .node-idle")
    page.wait_for_selector(
        "#targets tr[data-target='local'] [data-field=running_node_count]:text-is('0')"
    )
    assert page.evaluate(STILL_MARKED)


def test_it_registers_a_cluster_target_and_says_what_is_wrong_with_bad_input(signed_in, server):
    page = signed_in
    page.goto(f"{server}/w/lab/compute/")
    page.get_by_label("Type").select_option("docker")
    assert page.get_by_label("Docker host").is_visible()
    assert page.get_by_label("Min nodes").is_hidden()
    page.get_by_label("Type").select_option("cluster")
    assert page.get_by_label("Docker host").is_hidden()

    page.get_by_label("Name", exact=True).fill("cpu-cluster")
    page.get_by_label("VM size").fill("STANDARD_D2_V2")
    page.get_by_label("Min nodes").fill("0")
    page.get_by_label("Idle seconds before scale-down").fill("120")
    max_nodes = page.get_by_label("Max nodes")
    max_nodes.fill("0")
    page.get_by_role("button", name="Register").click()
    # The browser itself refuses to send it and says why at the field.
    assert max_nodes.evaluate("input => input.validationMessage")
    assert page.url == f"{server}/w/lab/compute/"

    max_nodes.fill("2")
    page.get_by_label("Min nodes").fill("3")
    page.get_by_role("button", name="Register").click()
    page.get_by_text("min_nodes must be a whole number from 0 to 2, not 3.").wait_for()
    assert page.get_by_label("Name", exact=True).input_value() == "cpu-cluster"
    assert not ComputeTarget.objects.filter(name="cpu-cluster").exists()

    page.get_by_label("Min nodes").fill("0")
    page.get_by_role("button", name="Register").click()
    page.get_by_text("Compute target “cpu-cluster” is registered.").wait_for()
    row = page.locator("#targets tr[data-target='cpu-cluster']").inner_text()
    assert "Cluster · STANDARD_D2_V2" in row and "0\N{EN DASH}2" in row

    page.get_by_label("Name", exact=True).fill("cpu-cluster")
    page.get_by_role("button", name="Register").click()
    page.get_by_text("A compute target named 'cpu-cluster' already exists").wait_for()
    assert ComputeTarget.objects.filter(name="cpu-cluster").count() == 1
