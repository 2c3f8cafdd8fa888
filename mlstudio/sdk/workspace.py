from __future__ import annotations

import json
import os
from pathlib import Path

from mlstudio.sdk._http import Client, segment
from mlstudio.sdk._workspace_v1 import WorkspaceV1, v1_positional
from mlstudio.sdk.exceptions import NotFoundException, UserErrorException, WorkspaceException

CONFIG_NAMES = ("config.json", os.path.join(".mlstudio", "config.json"))
ENV_URL, ENV_TOKEN, ENV_WORKSPACE = "MLSTUDIO_URL", "MLSTUDIO_TOKEN", "MLSTUDIO_WORKSPACE"
ENV_MLFLOW_TOKEN = "MLFLOW_TRACKING_TOKEN"  # noqa: S105 - a variable name


class Workspace(WorkspaceV1):
    """A workspace on a studio: `Workspace.from_config()` or `Workspace(name=, url=, token=)`.
    v1's `Workspace(subscription_id, resource_group, workspace_name, auth=...)` works too: the
    Azure values are placeholders here, and the URL and token come from the environment."""

    def __init__(self, name: str | None = None, url: str | None = None, token: str | None = None,
                 *, workspace_name: str | None = None, **v1_arguments):  # fmt: skip
        name, url, token = v1_positional(name, url, token)
        # What the caller passes wins; the environment fills in the rest.
        name = name or workspace_name or os.environ.get(ENV_WORKSPACE)
        url = url or os.environ.get(ENV_URL)
        token = token or os.environ.get(ENV_TOKEN)
        missing = [
            label for label, value in (("name", name), ("url", url), ("token", token)) if not value
        ]
        if missing:
            raise UserErrorException(
                f"Workspace needs {', '.join(missing)}: pass them, set {ENV_WORKSPACE}, {ENV_URL} "
                f"and {ENV_TOKEN}, or use Workspace.from_config()."
            )
        self._client = Client(url, token)
        try:
            self._details = self._client.get(f"workspaces/{segment(name)}")
        except NotFoundException as exc:
            raise WorkspaceException(str(exc)) from None
        self.name = self._details["name"]

    @classmethod
    def get(cls, name: str, url: str | None = None, token: str | None = None,
            **v1_arguments) -> Workspace:  # fmt: skip
        """v1's auth, subscription_id and resource_group are accepted and ignored."""
        if url is not None and "://" not in str(url):
            url = None  # v1's second positional parameter is auth
        return cls(name=name, url=url, token=token, **v1_arguments)

    @classmethod
    def from_config(cls, path: str | os.PathLike | None = None, auth=None, _logger=None,
                    _file_name: str | None = None):  # fmt: skip
        """Load the workspace named by config.json, searching from `path` (or here) upward.

        MLSTUDIO_URL, MLSTUDIO_TOKEN and MLSTUDIO_WORKSPACE override the file's values; when
        all three are set no file is needed.
        """
        if all(os.environ.get(v) for v in (ENV_URL, ENV_TOKEN, ENV_WORKSPACE)):
            return cls()
        config = _read_config(find_config(path, _file_name))
        return cls(
            name=os.environ.get(ENV_WORKSPACE) or config.get("workspace_name"),
            url=os.environ.get(ENV_URL) or config.get("url"),
            token=os.environ.get(ENV_TOKEN) or config.get("token"),
        )

    @property
    def url(self) -> str:
        return self._client.url

    def get_mlflow_tracking_uri(self, _with_auth: bool = False) -> str:
        """The MLflow tracking URI of this workspace, as azureml's did: give it to
        `mlflow.set_tracking_uri()` and MLflow's client logs into the studio's runs.

        It also sets MLFLOW_TRACKING_TOKEN for this process to the workspace's token, so the
        client authenticates with no further setup. `_with_auth` is accepted for v1's
        signature; the token always travels in that variable, never in the URI.
        """
        os.environ[ENV_MLFLOW_TOKEN] = self._client._token
        return f"{self.url}/mlflow/w/{segment(self.name)}"

    def write_config(self, path: str | os.PathLike | None = None, file_name: str = "config.json"):
        folder = Path(path or ".") / ".mlstudio"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / file_name
        body = {"url": self.url, "workspace_name": self.name, "token": self._client._token}
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(body, handle, indent=2)
        return str(target)

    def __repr__(self) -> str:
        return f"Workspace.create(name={self.name!r}, url={self.url!r})"


def find_config(path=None, file_name: str | None = None) -> Path:
    start = Path(path or os.getcwd()).expanduser().resolve()
    if start.is_file():
        return start
    names = (file_name,) if file_name else CONFIG_NAMES
    for folder in (start, *start.parents):
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    raise UserErrorException(
        f"No config.json found in {start} or any folder above it. Download it from the "
        f"workspace page in the studio, or set {ENV_URL}, {ENV_TOKEN} and {ENV_WORKSPACE}."
    )


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserErrorException(f"Cannot read {path}: {exc}") from None
    if not isinstance(config, dict):
        raise UserErrorException(f"{path} must hold a JSON object with url, workspace_name, token.")
    return config
