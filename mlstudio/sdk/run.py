from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from mlstudio.sdk import _metrics as m
from mlstudio.sdk._http import segment
from mlstudio.sdk._run_metrics import _REMOVED, _Metrics
from mlstudio.sdk._run_v1 import RunV1
from mlstudio.sdk._sinks import FileSink, RestSink
from mlstudio.sdk.exceptions import (
    MLStudioException,
    NotFoundException,
    ServiceUnreachableException,
    UserErrorException,
)

FINAL_STATUSES = ("Completed", "Failed", "Canceled")
USER_LOG = "user_logs/std_log.txt"
POLL_SECONDS = 0.5
POLL_STORED_SECONDS = 0.05
STORE_PATIENCE_SECONDS = 2.0


class ActivityFailedException(MLStudioException):
    """The run failed or was canceled; azureml raised the same name."""


class Run(RunV1, _Metrics):
    """A run, as azureml.core.Run: `Run(experiment, run_id)`; `Run.get_context()` inside a
    script."""

    def __init__(self, experiment, run_id: str, outputs=None, _details: dict | None = None,
                 **kwargs):  # fmt: skip
        self.experiment = experiment
        self.id = run_id
        self._details = _details
        self._init_metrics()
        self._rest_sink = None
        self._children: list[Run] = []

    @property
    def _sink(self):
        if self._rest_sink is None:
            self._rest_sink = RestSink(self._client, f"{self._path}/metrics")
        return self._rest_sink

    @staticmethod
    def get_context(allow_offline: bool = True, **_):
        """The run this script executes as; outside MLStudio an offline run that prints."""
        if os.environ.get("MLSTUDIO_RUN_ID") and os.environ.get("MLSTUDIO_RUN_DIR"):
            return _SubmittedRun()
        if not allow_offline:
            raise UserErrorException("Not inside an MLStudio run, and allow_offline=False.")
        from mlstudio.sdk._offline import OfflineRun

        return OfflineRun()

    def get_metrics(self, name: str | None = None, recursive: bool = False, **_) -> dict:
        """v1's shapes: one value as a scalar, repeated values as a list in log order, rows
        and tables as {column: [values]}; recursive gives {run_id: {...}}."""
        self.flush()
        for child in self._children if recursive else ():
            child.flush()
        query = "?recursive=true" if recursive else "?recursive=false"
        if name:
            query += f"&name={segment(name)}"
        answer = self._client.get(f"{self._path}/metrics{query}")
        if not recursive:
            return _decode_numbers(answer["metrics"], set(answer["numeric"]))
        return {
            run_id: _decode_numbers(part["metrics"], set(part["numeric"]))
            for run_id, part in answer["runs"].items()
        }

    def get_tags(self) -> dict:
        tags = dict(self.get_details().get("tags") or {})
        for key, value in self._tags.items():
            if value is _REMOVED:
                tags.pop(key, None)
            else:
                tags[key] = value
        return tags

    def get_properties(self) -> dict:
        return {**(self.get_details().get("properties") or {}), **self._properties}

    def _server_properties(self) -> dict:
        return self.get_details().get("properties") or {}

    # --- files, children, completion (over the REST API) ------------------------------------
    def upload_file(self, name: str, path_or_stream) -> None:
        if isinstance(path_or_stream, str | os.PathLike):
            data = Path(path_or_stream).read_bytes()
        else:
            data = path_or_stream.read()
        headers = {"Content-Type": "application/octet-stream"}
        with self._client.open(
            "PUT", f"{self._path}/files/{quote(name)}", data=data, headers=headers
        ):
            pass

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs=None):
        details = self._client.post(
            f"{self._path}/children", {"name": name or "", "run_id": run_id}
        )
        child = Run(self.experiment, details["runId"], _details=details)
        self._children.append(child)  # so a recursive read sends their buffered records
        return child

    def get_children(self, recursive: bool = False, **_) -> list:
        children = [
            Run(self.experiment, d["runId"], _details=d)
            for d in self._client.get(f"{self._path}/children")
        ]
        if recursive:
            children += [grand for child in children for grand in child.get_children(True)]
        return children

    def complete(self, _set_status: bool = True) -> None:
        self.flush()
        self._details = self._client.post(f"{self._path}/complete", {"status": "Completed"})

    def fail(self, error_details=None, error_code=None, _set_status: bool = True) -> None:
        self.flush()
        body = {"status": "Failed", "error": str(error_details or "")}
        self._details = self._client.post(f"{self._path}/complete", body)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.complete()
        else:
            self.fail(error_details=f"{kind.__name__}: {error}")

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

    def get_detailed_status(self) -> dict:
        """The status and what it waits for, e.g. "waiting for a free node (3 ahead)"."""
        details = self.get_details()
        return {"status": details["status"], "details": details.get("statusDetail", "")}

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
            self._write_summary(out, f"Web View: {self.get_portal_url()}\n\n")
        if raise_on_error and details["status"] != "Completed":
            error = details.get("error", {}).get("error", {})
            message = error.get("message") or details.get("statusDetail") or details["status"]
            hint = error.get("hint") or {}
            if hint.get("message"):  # the likely cause and its fix, in one line
                message += f"\nHint: {hint['message']}"
                if hint.get("url"):
                    message += f" {self._client.url}{hint['url']}"
            raise ActivityFailedException(f"Run {self.id} ended {details['status']}: {message}")
        return details

    def _write_summary(self, out, last: str) -> None:
        """v1's Execution Summary that ends wait_for_completion(show_output=True)."""
        out.write(f"\nExecution Summary\n{'=' * 17}\nRunId: {self.id}\n{last}")
        out.flush()

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

    def register_model(
        self, model_name, model_path=None, tags=None, properties=None, model_framework=None,
        model_framework_version=None, description=None, datasets=None,
        sample_input_dataset=None, sample_output_dataset=None, resource_configuration=None,
        **kwargs,
    ):  # fmt: skip
        """v1's run.register_model: a file or folder of this run as a model (sdk/model.py)."""
        from mlstudio.sdk.model import register_from_run

        return register_from_run(
            self, model_name, model_path=model_path, tags=tags, properties=properties,
            model_framework=model_framework, model_framework_version=model_framework_version,
            description=description, datasets=datasets,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"Run(Experiment: {self.experiment.name}, Id: {self.id})"


class _SubmittedRun(Run):
    """`Run.get_context()` inside a submitted run: records go to a file the executor tails,
    so logging works without network. complete() and fail() only flush: the script's exit
    code decides the status, as in v1."""

    def __init__(self):
        self.id = os.environ["MLSTUDIO_RUN_ID"]
        self._details = None
        self._init_metrics()
        self._file_sink = FileSink.shared(os.environ["MLSTUDIO_RUN_DIR"])
        self._experiment = None
        self._children: list[Run] = []  # in-script children write to our sink

    @property
    def _sink(self):
        return self._file_sink

    @property
    def experiment(self):
        if self._experiment is None:
            from mlstudio.sdk.experiment import Experiment
            from mlstudio.sdk.workspace import Workspace

            self._experiment = Experiment(Workspace(), os.environ["MLSTUDIO_EXPERIMENT"])
        return self._experiment

    def _server_properties(self) -> dict:
        return {}  # no network needed: the executor refuses a changed property too

    def get_metrics(self, name: str | None = None, recursive: bool = False, **_) -> dict:
        """What this run holds, including what the script logged a moment ago: from the
        studio when the run has a connection to it (once it has stored what the transport
        files hold), else from the transport files themselves."""
        self.flush()
        root = os.environ["MLSTUDIO_RUN_ID"]
        local = m.TransportView.shared(os.environ["MLSTUDIO_RUN_DIR"]).read(root)
        scope = [self.id]
        if recursive and self.id == root:
            scope += [run_id for run_id in local.runs if run_id != root]
        if os.environ.get("MLSTUDIO_URL") and os.environ.get("MLSTUDIO_TOKEN"):
            try:
                self._wait_until_stored({run_id: local.counts(run_id) for run_id in scope})
                return super().get_metrics(name, recursive)
            except ServiceUnreachableException:
                pass  # every record is here too: answer without the studio
        if not recursive:
            return local.metrics(self.id, name)
        return {run_id: local.metrics(run_id, name) for run_id in scope}

    def _wait_until_stored(self, wanted: dict[str, dict[str, int]]) -> None:
        """The executor stores transport records a moment after they are written. Wait
        until the studio counts as many values as the files hold, or until its counts stop
        moving (it refused a record; the run's system log says why)."""
        seen, moved_at = None, time.monotonic()
        while time.monotonic() - moved_at < STORE_PATIENCE_SECONDS:
            stored = {run_id: self._stored_counts(run_id) for run_id in wanted}
            if all(
                stored[run_id] is not None
                and all(stored[run_id].get(n, 0) >= count for n, count in counts.items())
                for run_id, counts in wanted.items()
            ):
                return
            if stored != seen:
                seen, moved_at = stored, time.monotonic()
            time.sleep(POLL_STORED_SECONDS)

    def _stored_counts(self, run_id: str) -> dict[str, int] | None:
        """Values stored per metric; None for a child run not created yet."""
        workspace = segment(self.experiment.workspace.name)
        path = f"workspaces/{workspace}/runs/{segment(run_id)}/metric-list"
        try:
            return {metric["name"]: metric["count"] for metric in self._client.get(path)}
        except NotFoundException:
            return None

    def complete(self, _set_status: bool = True) -> None:
        self.flush()

    def fail(self, error_details=None, error_code=None, _set_status: bool = True) -> None:
        self.flush()

    def upload_file(self, name: str, path_or_stream) -> None:
        """Stage a copy beside the transport; the executor moves it into the run's files."""
        staging = Path(os.environ["MLSTUDIO_RUN_DIR"]) / "uploads"
        staging.mkdir(exist_ok=True)
        token = uuid.uuid4().hex
        if isinstance(path_or_stream, str | os.PathLike):
            shutil.copyfile(path_or_stream, staging / token)
        else:
            with open(staging / token, "wb") as out:
                shutil.copyfileobj(path_or_stream, out)
        self._send_op({"op": "file", "name": name, "staged": token})

    def _send_op(self, record: dict) -> None:
        self._sink.send(record)

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs=None):
        """A child run, named here so no network is needed; its records share our file."""
        child_id = run_id or f"{self.id}_{uuid.uuid4().hex[:8]}"
        self._sink.send({"op": "child", "id": child_id, "name": name or ""})
        self._sink.flush()
        return _SubmittedChild(self, child_id)


class _ChildSink:
    """A child's records travel in the parent's transport file, marked with its id."""

    def __init__(self, parent_sink, run_id: str):
        self.parent = parent_sink
        self.run_id = run_id

    def write_line(self, line: str, at: float) -> None:
        self.send(json.loads(line))

    def send(self, record: dict) -> None:
        record["r"] = self.run_id
        self.parent.send(record)

    def flush(self) -> None:
        self.parent.flush()


class _SubmittedChild(_SubmittedRun):
    def __init__(self, parent: _SubmittedRun, run_id: str):
        self.id = run_id
        self._details = None
        self._init_metrics()
        self._file_sink = _ChildSink(parent._file_sink, run_id)
        self._experiment = parent._experiment
        self._children = []

    def complete(self, _set_status: bool = True) -> None:
        self._sink.send({"op": "status", "status": "Completed"})
        self.flush()

    def fail(self, error_details=None, error_code=None, _set_status: bool = True) -> None:
        self._sink.send({"op": "status", "status": "Failed", "error": str(error_details or "")})
        self.flush()

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs=None):
        raise UserErrorException("Child runs of child runs are not supported inside a script.")


def _decode_numbers(metrics: dict, numeric: set[str]) -> dict:
    def number(value):
        return float(value) if isinstance(value, str) else value

    for name in numeric & set(metrics):
        value = metrics[name]
        metrics[name] = [number(v) for v in value] if isinstance(value, list) else number(value)
    return metrics
