"""Helpers for run tests: snapshots built as a user's zip upload, submits through the API."""

from __future__ import annotations

import io
import textwrap
import zipfile

from runs.models import Run
from tests.processes import wait_until


def zip_of(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in files.items():
            if isinstance(body, str):
                body = textwrap.dedent(body)
            archive.writestr(name, body)
    return buffer.getvalue()


def upload_snapshot(client, files: dict[str, str | bytes], workspace: str = "lab") -> str:
    response = client.post(
        f"/api/workspaces/{workspace}/snapshots/zip",
        zip_of(files),
        content_type="application/zip",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def submit_script(client, experiment, files, script="train.py", **config) -> str:
    snapshot_id = upload_snapshot(client, files)
    response = client.post(
        f"/api/workspaces/lab/experiments/{experiment.pk}/runs",
        {"snapshot_id": snapshot_id, "config": {"script": script, **config}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["runId"]


def wait_for_status(run_id: str, *statuses: str, timeout: float = 60) -> Run:
    def reached():
        run = Run.objects.get(pk=run_id)
        return run if run.status in statuses else None

    return wait_until(reached, timeout, f"run {run_id} to reach {statuses}")
