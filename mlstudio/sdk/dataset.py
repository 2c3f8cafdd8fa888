"""v1's azureml.core.dataset.Dataset: `Dataset.File.from_files((datastore, 'mnist/'))`,
`Dataset.Tabular.from_delimited_files(...)`, `.register(ws, name)`, `Dataset.get_by_name`."""

from __future__ import annotations

from mlstudio.sdk._http import segment
from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.data._paths import paths_of
from mlstudio.sdk.data.file_dataset import FileDataset
from mlstudio.sdk.data.tabular_dataset import TabularDataset
from mlstudio.sdk.exceptions import UserErrorException


def _made(cls, definition: dict, validate: bool):
    path_items, workspace = definition.pop("_path"), None
    definition["paths"], workspace = paths_of(path_items)
    definition["validate"] = bool(validate)
    dataset = cls(workspace, definition)
    if validate:
        dataset._manifest()  # the studio refuses a path that matches nothing, naming the closest
    return dataset


class _FileFactory:
    @staticmethod
    def from_files(path, validate=True, partition_format=None, is_file=False) -> FileDataset:
        return _made(FileDataset, {"kind": "file", "_path": path}, validate)

    @staticmethod
    def upload_directory(src_dir, target, pattern=None, overwrite=False, show_progress=True):
        datastore, folder = target if isinstance(target, tuple) else (
            target.datastore, target.path_on_datastore)  # fmt: skip
        datastore.upload(src_dir, target_path=folder, overwrite=overwrite,
                         show_progress=show_progress)  # fmt: skip
        return _FileFactory.from_files((datastore, folder))


class _TabularFactory:
    @staticmethod
    def from_delimited_files(path, validate=True, include_path=False, infer_column_types=True,
                             set_column_types=None, separator=",", header=True,
                             partition_format=None, support_multi_line=False,
                             empty_as_string=False, encoding="utf8") -> TabularDataset:  # fmt: skip
        header = header not in (False, "NO_HEADERS", 0)
        options = {"include_path": bool(include_path),
                   "infer_column_types": bool(infer_column_types),
                   "set_column_types": _types(set_column_types), "separator": separator,
                   "header": header, "encoding": encoding}  # fmt: skip
        definition = {"kind": "tabular", "format": "delimited", "options": options, "_path": path}
        return _made(TabularDataset, definition, validate)

    @staticmethod
    def from_parquet_files(path, validate=True, include_path=False, set_column_types=None,
                           partition_format=None) -> TabularDataset:  # fmt: skip
        options = {"include_path": bool(include_path),
                   "set_column_types": _types(set_column_types)}  # fmt: skip
        definition = {"kind": "tabular", "format": "parquet", "options": options, "_path": path}
        return _made(TabularDataset, definition, validate)


def _types(types) -> dict:
    if not types:
        return {}
    if not isinstance(types, dict):
        raise UserErrorException("set_column_types must map column names to types.")
    return {str(k): str(getattr(v, "value", getattr(v, "__name__", v))) for k, v in types.items()}


def _from_answer(workspace, answer: dict):
    cls = TabularDataset if answer["kind"] == "tabular" else FileDataset
    return cls(workspace, answer["definition"], _registered=answer)


class Dataset(V1Surface):
    File = _FileFactory
    Tabular = _TabularFactory

    @staticmethod
    def get_by_name(workspace, name, version="latest"):
        version = "latest" if version in (None, "latest") else int(version)
        answer = workspace._client.get(
            f"workspaces/{segment(workspace.name)}/datasets/{segment(name)}?version={version}"
        )
        return _from_answer(workspace, answer)

    @staticmethod
    def get_by_id(workspace, id):
        answer = workspace._client.get(
            f"workspaces/{segment(workspace.name)}/datasets/by-id/{segment(id)}"
        )
        return _from_answer(workspace, answer)

    @staticmethod
    def get_all(workspace) -> dict:
        answers = workspace._client.get(f"workspaces/{segment(workspace.name)}/datasets")
        return {a["name"]: _from_answer(workspace, a) for a in answers}
