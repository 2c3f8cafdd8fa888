"""v1's azureml.data.datapath.DataPath: a path on a datastore."""

from __future__ import annotations


class DataPath:
    def __init__(self, datastore=None, path_on_datastore=None, name=None):
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore or "/"
        self.name = name

    @property
    def datastore_name(self) -> str:
        return self.datastore.name

    def __repr__(self) -> str:
        return f"DataPath({self.datastore.name!r}, {self.path_on_datastore!r})"
