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
from mlstudio.sdk.tensorboard._local import serve_folder, stop_process


class Tensorboard:
    def __init__(self, runs, local_root: str | None = None, port: int = 6006):
        """`runs`: Run objects of one workspace, served by the studio from their synced logs.
        Or, as v1, `Tensorboard([], local_root=logdir, port=...)` serves a folder on this
        machine with a local TensorBoard (pip install tensorboard)."""
        self.runs = list(runs) if isinstance(runs, list | tuple) else [runs]
        self.local_root, self.port = local_root, port
        self._process = None
        self._id: str | None = None
        self.url: str | None = None
        if not self.runs:
            if local_root is None:
                raise UserErrorException(
                    "Tensorboard needs runs, Tensorboard([run]), or a folder to serve, "
                    "Tensorboard([], local_root='logs')."
                )
            return
        workspaces = {run.experiment.workspace.name for run in self.runs}
        if len(workspaces) > 1:
            raise UserErrorException(
                "Tensorboard shows runs of one workspace at a time; these come from "
                f"{', '.join(sorted(workspaces))}."
            )
        self._workspace = self.runs[0].experiment.workspace

    def start(self, start_browser: bool = False) -> str:
        """Start (or reuse) the TensorBoard over these runs and return its URL."""
        if not self.runs:
            self.url = self._start_local()
            if start_browser:
                webbrowser.open(self.url)
            return self.url
        board = self._workspace._client.post(
            f"{self._path()}", {"run_ids": [run.id for run in self.runs]}
        )
        self._id = board["id"]
        self.url = f"{self._workspace._client.url}{board['path']}"
        if start_browser:
            webbrowser.open(self.url)
        return self.url

    def _start_local(self) -> str:
        if self._process is None or self._process.poll() is not None:
            self._process = serve_folder(self.local_root, self.port)
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        if self._id is None:
            return
        self._workspace._client.request("DELETE", f"{self._path()}/{segment(self._id)}")
        self._id = None

    def _path(self) -> str:
        return f"workspaces/{segment(self._workspace.name)}/tensorboards"

    def __repr__(self) -> str:
        return f"Tensorboard(runs={[run.id for run in self.runs]!r}, url={self.url!r})"
