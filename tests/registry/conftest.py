from __future__ import annotations

import io

import pytest

from runs import services as run_services
from runs import store

# The browser test's fixtures: Chromium, the uvicorn server and a signed-in page.
from tests.browser.conftest import chromium, page, server, signed_in  # noqa: F401


def finished_run(workspace, owner, files: dict[str, bytes], experiment_name: str = "train"):
    """A completed interactive run whose files are `files`, written as the studio writes them."""
    experiment = run_services.experiment_get_or_create(
        workspace=workspace, name=experiment_name, user=owner
    )
    run = run_services.run_start_interactive(experiment=experiment, user=owner, tags={"lr": "0.1"})
    for name, body in files.items():
        store.write_file(run.pk, name, io.BytesIO(body))
    return run_services.run_complete(run=run)


@pytest.fixture
def trained(workspace, owner):
    return finished_run(
        workspace,
        owner,
        {
            "outputs/model.pkl": b"pickled weights",
            "outputs/model/weights.bin": b"\x01" * 1000,
            "outputs/model/config.json": b"{}",
            "outputs/notes.txt": b"notes",
        },
    )
