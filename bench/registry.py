"""The model registry on a real studio: register a large run output (no second copy), upload a
folder of many files with Model.register (then again after one change), and download.

Peers: `cp` / `cp -r` on the same disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, upload_figures
from bench.util import BenchStudio

GB = 1024**3
MB = 1024**2

WRITE_OUTPUT = """
import os
chunk = os.urandom(16 * 1024 * 1024)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pt", "wb") as out:
    for _ in range({chunks}):
        out.write(chunk)
"""


def _used(path: Path) -> int:
    """Bytes in use on the file system holding `path`."""
    stats = os.statvfs(path)
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize


def _timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _cp(*args: str) -> float:
    os.sync()
    seconds, _ = _timed(lambda: subprocess.run(["cp", *args], check=True))
    return seconds


def register_from_run(studio: BenchStudio, size: int) -> list[Figure]:
    from mlstudio.sdk import Experiment, ScriptRunConfig

    ws = studio.workspace()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(WRITE_OUTPUT.format(chunks=size // (16 * MB)))
        run = Experiment(ws, "bench_registry").submit(ScriptRunConfig(folder, "train.py"))
        run.wait_for_completion()
    os.sync()
    before = _used(studio.data_dir)
    seconds, model = _timed(lambda: run.register_model("big", model_path="outputs/model.pt"))
    os.sync()
    written = max(0, _used(studio.data_dir) - before)
    label = f"{size // MB} MB"
    return [
        Figure(f"run.register_model of a {label} output: time", seconds, "s", target=1.0),
        Figure(
            f"run.register_model of a {label} output: bytes written to the store",
            written / MB,
            "MB",
            target=0.01 * size / MB,
        ),
        *download(ws, model, Path(studio.data_dir) / "files" / "runs" / run.id / "outputs", size),
    ]


def download(ws, model, source_folder: Path, size: int) -> list[Figure]:
    with tempfile.TemporaryDirectory(dir=source_folder.parent.parent) as scratch:
        seconds, _ = _timed(lambda: model.download(target_dir=scratch))
        os.remove(Path(scratch, "model.pt"))
        peer = _cp(str(source_folder / "model.pt"), scratch)
    name = f"model.download of {size // MB} MB"
    return [Figure.throughput(name, size, seconds, peer_name="cp", peer_seconds=peer)]


def register_folder(studio: BenchStudio, files: int, each: int) -> list[Figure]:
    from mlstudio.sdk import Model

    ws = studio.workspace()
    total = files * each
    with tempfile.TemporaryDirectory(dir=studio.data_dir) as scratch:
        folder = Path(scratch, "model")
        folder.mkdir()
        for index in range(files):
            Path(folder, f"part-{index:04d}.bin").write_bytes(os.urandom(each))
        peer = _cp("-r", str(folder), str(Path(scratch, "copy")))
        shutil.rmtree(Path(scratch, "copy"))
        os.sync()
        seconds, first = _timed(lambda: Model.register(ws, str(folder), "folder"))
        Path(folder, "part-0000.bin").write_bytes(os.urandom(each))
        again, second = _timed(lambda: Model.register(ws, str(folder), "folder"))
    label = f"{files:,} files, {total // MB} MB"
    return [
        *upload_figures(
            f"Model.register ({label})",
            total=total,
            seconds=seconds,
            peer=peer,
            sent_bytes=second._uploaded["uploaded_bytes"],
            again=again,
        ),
        Figure(
            "Model.register first upload: bytes sent",
            100 * first._uploaded["uploaded_bytes"] / total,
            "% of the folder",
        ),
    ]


def run(quick: bool) -> list[Figure]:
    size = 64 * MB if quick else GB
    files, each = (100, 256 * 1024) if quick else (1000, MB)
    with BenchStudio() as studio:
        return register_from_run(studio, size) + register_folder(studio, files, each)
