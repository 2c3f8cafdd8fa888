"""v1's azureml.data.OutputFileDatasetConfig: a folder the run writes, uploaded to a datastore
path when the run ends, and registered as a dataset version with register_on_complete()."""

from __future__ import annotations

import copy
import uuid

from mlstudio.sdk.exceptions import UserErrorException

PLACEHOLDER = "OutputFileDatasetConfig:"


class OutputFileDatasetConfig:
    def __init__(self, name=None, destination=None, source=None, partition_format=None):
        self.name = name or f"output_{uuid.uuid4().hex[:8]}"
        if destination is not None and not (
            isinstance(destination, tuple) and len(destination) == 2
        ):
            raise UserErrorException(
                "destination must be (datastore, 'path/{run-id}'), e.g. "
                "(ws.get_default_datastore(), 'outputs/{run-id}')."
            )
        self.destination = destination
        self._register: dict | None = None

    def register_on_complete(self, name, description=None, tags=None) -> OutputFileDatasetConfig:
        """Register what the run wrote as a version of dataset `name` when it completes."""
        made = copy.copy(self)
        made._register = {"name": name, "description": description, "tags": tags}
        return made

    def as_upload(self, overwrite=False, source_globs=None) -> OutputFileDatasetConfig:
        return self

    def as_mount(self, disable_metadata_cache=False) -> OutputFileDatasetConfig:
        return self  # the folder is local and uploaded at the end either way

    def __str__(self) -> str:
        return f"{PLACEHOLDER}{self.name}"

    def __repr__(self) -> str:
        return f"OutputFileDatasetConfig(name={self.name!r}, destination={self.destination!r})"

    def to_dict(self) -> dict:
        destination = None
        if self.destination is not None:
            datastore, path = self.destination
            destination = {"datastore": datastore.name, "path": str(path)}
        return {"name": self.name, "mode": "upload", "destination": destination,
                "register": self._register}  # fmt: skip
