"""The variables that make `mlflow.start_run()` in a submitted script attach to its own run:
MLflow's client then logs over the studio's MLflow API (the tracking app, mounted at
/mlflow/w/<workspace>/) with the run's own token, and its metrics appear live on the run page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlsplit

from environments import docker as envdocker
from runs.models import Run

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def mlflow_variables(*, run: Run, env: dict[str, str], in_container: bool,
                     say: Callable[[str], None]) -> dict[str, str]:  # fmt: skip
    """MLFLOW_TRACKING_URI, _TOKEN, MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_NAME from the run's
    studio address and token in `env`; when the run cannot reach the studio, a system-log
    line that says so and what to do instead."""
    url, token = env.get("MLSTUDIO_URL"), env.get("MLSTUDIO_TOKEN")
    if not url or not token:
        say("MLflow: no MLFLOW_TRACKING_URI for this run: the studio's address is unknown. MLflow "
            "logging needs the studio reachable: set MLSTUDIO_PUBLIC_URL on the studio and its "
            "workers, or log with Run.get_context(), which needs no network.")  # fmt: skip
        return {}
    if in_container and envdocker.copies_files() and urlsplit(url).hostname in LOOPBACK:
        say(f"MLflow: this run's container is on another machine and cannot reach the studio at "
            f"{url}; MLflow logging needs the studio reachable: set MLSTUDIO_PUBLIC_URL to an "
            "address that machine reaches, or log with Run.get_context().")  # fmt: skip
    workspace = run.experiment.workspace.name
    return {
        "MLFLOW_TRACKING_URI": f"{url.rstrip('/')}/mlflow/w/{quote(workspace, safe='')}",
        "MLFLOW_TRACKING_TOKEN": token,
        "MLFLOW_RUN_ID": run.pk,
        "MLFLOW_EXPERIMENT_NAME": run.experiment.name,
    }
