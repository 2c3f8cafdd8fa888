"""The metric-logging half of mlstudio.sdk.run.Run: v1's log, log_list, log_row, log_table,
log_image and the other log_* calls, checked and sent to the run's sink."""

from __future__ import annotations

import io
import json
from pathlib import Path

from mlstudio.sdk import _metrics as m
from mlstudio.sdk.exceptions import UserErrorException

JSON_KINDS = ("confusion_matrix", "accuracy_table", "residuals", "predictions")


class _Metrics:
    """The v1 logging calls. Subclasses give `_sink` (where records go)."""

    _sink = None

    def _init_metrics(self) -> None:
        self._quoted: dict[str, str] = {}  # numeric metrics, ready for the fast path
        self._kinds: dict[str, bool] = {}  # name -> holds numbers
        self._tags: dict[str, str | None] = {}
        self._properties: dict[str, str] = {}

    def log(self, name, value, description="", step=None):
        """Log one value; calling again with the same name builds a series."""
        kind = type(value)
        quoted = self._quoted.get(name)
        # The fast path: a known numeric metric, a finite number (inf - inf and nan - nan are
        # nan), no step. It skips every check already made for this name.
        if (
            quoted is not None
            and step is None
            and (kind is int or (kind is float and value - value == 0.0))
        ):
            at = m.now()
            self._sink.write_line(f'{{"n":{quoted},"v":{value!r},"t":{at!r}}}\n', at)
            return
        self._log_slow(name, value, description, step)

    def _log_slow(self, name, value, description, step) -> None:
        m.check_name(name)
        if isinstance(value, list | tuple | set | dict) or (
            getattr(value, "shape", ()) != () and hasattr(value, "tolist")
        ):
            raise UserErrorException(
                f"log({name!r}, …) takes one value, not a {type(value).__name__}; use "
                f"log_list({name!r}, values) for a list."
            )
        value = m.plain(value)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if self._kinds.get(name) is True and not numeric and value is not None:
            raise UserErrorException(
                f"Metric {name!r} holds numbers; log {value!r} under another name."
            )
        if step is not None and (
            isinstance(step, bool) or not isinstance(m.plain(step), int | float)
        ):
            raise UserErrorException(f"step must be a number, not {step!r}.")
        at = m.now()
        if numeric:
            record = m.number_record(name, value, m.plain(step) if step is not None else None, at)
        else:
            m.check_size(name, value)
            record = {"n": name, "v": value, "t": at}
        if description and name not in self._kinds:
            record["d"] = str(description)
        self._kinds.setdefault(name, numeric)
        if numeric and self._kinds[name]:
            self._quoted[name] = json.dumps(name)
        self._sink.send(record)

    def log_list(self, name, value, description=""):
        """Log a list of values (any iterable, generators too) as one series."""
        m.check_name(name)
        values = m.list_values(name, value)
        at = m.now()
        for position, chunk in enumerate(m.sized_chunks(name, values)):
            record = {"n": name, "k": "list", "v": _json_safe(chunk), "t": at}
            if description and position == 0:
                record["d"] = str(description)
            self._sink.send(record)

    def log_row(self, name, description=None, **kwargs):
        m.check_name(name)
        row = m.row_values(name, kwargs)
        m.check_size(name, row)
        self._sink.send({"n": name, "k": "row", "v": _json_safe(row), "t": m.now()})

    def log_table(self, name, value, description=""):
        m.check_name(name)
        table = m.table_values(name, value)
        m.check_size(name, table)
        self._sink.send({"n": name, "k": "table", "v": _json_safe(table), "t": m.now()})

    def _log_json(self, kind: str, name, value, description="") -> None:
        m.check_name(name)
        value = m.plain(value)
        m.check_size(name, value)
        self._sink.send({"n": name, "k": kind, "v": _json_safe(value), "t": m.now()})

    def log_confusion_matrix(self, name, value, description=""):
        self._log_json("confusion_matrix", name, value, description)

    def log_accuracy_table(self, name, value, description=""):
        self._log_json("accuracy_table", name, value, description)

    def log_residuals(self, name, value, description=""):
        self._log_json("residuals", name, value, description)

    def log_predictions(self, name, value, description=""):
        self._log_json("predictions", name, value, description)

    def tag(self, key: str, value=None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict) -> None:
        clean = {str(k): None if v is None else str(v) for k, v in tags.items()}
        self._tags.update(clean)
        self._sink.send({"op": "tag", "tags": clean})

    def remove_tags(self, tags) -> None:
        keys = [tags] if isinstance(tags, str) else [str(k) for k in tags]
        for key in keys:
            self._tags[key] = _REMOVED
        self._sink.send({"op": "untag", "keys": keys})

    def add_properties(self, properties: dict) -> None:
        """Properties are immutable: a key may be set again only to the same value."""
        clean = {str(k): str(v) for k, v in properties.items()}
        known = {**self._server_properties(), **self._properties}
        for key, value in clean.items():
            if key in known and known[key] != value:
                raise UserErrorException(
                    f"Property {key!r} is already {known[key]!r}; properties cannot change. "
                    "Use a tag for values that change."
                )
        self._properties.update(clean)
        self._sink.send({"op": "props", "props": clean})

    def _server_properties(self) -> dict:
        return {}

    def log_image(self, name, path=None, plot=None, description=""):
        """Log an image: a file (it must really be an image) or a matplotlib figure/pyplot,
        saved as PNG. The image is stored as a run file under images/."""
        m.check_name(name)
        if (path is None) == (plot is None):
            raise UserErrorException("log_image() takes either path= or plot=, not both.")
        if plot is not None:
            buffer = io.BytesIO()
            plot.savefig(buffer, format="png")
            data, suffix = buffer.getvalue(), ".png"
        else:
            data = Path(path).read_bytes()
            suffix = _image_suffix(data)
            if suffix is None:
                raise UserErrorException(
                    f"{path} is not an image (PNG, JPEG, GIF, BMP, WebP or SVG); log_image() "
                    "stores pictures. Use upload_file() for other files."
                )
        self._images = getattr(self, "_images", 0) + 1
        file_name = f"images/{_file_safe(name)}_{self._images}{suffix}"
        self.upload_file(file_name, io.BytesIO(data))
        self._sink.send({"n": name, "k": "image", "v": {"path": file_name}, "t": m.now()})

    def upload_folder(self, name: str, path) -> list[str]:
        root = Path(path)
        uploaded = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            target = f"{name.rstrip('/')}/{file.relative_to(root).as_posix()}"
            self.upload_file(target, str(file))
            uploaded.append(target)
        return uploaded

    def create_children(self, count=None, tag_key=None, tag_values=None) -> list:
        if tag_values is not None:
            children = [self.child_run() for _ in tag_values]
            for child, value in zip(children, tag_values, strict=True):
                child.tag(tag_key, value)
            return children
        return [self.child_run() for _ in range(count or 0)]

    def flush(self, timeout_seconds: float | None = None) -> None:
        self._sink.flush()


_REMOVED = object()
IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
    (b"BM", ".bmp"),
)


def _image_suffix(data: bytes) -> str | None:
    for magic, suffix in IMAGE_MAGIC:
        if data.startswith(magic):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if b"<svg" in data[:1024].lower():
        return ".svg"
    return None


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]


def _json_safe(value):
    """Replace non-finite floats inside rows and tables by their names, as JSON can't hold
    them; the studio shows them as NaN / Infinity."""
    if isinstance(value, float) and value - value != 0.0:
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value
