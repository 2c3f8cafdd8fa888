"""v1's azureml.data.data_reference.DataReference: what Datastore.upload() and
datastore.path() return; a dataset accepts it as a path."""

from __future__ import annotations

from mlstudio.sdk.data.datapath import DataPath


class DataReference(DataPath):
    def __init__(self, datastore, path_on_datastore=None, data_reference_name=None, mode="mount"):
        super().__init__(datastore, path_on_datastore, data_reference_name)
        self.data_reference_name = data_reference_name or datastore.name
        self.mode = mode

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"
