"""TensorBoard over runs, as azureml.tensorboard.Tensorboard was: start() returns a URL.

The studio runs the TensorBoard next to the runs' synced ./logs and serves it behind its own
login, so the URL opens in a browser that is signed in to the studio. It stops after being
idle for 30 minutes (MLSTUDIO_TENSORBOARD_IDLE_SECONDS), or when stop() is called.

    from mlstudio.sdk import Tensorboard
    tb = Tensorboard([run])
    url = tb.start()
    ...
    tb.stop()
"""

from __future__ import annotations

import webbrowser

from mlstudio.sdk._http import segment
from mlstudio.sdk.exceptions import UserErrorException


class Tensorboard:
    def __init__(self, runs, local_root: str | None = None, port: int = 6006):
        """`runs`: Run objects of one workspace. `local_root` and `port` are accepted for v1
        compatibility and ignored: the studio serves the board from the runs' synced logs."""
        self.runs = list(runs) if isinstance(runs, list | tuple) else [runs]
        if not self.runs:
            raise UserErrorException("Tensorboard needs at least one run: Tensorboard([run]).")
        workspaces = {run.experiment.workspace.name for run in self.runs}
        if len(workspaces) > 1:
            raise UserErrorException(
                "Tensorboard shows runs of one workspace at a time; these come from "
                f"{', '.join(sorted(workspaces))}."
            )
        self._workspace = self.runs[0].experiment.workspace
        self._id: str | None = None
        self.url: str | None = None

    def start(self, start_browser: bool = False) -> str:
        """Start (or reuse) the TensorBoard over these runs and return its URL."""
        board = self._workspace._client.post(
            f"{self._path()}", {"run_ids": [run.id for run in self.runs]}
        )
        self._id = board["id"]
        self.url = f"{self._workspace._client.url}{board['path']}"
        if start_browser:
            webbrowser.open(self.url)
        return self.url

    def stop(self) -> None:
        if self._id is None:
            return
        self._workspace._client.request("DELETE", f"{self._path()}/{segment(self._id)}")
        self._id = None

    def _path(self) -> str:
        return f"workspaces/{segment(self._workspace.name)}/tensorboards"

    def __repr__(self) -> str:
        return f"Tensorboard(runs={[run.id for run in self.runs]!r}, url={self.url!r})"
