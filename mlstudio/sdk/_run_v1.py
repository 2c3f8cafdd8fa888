"""The rest of v1's Run surface: names and descriptions, logs and snapshots, Run.list.

Mixed into Run; uses its `_client`, `_path`, `experiment`, `get_details()` and `id`.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlstudio.sdk._http import segment
from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.exceptions import UserErrorException

LOG_PREFIXES = ("user_logs/", "system_logs/", "logs/", "azureml-logs/")


class RunV1(V1Surface):
    # --- what a person reads and edits ------------------------------------------------------
    @property
    def display_name(self) -> str:
        return self.get_details()["displayName"]

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._patch(display_name=_text(value, "display_name", 255))

    @property
    def name(self) -> str:
        return self.display_name

    @property
    def description(self) -> str:
        return self.get_details().get("description") or ""

    @description.setter
    def description(self, value: str) -> None:
        self._patch(description=_text(value, "description", 5000))

    @property
    def tags(self) -> dict:
        return self.get_tags()

    @property
    def properties(self) -> dict:
        return self.get_properties()

    @property
    def type(self) -> str:
        return "azureml.scriptrun"

    @property
    def parent(self):
        parent_id = self.get_details().get("parentRunId")
        if not parent_id:
            return None
        from mlstudio.sdk.run import Run

        return Run(self.experiment, parent_id)

    def _patch(self, **fields) -> None:
        self._details = self._client.request("PATCH", self._path, fields)

    # --- logs, environment, snapshot -------------------------------------------------------
    def get_details_with_logs(self) -> dict:
        """get_details() with `logFiles` mapping each log's name to its text, as v1."""
        details = self.get_details()
        details["logFiles"] = {
            name: self._read_whole_log(name) for name in details.get("logFiles") or {}
        }
        return details

    def _read_whole_log(self, name: str) -> str:
        parts, offset = [], 0
        while True:
            text, next_offset, _ = self._read_log(name, offset)
            if not text or next_offset == offset:
                return "".join(parts)
            parts.append(text)
            offset = next_offset

    def get_all_logs(self, destination: str | os.PathLike | None = None) -> list[str]:
        """Download every log file (user_logs/, system_logs/, logs/) under `destination`
        (default: the current folder); return their paths."""
        root = Path(destination or ".")
        names = [n for n in self.get_file_names() if n.startswith(LOG_PREFIXES)]
        return [self.download_file(name, root / name) for name in names]

    def get_environment(self):
        """The registered Environment this run used."""
        from mlstudio.sdk.environment import Environment

        reference = (self.get_details().get("runDefinition") or {}).get("environment") or {}
        if not reference.get("name"):
            raise UserErrorException(
                f"Run {self.id} has no registered environment (an interactive or child run)."
            )
        return Environment.get(self.experiment.workspace, reference["name"], reference["version"])

    def get_snapshot_id(self) -> str | None:
        return (self.get_details().get("runDefinition") or {}).get("snapshotId")

    def restore_snapshot(self, snapshot_id: str | None = None,
                         path: str | os.PathLike | None = None) -> str:  # fmt: skip
        """Download the run's snapshot (or `snapshot_id`) as a zip; return the zip's path."""
        snapshot_id = snapshot_id or self.get_snapshot_id()
        if not snapshot_id:
            raise UserErrorException(f"Run {self.id} has no snapshot to restore.")
        target = Path(path or ".")
        if target.is_dir() or not target.suffix:
            target = target / f"{snapshot_id}.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        workspace = segment(self.experiment.workspace.name)
        url = f"workspaces/{workspace}/snapshots/{segment(snapshot_id)}/zip"
        with self._client.open("GET", url) as response, open(target, "wb") as handle:
            while chunk := response.read(1024 * 1024):
                handle.write(chunk)
        return str(target)

    def upload_files(self, names, paths, return_artifacts=False, timeout_seconds=None,
                     datastore_name=None) -> None:  # fmt: skip
        """upload_file() for each name and path, pairwise."""
        if len(names) != len(paths):
            raise UserErrorException("upload_files needs as many names as paths.")
        for name, path in zip(names, paths, strict=True):
            self.upload_file(name, path)

    def get_submitted_run(self):
        """v1's way to reach the submitted run from inside it: this run."""
        return self

    def clean(self) -> None:
        """v1 removed local files of the run's folder; the studio's folder is private."""

    def start(self) -> None:
        """v1 marked a run created by another actor as started. Here a run is Running from
        start_logging() on, and a submitted one is started by its worker: nothing to do."""

    _v1_ignored = frozenset({"clean", "start"})

    # --- finding runs ------------------------------------------------------------------------
    @staticmethod
    def list(experiment, type=None, tags=None, properties=None, status=None,
             include_children=False, _rehydrate_runs=True):  # fmt: skip
        """The experiment's runs, newest first, filtered as v1: `tags` and `properties` a
        name, or a dict of name → value; `status` one status."""
        for run in experiment.get_runs(include_children=include_children):
            details = run._details or {}
            if status is not None and details.get("status") != status:
                continue
            if _matches(details.get("tags") or {}, tags) and _matches(
                details.get("properties") or {}, properties
            ):
                yield run

    @staticmethod
    def get(workspace, run_id: str):
        return workspace.get_run(run_id)

    @property
    def input_datasets(self) -> dict:
        """Input name -> the folder of a mounted or downloaded dataset, or the dataset itself
        (as_named_input alone), its files already in the run's folder, as v1."""
        return input_datasets_of(os.environ.get("MLSTUDIO_INPUT_DATASETS"), self)


def _matches(found: dict, wanted) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return wanted in found
    return all(found.get(key) == str(value) for key, value in wanted.items())


def _text(value, what: str, limit: int) -> str:
    text = "" if value is None else str(value)
    if len(text) > limit:
        raise UserErrorException(f"{what} holds at most {limit} characters, not {len(text)}.")
    return text


def input_datasets_of(raw: str | None, run) -> dict:
    import json

    if not raw:
        return {}
    from mlstudio.sdk.data.file_dataset import FileDataset
    from mlstudio.sdk.data.tabular_dataset import TabularDataset

    out = {}
    for name, info in json.loads(raw).items():
        if info["mode"] == "upload":
            continue  # an OutputFileDatasetConfig: its folder is in the arguments
        if info["mode"] in ("mount", "download"):
            out[name] = info["path"]
            continue
        cls = TabularDataset if info["kind"] == "tabular" else FileDataset
        workspace = _workspace_or_none(run)
        dataset = info["dataset"]
        out[name] = cls(workspace, dataset["definition"], dataset, _local_root=info["path"])
    return out


def _workspace_or_none(run):
    try:
        return run.experiment.workspace
    except Exception:  # an offline run, or no studio to reach: the files are local anyway
        return None
