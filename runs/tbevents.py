"""TensorBoard event files written by a run under ./logs, imported into its metrics as it goes.

An event file is a sequence of TFRecords: a little-endian uint64 length, the masked CRC-32C of
those 8 bytes, the data (an `Event` protocol buffer) and the masked CRC-32C of the data. Each
file is read incrementally: only the bytes added since the last read, with a record cut in the
middle kept until the rest arrives. Scalars come from `simple_value` (torch.utils.tensorboard,
tensorboardX, tf.compat.v1) or from a scalar tensor of the "scalars" plugin (tf.summary).

A file with a bad checksum or an unreadable record is skipped from there on, with a note; it
never stops the other files.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

try:  # the C implementation, installed with MLStudio; the pure-Python fallback is slower
    from google_crc32c import value as _crc32c
except ImportError:  # pragma: no cover - only without the wheel
    _crc32c = None

EVENT_MARK = ".tfevents."
READ_LIMIT = 16 * 1024 * 1024
MAX_RECORD = 256 * 1024 * 1024
HEADER = 12  # length + its CRC
FOOTER = 4  # the data's CRC
SCAN_EVERY = 4  # look for new event files every this many reads


def _crc32c_python(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = _crc32c(data) if _crc32c else _crc32c_python(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class CorruptEventFile(Exception):
    pass


class EventFileReader:
    """One event file, read from where the last read stopped."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0  # bytes of the file taken into `pending` or parsed
        self.pending = b""
        self.broken = False

    def read(self) -> list[tuple[str, float, float, float]]:
        """The scalars (tag, step, value, wall time) of the records completed since the last
        read. Raises CorruptEventFile, after which the file is skipped."""
        if self.broken:
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read(READ_LIMIT)
        self.offset += len(data)
        buffer = self.pending + data if self.pending else data
        base = self.offset - len(buffer)  # the file offset of buffer[0]
        scalars: list[tuple[str, float, float, float]] = []
        position = 0
        try:
            while len(buffer) - position >= HEADER:
                header = buffer[position : position + 8]
                (length,) = struct.unpack("<Q", header)
                (length_crc,) = struct.unpack_from("<I", buffer, position + 8)
                if masked_crc(header) != length_crc or length > MAX_RECORD:
                    raise CorruptEventFile(f"a bad record header at byte {base + position}")
                end = position + HEADER + length + FOOTER
                if end > len(buffer):
                    break
                payload = buffer[position + HEADER : end - FOOTER]
                (data_crc,) = struct.unpack_from("<I", buffer, end - FOOTER)
                if masked_crc(payload) != data_crc:
                    raise CorruptEventFile(
                        f"a bad checksum in the record at byte {base + position}"
                    )
                scalars.extend(event_scalars(payload))
                position = end
        except CorruptEventFile:
            self.broken = True
            self.pending = b""
            raise
        self.pending = buffer[position:]
        return scalars


def event_scalars(payload: bytes) -> list[tuple[str, float, float, float]]:
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2

    try:
        event = event_pb2.Event.FromString(payload)
    except DecodeError as exc:
        raise CorruptEventFile(f"an unreadable event ({exc})") from None
    if event.WhichOneof("what") != "summary":
        return []
    found = []
    for value in event.summary.value:
        kind = value.WhichOneof("value")
        if kind == "simple_value":  # a float32: keep its shortest decimal, 0.1 not 0.100000001
            number = float(str(np.float32(value.simple_value)))
        elif kind == "tensor" and _is_scalar_tensor(value):
            number = _tensor_number(value.tensor)
            if number is None:
                continue
        else:
            continue
        found.append((value.tag, float(event.step), float(number), float(event.wall_time)))
    return found


def _is_scalar_tensor(value) -> bool:
    plugin = value.metadata.plugin_data.plugin_name
    dims = value.tensor.tensor_shape.dim
    return plugin == "scalars" or (not plugin and not dims)


def _tensor_number(tensor) -> float | None:
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(tensor)
    except (TypeError, ValueError):
        return None
    if array.size != 1 or array.dtype.kind not in "fiub":
        return None
    return float(array.reshape(-1)[0])


class TensorBoardImporter:
    """Every event file under a run's ./logs, as metric records for the Ingestor.

    A tag becomes the metric's name. When event files in two folders use the same tag (say
    logs/train and logs/eval both write "loss"), the folder seen first keeps the plain name
    and the other becomes "eval/loss".
    """

    def __init__(self, root: Path, *, note: Callable[[str], None]):
        self.root = root
        self.note = note
        self.readers: dict[Path, EventFileReader] = {}
        self.owners: dict[str, str] = {}  # tag -> the folder that owns its plain name
        self.reads = 0

    def read(self, *, final: bool = False) -> list[dict]:
        if final or self.reads % SCAN_EVERY == 0:
            self._scan()
        self.reads += 1
        records: list[dict] = []
        for path, reader in self.readers.items():
            try:
                scalars = reader.read()
            except CorruptEventFile as exc:
                self.note(f"TensorBoard: skipped {self._relative(path)} from here on: {exc}")
                continue
            except OSError as exc:
                self.note(f"TensorBoard: could not read {self._relative(path)}: {exc.strerror}")
                reader.broken = True
                continue
            folder = path.parent.relative_to(self.root).as_posix()
            for tag, step, value, wall_time in scalars:
                records.append(self._record(folder, tag, step, value, wall_time))
            if final and reader.pending and not reader.broken:
                self.note(
                    f"TensorBoard: {self._relative(path)} ends with a truncated record "
                    f"({len(reader.pending)} bytes); it was skipped"
                )
        return records

    def _record(self, folder: str, tag: str, step: float, value: float, at: float) -> dict:
        owner = self.owners.setdefault(tag, folder)
        name = tag if owner == folder else f"{folder}/{tag}"
        record = {"n": name, "s": step, "t": at}
        if math.isfinite(value):
            record["v"] = value
        else:
            record["x"] = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return record

    def _scan(self) -> None:
        if not self.root.is_dir():
            return
        real_root = Path(os.path.realpath(self.root))
        for current, dirs, names in os.walk(self.root):
            dirs[:] = [d for d in dirs if not (Path(current) / d).is_symlink()]
            for name in names:
                if EVENT_MARK not in name:
                    continue
                path = Path(current) / name
                if path in self.readers:
                    continue
                real = Path(os.path.realpath(path))
                if real_root not in real.parents or not real.is_file():
                    continue  # a link out of the run's folder is never read
                self.readers[path] = EventFileReader(path)

    def _relative(self, path: Path) -> str:
        return "logs/" + path.relative_to(self.root).as_posix()
