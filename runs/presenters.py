"""How runs look from outside: the shapes azureml v1's get_details() returned, and downloads."""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from dataclasses import asdict
from pathlib import Path

from django.http import FileResponse

from runs import store
from runs.definition import RunDefinition
from runs.models import IMAGE_PROPERTY, Run


def _utc(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def run_details(run: Run, *, brief: bool = False) -> dict:
    """`run.get_details()` in v1's shape (camelCase keys), plus a few of ours."""
    definition = RunDefinition.of(run.definition)
    details = {
        "runId": run.pk,
        "number": run.number,
        "displayName": run.display_name or run.pk,
        "description": run.description,
        "parentRunId": run.parent_id,
        "experimentId": run.experiment_id,
        "experimentName": run.experiment.name,
        "target": definition.compute_target,
        "status": run.status,
        "statusDetail": run.status_detail,
        "createdUtc": _utc(run.created_at),
        "startTimeUtc": _utc(run.started_at),
        "endTimeUtc": _utc(run.ended_at),
        "submittedBy": run.submitted_by.get_username() if run.submitted_by else None,
        "tags": run.tags,
        "properties": run.properties,
        "exitCode": run.exit_code,
        "node": run.worker,
        "image": run.properties.get(IMAGE_PROPERTY),  # for a run in a Docker container
    }
    if run.error:
        details["error"] = {
            "error": {
                "code": "UserError" if run.exit_code not in (None, 0) else "ServiceError",
                "message": run.error.get("message", ""),
                "exitCode": run.error.get("exit_code"),
                "traceback": run.error.get("traceback", ""),
            }
        }
        if run.error.get("hint"):  # the likely cause and its fix in one line (runs.hints)
            details["error"]["error"]["hint"] = run.error["hint"]
    if brief:
        return details
    details["runDefinition"] = {
        "script": definition.script or None,
        "command": list(definition.command) or None,
        "arguments": list(definition.arguments),
        "target": definition.compute_target,
        "environment": asdict(definition.environment) if definition.environment else None,
        "environmentVariables": dict(definition.environment_variables),
        "maxRunDurationSeconds": definition.max_run_duration_seconds or None,
        "snapshotId": str(run.snapshot_id) if run.snapshot_id else None,
    }
    details["statusHistory"] = run.status_history
    details["logFiles"] = {
        name: f"/api/workspaces/{run.experiment.workspace.name}/runs/{run.pk}/logs/{name}"
        for name in store.log_files(run.pk)
    }
    return details


def zip_folder_response(root: Path, filename: str) -> FileResponse:
    """Zip a folder into a temporary file (not memory: folders reach hundreds of MB) and
    stream it; links are left out so nothing outside the folder can be reached."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by FileResponse
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
            for name in names:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    archive.write(path, path.relative_to(root).as_posix())
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=filename)


# The SDK records git facts twice, under v1's and MLflow's names (mlstudio.sdk._git).
GIT_KEYS = {
    "repository": ("azureml.git.repository_uri", "mlflow.source.git.repoURL"),
    "branch": ("azureml.git.branch", "mlflow.source.git.branch"),
    "commit": ("azureml.git.commit", "mlflow.source.git.commit"),
    "dirty": ("azureml.git.dirty", "mlflow.source.git.dirty"),
}
# Where each known host shows one commit of a repository.
COMMIT_PATHS = {"github.com": "/commit/", "gitlab.com": "/-/commit/", "bitbucket.org": "/commits/"}
_REMOTE = re.compile(
    r"^(?:https?://(?:[^@/]+@)?|ssh://(?:[^@/]+@)?|[^@/]+@)([^/:]+)[:/](.+?)(?:\.git)?/?$"
)


def git_facts(properties: dict) -> dict | None:
    """The run's repository, branch, commit and dirty mark, read once from whichever key holds
    them, with a link to the commit when the remote is a known host; None without git."""
    facts = {
        field: next((str(properties[k]) for k in keys if properties.get(k) not in (None, "")), "")
        for field, keys in GIT_KEYS.items()
    }
    if not facts["commit"] and not facts["repository"]:
        return None
    facts["dirty"] = facts["dirty"].lower() == "true"
    match = _REMOTE.match(facts["repository"])
    facts["commit_url"] = ""
    if match and match[1] in COMMIT_PATHS and facts["commit"]:
        facts["commit_url"] = (
            f"https://{match[1]}/{match[2]}{COMMIT_PATHS[match[1]]}{facts['commit']}"
        )
    return facts


def properties_without_git(properties: dict) -> dict:
    hidden = {key for keys in GIT_KEYS.values() for key in keys}
    return {key: value for key, value in properties.items() if key not in hidden}
