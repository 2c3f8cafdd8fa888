"""azureml.tensorboard.export.export_to_tensorboard: a run's metrics as TensorBoard event
files, written with the standard library (TFRecord framing, CRC-32C, hand-encoded Event
protobufs), so `tensorboard --logdir` shows them.

    from mlstudio.sdk.tensorboard.export import export_to_tensorboard
    export_to_tensorboard(run, "tb_logs")      # tb_logs/<run id>/events.out.tfevents...
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> bytes:
    crc = crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def _record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + _masked(length) + data + _masked(data)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64 as protobuf sends it
    out = bytearray()
    while True:
        bits, value = value & 0x7F, value >> 7
        out.append(bits | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _event(wall_time: float, step: int = 0, *, tag: str | None = None, value: float = 0.0,
           file_version: str | None = None) -> bytes:  # fmt: skip
    body = b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step)
    if file_version is not None:
        body += _field(3, file_version.encode())
    if tag is not None:
        summary_value = _field(1, tag.encode()) + b"\x15" + struct.pack("<f", value)
        body += _field(5, _field(1, summary_value))
    return body


def _series(value) -> list[float]:
    values = value if isinstance(value, list) else [value]
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def write_scalars(folder: str | os.PathLike, metrics: dict, wall_time: float | None = None):
    """One event file in `folder` holding every numeric metric, step = position in series."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wall_time = time.time() if wall_time is None else wall_time
    path = folder / f"events.out.tfevents.{int(wall_time)}.{socket.gethostname()}.mlstudio"
    with open(path, "wb") as out:
        out.write(_record(_event(wall_time, file_version="brain.Event:2")))
        for name, value in sorted(metrics.items()):
            for step, number in enumerate(_series(value)):
                out.write(_record(_event(wall_time, step, tag=name, value=number)))
    return str(path)


def export_to_tensorboard(run_data, logdir, logger=None, recursive: bool = True) -> None:
    """Write the metrics of a run (or a list of runs), and with `recursive` their child
    runs', under `logdir/<run id>/`."""
    runs = list(run_data) if isinstance(run_data, list | tuple) else [run_data]
    for run in runs:
        for run_id, metrics in _metrics_by_run(run, recursive).items():
            path = write_scalars(Path(logdir) / run_id, metrics)
            if logger is not None:
                logger.info("exported metrics of %s to %s", run_id, path)


def _metrics_by_run(run, recursive: bool) -> dict:
    if recursive:
        return run.get_metrics(recursive=True)
    return {run.id: run.get_metrics()}


__all__ = ["export_to_tensorboard"]
