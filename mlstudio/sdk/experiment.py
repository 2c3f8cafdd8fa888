from __future__ import annotations

import re

from mlstudio.sdk._http import segment
from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.exceptions import UserErrorException
from mlstudio.sdk.run import Run

VIEW_TYPES = ("ActiveOnly", "ArchivedOnly", "All")
RUNS_PAGE = 1000


class Experiment(V1Surface):
    """A named group of runs, as azureml.core.Experiment: `Experiment(workspace=ws, name=...)`
    gets the experiment, creating it on first use."""

    def __init__(self, workspace, name: str, _data: dict | None = None):
        self.workspace = workspace
        if _data is None:
            _data = workspace._client.post(self._base(workspace) + "/resolve", {"name": name})
        self._update(_data)

    @staticmethod
    def _base(workspace) -> str:
        return f"workspaces/{segment(workspace.name)}/experiments"

    def _update(self, data: dict) -> None:
        self._data = data
        self.id = data["id"]
        self.name = data["name"]

    @property
    def _path(self) -> str:
        return f"{self._base(self.workspace)}/{self.id}"

    @property
    def archived_time(self) -> str | None:
        return self._data.get("archived_time")

    @property
    def tags(self) -> dict:
        return dict(self._data.get("tags") or {})

    def set_tags(self, tags: dict) -> None:
        self._update(self.workspace._client.post(f"{self._path}/tags", {"tags": tags}))

    def tag(self, key: str, value: str | None = None) -> None:
        self.set_tags({key: value})

    def submit(self, config, tags: dict | None = None, **kwargs) -> Run:
        """Upload the source folder (only files the studio lacks) and queue the run.

        Extra keyword arguments such as `show_output` are accepted and ignored, as azureml did.
        """
        if hasattr(config, "_submit_to"):  # a HyperDriveConfig: a sweep, not a single run
            return config._submit_to(self, tags)
        from mlstudio.sdk._snapshot import submit_with_snapshot

        if hasattr(config, "_bind"):  # a v1 Estimator: its environment needs the workspace
            config = config._bind(self.workspace)
        body = config.to_dict()
        body["tags"] = {**(tags or {})}
        details = submit_with_snapshot(
            self.workspace, config.source_directory, body=body, create=f"{self._path}/runs"
        )
        return Run(self, details["runId"], _details=details)

    def start_logging(self, *args, snapshot_directory=None, outputs=None, display_name=None,
                      **kwargs) -> Run:  # fmt: skip
        """An interactive run for a notebook: log to it, then run.complete(); or use it as a
        context manager, which completes it, or marks it Failed on an exception."""
        if snapshot_directory is not None:
            raise UserErrorException(
                "start_logging(snapshot_directory=...) is not supported; submit a "
                "ScriptRunConfig to run code from a folder."
            )
        body = {"display_name": display_name or "", "tags": kwargs.get("tags")}
        details = self.workspace._client.post(f"{self._path}/runs/interactive", body)
        return Run(self, details["runId"], _details=details)

    def refresh(self) -> None:
        """Read the experiment again from the studio."""
        self._update(self.workspace._client.get(self._path))

    def get_docs_url(self) -> str:
        return f"{self.workspace.url}/api/docs"

    def archive(self) -> None:
        """Hide the experiment from lists and queries; nothing is deleted (Experiment.delete
        does that, for an archived experiment)."""
        self._update(self.workspace._client.post(f"{self._path}/archive"))

    def reactivate(self, new_name: str | None = None) -> None:
        if new_name is not None and new_name != self.name:
            raise UserErrorException("Renaming on reactivate is not supported; omit new_name.")
        self._update(self.workspace._client.post(f"{self._path}/reactivate"))

    @staticmethod
    def delete(workspace, experiment_id: int) -> None:
        """Delete an archived experiment and its runs for good, as azureml's
        Experiment.delete(workspace, experiment_id); `experiment_id` is `experiment.id`. Only
        workspace owners may. The name is free again at once; the studio removes the runs'
        files in the background."""
        if isinstance(experiment_id, bool) or not re.fullmatch(r"[0-9]+", str(experiment_id)):
            raise UserErrorException(
                f"experiment_id must be the experiment's id, as experiment.id gives it (a "
                f"number); got {experiment_id!r}."
            )
        workspace._client.request("DELETE", f"{Experiment._base(workspace)}/{experiment_id}")

    def get_runs(self, type=None, tags=None, properties=None, include_children=False):
        """This experiment's runs, newest first, fetched a page at a time; child runs only
        with include_children=True, as in v1."""
        children = "true" if include_children else "false"
        offset = 0
        while True:
            query = f"?limit={RUNS_PAGE}&offset={offset}&include_children={children}"
            page = self.workspace._client.get(f"{self._path}/runs{query}")
            for details in page:
                yield Run(self, details["runId"], _details=details)
            if len(page) < RUNS_PAGE:
                return
            offset += len(page)

    @staticmethod
    def list(workspace, experiment_name=None, view_type="ActiveOnly", tags=None) -> list:
        if view_type not in VIEW_TYPES:
            raise UserErrorException(f"view_type must be one of {', '.join(VIEW_TYPES)}.")
        query = f"?view_type={view_type}"
        if experiment_name:
            query += f"&name={segment(experiment_name)}"
        found = workspace._client.get(Experiment._base(workspace) + query)
        return [Experiment(workspace, e["name"], _data=e) for e in found]

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name}, Workspace: {self.workspace.name})"
