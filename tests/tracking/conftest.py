"""The real MLflow client (from PyPI) against a live studio (pytest-django's live_server)."""

from __future__ import annotations

import pytest

mlflow = pytest.importorskip("mlflow", reason="the tracking tests need `pip install mlflow`")

from mlstudio.sdk import Workspace  # noqa: E402
from workspaces import services  # noqa: E402

QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    # A refused call fails at once instead of being retried for minutes.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def reset_mlflow() -> None:
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.tracking.fluent._active_experiment_id = None


@pytest.fixture
def mlflow_env(monkeypatch, tmp_path):
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_RUN_ID",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
        "MLSTUDIO_URL",
        "MLSTUDIO_TOKEN",
        "MLSTUDIO_WORKSPACE",
    ):
        monkeypatch.delenv(name, raising=False)  # fmt: skip
    for name, value in QUIET.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    reset_mlflow()
    yield monkeypatch
    reset_mlflow()
    mlflow.set_tracking_uri(None)


@pytest.fixture
def tracking_uri(mlflow_env, live_server, owner, workspace):
    """`ws.get_mlflow_tracking_uri()` of workspace lab as its owner, set for mlflow."""
    raw = services.api_token_create(user=owner, name="mlflow")[1]
    ws = Workspace(name="lab", url=live_server.url, token=raw)
    uri = ws.get_mlflow_tracking_uri()
    mlflow.set_tracking_uri(uri)
    return uri


def token_for(user, workspace_name: str | None = None) -> str:
    return services.api_token_create(user=user, name="mlflow", workspace_name=workspace_name)[1]
