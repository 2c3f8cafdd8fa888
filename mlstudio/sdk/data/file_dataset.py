"""v1's azureml.data.file_dataset.FileDataset: files pinned by content hash."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from mlstudio.sdk import _data_files as files
from mlstudio.sdk.data.abstract_dataset import AbstractDataset


class FileDataset(AbstractDataset):
    def _entries(self) -> list[dict]:
        return files.apply_file_transforms(self._manifest(), self._definition.get("transforms"))

    def to_path(self) -> list[str]:
        """The files' paths, as mount() or download() lay them out: '/train/a.png', ..."""
        return [f"/{entry['path']}" for entry in self._entries()]

    def download(self, target_path=None, overwrite=False) -> list[str]:
        """Write the files under `target_path` (default: the current folder); returns the
        local paths. Each file is checked against the sha256 the dataset pinned."""
        folder = self._local_folder(target_path, overwrite)
        return self._fetch_all(self._entries(), folder, bool(overwrite))

    def mount(self, mount_point=None, **kwargs) -> MountContext:
        """A context manager giving the files read-only at `mount_point` (default: a temporary
        folder). On a client there is no FUSE: the files come from a local cache keyed by
        their hashes, linked when possible, so a second mount fetches nothing."""
        return MountContext(self, mount_point)

    def take(self, count: int) -> FileDataset:
        return self._derived(["take", int(count)])

    def skip(self, count: int) -> FileDataset:
        return self._derived(["skip", int(count)])


class MountContext:
    """v1's MountContext: `with dataset.mount() as context: context.mount_point`."""

    def __init__(self, dataset: FileDataset, mount_point=None):
        self._dataset = dataset
        self._given = mount_point
        self.mount_point: str | None = None
        self._made: str | None = None

    def start(self) -> None:
        entries = self._dataset._entries()
        cache = self._dataset._cached(entries)
        if self._given:
            root = Path(self._given)
        else:
            self._made = tempfile.mkdtemp(prefix="mlstudio-mount-")
            root = Path(self._made)
        for entry in entries:
            target = files.confined(root, entry["path"])
            target.parent.mkdir(parents=True, exist_ok=True)
            source = cache / entry["path"]
            os.chmod(source, stat.S_IMODE(os.stat(source).st_mode) & ~0o222)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
        self.mount_point = str(root)

    def stop(self) -> None:
        if self._made:
            shutil.rmtree(self._made, ignore_errors=True)

    def __enter__(self) -> MountContext:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError):
            self.stop()
