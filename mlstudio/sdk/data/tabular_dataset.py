"""v1's azureml.data.tabular_dataset.TabularDataset: delimited or parquet files read into a
pandas DataFrame on the client (pandas, and pyarrow for parquet, are needed only here)."""

from __future__ import annotations

from mlstudio.sdk.data.abstract_dataset import AbstractDataset
from mlstudio.sdk.exceptions import UserErrorException


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "to_pandas_dataframe() needs pandas: pip install pandas (and pyarrow for parquet "
            "files)."
        ) from None
    return pandas


class TabularDataset(AbstractDataset):
    def to_pandas_dataframe(self, on_error="null", out_of_range_datetime="null"):
        pandas = _pandas()
        if self._definition.get("format") == "parquet":  # read from a file: parquet seeks
            entries = self._manifest()
            folder = self._cached(entries)
            frames = [self._read(pandas, folder / e["path"], e) for e in entries]
        else:
            frames = self._read_each(lambda source, e: self._read(pandas, source, e))
        frame = pandas.concat(frames, ignore_index=True) if len(frames) != 1 else frames[0]
        return self._transformed(frame)

    def _read(self, pandas, path, entry):
        options = self._definition.get("options") or {}
        if self._definition.get("format") == "parquet":
            try:
                frame = pandas.read_parquet(path)
            except ImportError:
                raise ImportError("Parquet files need pyarrow: pip install pyarrow.") from None
        else:
            frame = self._read_csv(pandas, path, entry, options)
        if options.get("include_path"):
            frame.insert(0, "Path", f"/{entry['path']}")
        return frame

    def _read_csv(self, pandas, path, entry, options):
        kwargs = {
            "sep": options.get("separator") or ",",
            "header": 0 if options.get("header", True) else None,
            "encoding": {"utf8": "utf-8", "iso88591": "latin-1"}.get(
                options.get("encoding") or "utf8", options.get("encoding")
            ),
        }
        if not options.get("infer_column_types", True):
            kwargs["dtype"] = str
        try:
            frame = pandas.read_csv(path, **kwargs)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserErrorException(f"{entry['datastore_path']}: {exc}") from None
        types = options.get("set_column_types") or {}
        if types:
            frame = frame.astype({name: _dtype(kind) for name, kind in types.items()})
        return frame

    def _transformed(self, frame):
        for step in self._definition.get("transforms") or []:
            kind, value = step
            if kind == "take":
                frame = frame.head(value)
            elif kind == "skip":
                frame = frame.iloc[value:]
            elif kind == "keep_columns":
                frame = frame[[c for c in value]]
            elif kind == "drop_columns":
                frame = frame.drop(columns=value)
        return frame.reset_index(drop=True)

    def take(self, count: int) -> TabularDataset:
        return self._derived(["take", int(count)])

    def skip(self, count: int) -> TabularDataset:
        return self._derived(["skip", int(count)])

    def keep_columns(self, columns, validate=False) -> TabularDataset:
        return self._derived(["keep_columns", [columns] if isinstance(columns, str) else
                              list(columns)])  # fmt: skip

    def drop_columns(self, columns) -> TabularDataset:
        return self._derived(["drop_columns", [columns] if isinstance(columns, str) else
                              list(columns)])  # fmt: skip


def _dtype(kind) -> str:
    text = str(getattr(kind, "value", kind)).lower()
    return {"int": "int64", "integer": "int64", "float": "float64", "str": "string",
            "string": "string", "bool": "bool", "boolean": "bool",
            "datetime": "datetime64[ns]"}.get(text, text)  # fmt: skip
