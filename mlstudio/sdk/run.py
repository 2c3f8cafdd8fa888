from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mlstudio.sdk._http import segment
from mlstudio.sdk.exceptions import MLStudioException, UserErrorException

FINAL_STATUSES = ("Completed", "Failed", "Canceled")
USER_LOG = "user_logs/std_log.txt"
POLL_SECONDS = 0.5


class ActivityFailedException(MLStudioException):
    """The run failed or was canceled; azureml raised the same name."""


class Run:
    """A run, as azureml.core.Run: `Run(experiment, run_id)`."""

    def __init__(self, experiment, run_id: str, _details: dict | None = None):
        self.experiment = experiment
        self.id = run_id
        self._details = _details

    # --- where things are ---------------------------------------------------------------------
    @property
    def _client(self):
        return self.experiment.workspace._client

    @property
    def _path(self) -> str:
        return f"workspaces/{segment(self.experiment.workspace.name)}/runs/{segment(self.id)}"

    @property
    def number(self) -> int:
        return self.get_details()["number"]

    @property
    def display_name(self) -> str:
        return self.get_details()["displayName"]

    @property
    def status(self) -> str:
        return self.get_status()

    def get_portal_url(self) -> str:
        workspace = segment(self.experiment.workspace.name)
        return f"{self._client.url}/w/{workspace}/runs/{segment(self.id)}/"

    # --- state --------------------------------------------------------------------------------
    def get_details(self) -> dict:
        self._details = self._client.get(self._path)
        return self._details

    def get_status(self) -> str:
        return self.get_details()["status"]

    def cancel(self) -> None:
        self._details = self._client.post(f"{self._path}/cancel")

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error=True
    ) -> dict:
        """Wait until the run ends; with show_output, stream its log as it grows."""
        out = sys.stdout
        if show_output:
            out.write(f"RunId: {self.id}\nWeb View: {self.get_portal_url()}\n\n")
            out.write(f"Streaming {USER_LOG}\n{'=' * 40}\n\n")
            out.flush()
        offset = 0
        while True:
            text, offset, status = self._read_log(USER_LOG, offset)
            if show_output and text:
                out.write(text)
                out.flush()
            if status in FINAL_STATUSES and not text:
                break
            if not text:
                time.sleep(POLL_SECONDS)
        details = self.get_details()
        if show_output:
            out.write(f"\nExecution Summary\n{'=' * 17}\nRunId: {self.id}\n")
            out.write(f"Web View: {self.get_portal_url()}\n\n")
            out.flush()
        if raise_on_error and details["status"] != "Completed":
            error = details.get("error", {}).get("error", {})
            message = error.get("message") or details.get("statusDetail") or details["status"]
            raise ActivityFailedException(f"Run {self.id} ended {details['status']}: {message}")
        return details

    def _read_log(self, name: str, offset: int) -> tuple[str, int, str]:
        with self._client.open("GET", f"{self._path}/logs/{name}?offset={offset}") as response:
            text = response.read().decode("utf-8", "replace")
            return text, int(response.headers["X-Next-Offset"]), response.headers["X-Run-Status"]

    # --- files --------------------------------------------------------------------------------
    def get_file_names(self) -> list[str]:
        return [f["name"] for f in self._client.get(f"{self._path}/files")]

    def download_file(self, name: str, output_file_path: str | os.PathLike | None = None, **_):
        """Download one run file; into the current folder under its own name by default."""
        target = Path(output_file_path or Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            self._client.open("GET", f"{self._path}/files/{name}") as response,
            open(target, "wb") as handle,
        ):
            while chunk := response.read(1024 * 1024):
                handle.write(chunk)
        return str(target)

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | os.PathLike | None = None,
        append_prefix: bool = True,
        **_,
    ) -> list[str]:
        names = [n for n in self.get_file_names() if not prefix or n.startswith(prefix)]
        if prefix and not names:
            raise UserErrorException(f"Run {self.id} has no files under {prefix!r}.")
        root = Path(output_directory or ".")
        written = []
        for name in names:
            relative = name if append_prefix or not prefix else name[len(prefix) :].lstrip("/")
            if Path(relative).is_absolute() or ".." in Path(relative).parts:
                raise UserErrorException(f"Refusing to write run file {name!r} outside {root}.")
            written.append(self.download_file(name, root / relative))
        return written

    def __repr__(self) -> str:
        return f"Run(Experiment: {self.experiment.name}, Id: {self.id})"
