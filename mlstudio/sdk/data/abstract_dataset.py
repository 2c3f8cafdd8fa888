"""What File and Tabular datasets share: a definition (datastore paths and how to read them)
that the studio resolves to files pinned by sha256, and registration as versions."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from mlstudio.sdk import _data_files as files
from mlstudio.sdk._http import segment
from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.exceptions import UserErrorException


def _registered_field(field: str) -> property:
    """A read-only attribute: the registered version's `field`, None before registration."""
    return property(lambda dataset: (dataset._registered or {}).get(field))


class AbstractDataset(V1Surface):
    def __init__(self, workspace, definition: dict, _registered: dict | None = None,
                 _local_root: str | None = None):  # fmt: skip
        self._workspace = workspace
        self._definition = definition
        self._registered = _registered
        self._local_root = _local_root  # a run input: the files are in this folder already

    # --- identity ---------------------------------------------------------------------------

    name = _registered_field("name")
    version = _registered_field("version")
    id = _registered_field("id")
    description = _registered_field("description")

    @property
    def tags(self) -> dict:
        return dict((self._registered or {}).get("tags") or {})

    @property
    def workspace(self):
        return self._workspace

    def __repr__(self) -> str:
        kind = type(self).__name__
        if self.name:
            return f"{kind}(name={self.name!r}, version={self.version}, id={self.id!r})"
        return f"{kind}(paths={self._definition['paths']!r})"

    def _base(self) -> str:
        return f"workspaces/{segment(self._workspace.name)}/datasets"

    def _derived(self, step: list):
        definition = copy.deepcopy(self._definition)
        definition.setdefault("transforms", []).append(step)
        return type(self)(self._workspace, definition, self._registered, self._local_root)

    # --- files ------------------------------------------------------------------------------

    def _manifest(self) -> list[dict]:
        if self._registered and "files" in self._registered:
            return self._registered["files"]
        answer = self._workspace._client.post(
            f"{self._base()}/resolve", {"definition": self._definition}
        )
        return answer["files"]

    def _file_url(self, entry: dict) -> str:
        if self.name:
            return (
                f"{self._base()}/{segment(self.name)}/versions/{self.version}/files/"
                f"{files.quoted(entry['path'])}"
            )
        return (
            f"workspaces/{segment(self._workspace.name)}/datastores/"
            f"{segment(entry['datastore'])}/files/{files.quoted(entry['datastore_path'])}"
        )

    def _fetch_all(self, entries: list[dict], folder: Path, overwrite: bool) -> list[str]:
        written = []
        for entry in entries:
            target = files.confined(folder, entry["path"])
            if target.exists() and not overwrite:
                raise UserErrorException(
                    f"{target} exists; pass overwrite=True or download to an empty folder."
                )
            if self._local_root:
                files.copy_local(Path(self._local_root) / entry["path"], target)
            else:
                files.fetch(self._workspace._client, self._file_url(entry), entry, target)
            written.append(str(target))
        return written

    def _cached(self, entries: list[dict]) -> Path:
        """The files in a local cache folder keyed by their hashes, fetched once."""
        if self._local_root:
            return Path(self._local_root)
        folder = self._cache_folder(entries)
        if not (folder / ".complete").exists():
            self._fetch_all(entries, folder, overwrite=True)
            (folder / ".complete").write_text("")
        return folder

    def _cache_folder(self, entries: list[dict]) -> Path:
        return files.dataset_cache(files.digest_of(entries))

    def _read_each(self, read) -> list:
        """read(source, entry) of every file, in order: `source` is the cached file's path or,
        on a first read, the file's bytes as they download into the cache, so that reading
        (parsing) and the download overlap. The cache is complete only once every file was."""
        if self._local_root:
            return [read(Path(self._local_root) / e["path"], e) for e in self._manifest()]
        entries, answer = self._resolved()
        folder = self._cache_folder(entries)
        try:
            if (folder / ".complete").exists():
                results = [read(folder / entry["path"], entry) for entry in entries]
            else:
                results = self._read_fetching(entries, folder, answer, read)
                answer = None  # read to its end, and closed
        finally:
            if answer is not None:
                answer.close()
        if not self._registered:
            self._remember(files.digest_of(entries))
        return results

    def _remember(self, digest: str) -> None:
        memo = self._memo()
        if not memo.exists() or memo.read_text() != digest:
            memo.parent.mkdir(parents=True, exist_ok=True)
            memo.write_text(digest)

    def _read_fetching(self, entries: list[dict], folder: Path, answer, read) -> list:
        results = []
        for index, entry in enumerate(entries):
            target = files.confined(folder, entry["path"])
            client, url = self._workspace._client, self._file_url(entry)
            first = answer if index == 0 else None  # the answer holds the first file only
            with files.streamed(client, url, entry, target, first) as source:
                results.append(read(source, entry))
        (folder / ".complete").write_text("")
        return results

    def _resolved(self) -> tuple[list[dict], object]:
        """The manifest and, when the studio sent it along, an open answer whose rest is the
        first file: an unregistered single-file dataset's first read is one request."""
        if self._registered and "files" in self._registered:
            return self._manifest(), None
        memo = self._memo()
        held = memo.read_text() if memo.exists() else None
        if held and not (files.dataset_cache(held) / ".complete").exists():
            held = None
        answer = self._workspace._client.open(
            "POST", f"{self._base()}/resolve/content", headers={"Content-Type": "application/json"},
            data=json.dumps({"definition": self._definition, "unless": held}).encode(),
        )  # fmt: skip
        head = json.loads(answer.readline())
        if not head["sent"]:
            answer.close()
            answer = None
        return head["files"], answer

    def _memo(self) -> Path:
        client = self._workspace._client
        return files.resolved_memo(client.url, self._workspace.name, self._definition)

    # --- registration -----------------------------------------------------------------------

    def register(self, workspace, name, description=None, tags=None, create_new_version=False):
        answer = workspace._client.post(
            f"workspaces/{segment(workspace.name)}/datasets",
            {"name": name, "definition": self._definition, "description": description,
             "tags": tags, "create_new_version": bool(create_new_version)},
        )  # fmt: skip
        return type(self)(workspace, answer["definition"], _registered=answer)

    def add_tags(self, tags: dict):
        return self._update(tags={**self.tags, **tags})

    def remove_tags(self, tags):
        return self._update(tags={k: v for k, v in self.tags.items() if k not in set(tags)})

    def update(self, description=None, tags=None):
        return self._update(description=description, tags=tags)

    def _update(self, **body):
        if not self._registered:
            raise UserErrorException("Register the dataset first: dataset.register(ws, name).")
        self._registered = self._workspace._client.request(
            "PATCH", f"{self._base()}/{segment(self.name)}/versions/{self.version}", body
        )
        return self

    def unregister_all_versions(self) -> None:
        for version in self._workspace._client.get(f"{self._base()}/{segment(self.name)}/versions"):
            self._workspace._client.request(
                "DELETE", f"{self._base()}/{segment(self.name)}/versions/{version['version']}"
            )

    def as_named_input(self, name: str):
        """This dataset as the run input `name`: Run.get_context().input_datasets[name]."""
        from mlstudio.sdk.data.dataset_consumption_config import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)

    def as_mount(self, path_on_compute=None):
        return self.as_named_input(self.name or "input").as_mount(path_on_compute)

    def as_download(self, path_on_compute=None):
        return self.as_named_input(self.name or "input").as_download(path_on_compute)

    def _local_folder(self, target_path, overwrite: bool) -> Path:
        folder = Path(target_path or os.getcwd()).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
