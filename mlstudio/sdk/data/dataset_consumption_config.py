"""v1's azureml.data.dataset_consumption_config.DatasetConsumptionConfig: a dataset as a named
input of a run. In ScriptRunConfig arguments it stands for the input's local folder, which the
executor puts in its place when the script starts."""

from __future__ import annotations

from mlstudio.sdk.exceptions import UserErrorException

PLACEHOLDER = "DatasetConsumptionConfig:"


class DatasetConsumptionConfig:
    def __init__(self, name, dataset, mode="direct", path_on_compute=None):
        if not name or not isinstance(name, str):
            raise UserErrorException("A dataset input needs a name: as_named_input('mnist').")
        self.name = name
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def as_mount(self, path_on_compute=None) -> DatasetConsumptionConfig:
        """Read-only, zero copy: the store's files linked into the run's folder."""
        return DatasetConsumptionConfig(self.name, self.dataset, "mount", path_on_compute)

    def as_download(self, path_on_compute=None) -> DatasetConsumptionConfig:
        """A copy in the run's working folder, which the script may change."""
        return DatasetConsumptionConfig(self.name, self.dataset, "download", path_on_compute)

    def __str__(self) -> str:
        return f"{PLACEHOLDER}{self.name}"

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r})"

    def to_dict(self) -> dict:
        dataset = self.dataset
        ref = {"id": dataset.id} if dataset.id else {"definition": dataset._definition}
        return {"name": self.name, "mode": self.mode, "path_on_compute": self.path_on_compute,
                "dataset": ref}  # fmt: skip
