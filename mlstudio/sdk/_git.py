"""Where a run's code came from in git, recorded as run properties the way azureml v1 and MLflow
name them. Uses the `git` binary; without git, or outside a work tree, there is simply no info."""

from __future__ import annotations

import os
import subprocess
from typing import Any
from urllib.parse import urlsplit, urlunsplit

GIT_TIMEOUT = 10.0
# Variables that would point git at another repository than the source folder's, e.g. when the
# SDK runs inside a git hook.
_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


def git_info(source_directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """{"repository_uri", "branch", "commit", "dirty"} for the work tree holding the folder.

    None when git is missing, slow or the folder is not in a work tree. "branch" is None on a
    detached HEAD, "commit" before the first commit, "repository_uri" without an `origin`;
    "dirty" counts untracked files too (`git status --porcelain` is not empty).
    """
    # porcelain v2 with --branch gives commit, branch and cleanliness in one call.
    status = _git(source_directory, "--no-optional-locks", "status", "--porcelain=v2", "--branch")
    if status is None:
        return None
    lines = status.splitlines()
    headers = {
        key: value
        for key, _, value in (line[2:].partition(" ") for line in lines if line.startswith("# "))
    }
    commit = headers.get("branch.oid")
    branch = headers.get("branch.head")
    origin = _git(source_directory, "config", "--get", "remote.origin.url")
    return {
        "repository_uri": without_credentials(origin.strip()) if origin else None,
        "branch": None if branch in (None, "(detached)") else branch,
        "commit": None if commit in (None, "(initial)") else commit,
        "dirty": any(line and not line.startswith("#") for line in lines),
    }


def git_properties(info: dict[str, Any]) -> dict[str, str]:
    """Run properties for `info`, under azureml's names and MLflow's; None values are left out."""
    properties: dict[str, str] = {}
    for key, value in info.items():
        if value is None or key not in _PROPERTY_NAMES:
            continue
        text = str(bool(value)) if key == "dirty" else str(value)
        for name in _PROPERTY_NAMES[key]:
            properties[name] = text
    return properties


_PROPERTY_NAMES = {
    "repository_uri": ("azureml.git.repository_uri", "mlflow.source.git.repoURL"),
    "branch": ("azureml.git.branch", "mlflow.source.git.branch"),
    "commit": ("azureml.git.commit", "mlflow.source.git.commit"),
    "dirty": ("azureml.git.dirty", "mlflow.source.git.dirty"),
}


def _git(source_directory: str | os.PathLike[str], *args: str) -> str | None:
    """git's output, or None when git is missing, fails or takes longer than GIT_TIMEOUT."""
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    env["GIT_TERMINAL_PROMPT"] = "0"
    try:
        result = subprocess.run(
            ["git", "-C", os.fspath(source_directory), *args],
            capture_output=True,
            text=True,
            errors="replace",
            env=env,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def without_credentials(url: str) -> str:
    # Run properties are visible to every workspace member; a token in an https remote
    # (https://user:token@host/...) must not end up there.
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or "@" not in parts.netloc:
        return url  # scp-like "git@host:org/repo.git" carries no secret
    userinfo, host = parts.netloc.rsplit("@", 1)
    # A user name alone is kept (ssh://git@host), except over http where it is often a token.
    user = "" if parts.scheme in ("http", "https") else userinfo.split(":", 1)[0] + "@"
    return urlunsplit(parts._replace(netloc=user + host))
