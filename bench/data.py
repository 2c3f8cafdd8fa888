"""Datastores and datasets on a real studio: upload a folder of many files to the default
datastore (then again after one change), a run's Preparing -> Running with a large dataset
as_mount() against as_download(), and to_pandas_dataframe() of a large CSV.

Peers, in the same run: `cp -r` on the same disk, and pandas.read_csv of the same file.
`--quick` scales the sizes down (see run()). `MLSTUDIO_BENCH_DATA=tabular` (or a comma list of
`upload`, `mount`, `tabular`) runs only those figures, e.g. the CSV one without the GB uploads.
The CSV is read REPEATS times (cold, cached, then pandas.read_csv in a fresh process, in turn);
each figure is the median.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.figures import Figure, upload_figures
from bench.util import BenchStudio

MB = 1024**2
GB = 1024**3
PARTS = {"upload", "mount", "tabular"}
REPEATS = 5  # reads of the CSV, each cold then cached, then pandas.read_csv
STAMP = re.compile(r"^(\S+Z) (.*)$")


def _timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _folder(root: Path, files: int, total: int) -> Path:
    each = max(1, total // files)
    root.mkdir(parents=True)
    for index in range(files):
        sub = root / f"d{index // 500:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"f{index:05d}.bin").write_bytes(os.urandom(each))
    return root


def upload(studio: BenchStudio, files: int, total: int) -> list[Figure]:
    ws = studio.workspace()
    datastore = ws.get_default_datastore()
    with tempfile.TemporaryDirectory(dir=studio.data_dir) as scratch:
        folder = _folder(Path(scratch, "src"), files, total)
        os.sync()
        peer, _ = _timed(lambda: subprocess.run(["cp", "-r", str(folder), scratch + "/copy"],
                                                check=True))  # fmt: skip
        shutil.rmtree(Path(scratch, "copy"))
        os.sync()
        seconds, _ = _timed(lambda: datastore.upload(str(folder), "bench", show_progress=False))
        first = next(folder.rglob("*.bin"))
        first.write_bytes(os.urandom(first.stat().st_size))
        again, second = _timed(
            lambda: datastore.upload(str(folder), "bench", overwrite=True, show_progress=False)
        )
    label = f"{files:,} files, {total // MB:,} MB"
    return upload_figures(f"datastore.upload ({label})", total=total, seconds=seconds, peer=peer,
                          sent_bytes=second.uploaded["uploaded_bytes"], again=again)  # fmt: skip


def _preparing_to_running(run) -> float:
    """From the system log: the snapshot materialized (Preparing) to the process started."""
    with tempfile.TemporaryDirectory() as scratch:
        run.download_file("system_logs/executor.txt", f"{scratch}/log.txt")
        lines = Path(scratch, "log.txt").read_text().splitlines()
    stamps = {}
    for line in lines:
        match = STAMP.match(line)
        if match and match.group(2).startswith(("Materializing snapshot", "Started process")):
            stamps.setdefault(match.group(2).split()[0], datetime.fromisoformat(match.group(1)))
    return (stamps["Started"] - stamps["Materializing"]).total_seconds()


def mount(studio: BenchStudio, total: int) -> list[Figure]:
    from mlstudio.sdk import Dataset, Experiment, ScriptRunConfig

    ws = studio.workspace()
    datastore = ws.get_default_datastore()
    with tempfile.TemporaryDirectory(dir=studio.data_dir) as scratch:
        datastore.upload(str(_folder(Path(scratch, "big"), 50, total)), "big",
                         show_progress=False)  # fmt: skip
        project = Path(scratch, "project")  # beside the data, not holding it
        project.mkdir()
        (project / "train.py").write_text("import sys, os; print(len(os.listdir(sys.argv[1])))\n")
        dataset = Dataset.File.from_files((datastore, "big/")).register(ws, "big")
        seconds = {}
        for mode in ("mount", "download"):
            argument = getattr(dataset.as_named_input("big"), f"as_{mode}")()
            run = Experiment(ws, "bench_data").submit(
                ScriptRunConfig(str(project), "train.py", arguments=[argument])
            )
            run.wait_for_completion()
            seconds[mode] = _preparing_to_running(run)
    label = f"{total / GB:.2g} GB"
    return [
        Figure(
            f"run with a {label} dataset as_mount(): Preparing -> Running",
            seconds["mount"],
            "s",
            target=1.0,
            peer_name="as_download()",
            peer_value=seconds["download"],
        ),
    ]


PEER = """
import sys, time, pandas
pandas.read_csv(sys.argv[1])  # pandas' first read pays its one-time set-up
started = time.perf_counter()
frame = pandas.read_csv(sys.argv[1])
print(time.perf_counter() - started, *frame.shape)
"""


def _read_csv_elsewhere(path: Path, shape: tuple) -> float:
    """pandas.read_csv of the file in a fresh process, as a user's: in this one, after pyarrow's
    reads, pandas' C parser ran about 20 % slower, which would flatter the ratio."""
    answer = subprocess.run([sys.executable, "-c", PEER, str(path)], capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    assert tuple(int(n) for n in answer[1:]) == shape, (answer, shape)
    return float(answer[0])


def tabular(studio: BenchStudio, rows: int) -> list[Figure]:
    if importlib.util.find_spec("pandas") is None:
        print("bench data: pandas is not installed (pip install pandas); no CSV figure")
        return []
    from mlstudio.sdk import Dataset

    ws = studio.workspace()
    datastore = ws.get_default_datastore()
    with tempfile.TemporaryDirectory(dir=studio.data_dir) as scratch:
        path = Path(scratch, "csv", "rows.csv")
        path.parent.mkdir()
        with path.open("w") as out:
            out.write("id,x,y,label\n")
            for index in range(rows):
                out.write(f"{index},{index * 0.5},{index % 97},c{index % 7}\n")
        datastore.upload(str(path.parent), "csv", show_progress=False)
        dataset = Dataset.Tabular.from_delimited_files((datastore, "csv/rows.csv"), validate=False)
        cold, warm, peer = [], [], []
        for attempt in range(REPEATS):  # interleaved, so the machine's load drift hits all three
            # a cold first read: nothing cached yet
            os.environ["XDG_CACHE_HOME"] = str(Path(scratch, f"cache{attempt}"))
            seconds, frame = _timed(dataset.to_pandas_dataframe)
            cold.append(seconds)
            warm.append(_timed(dataset.to_pandas_dataframe)[0])
            peer.append(_read_csv_elsewhere(path, frame.shape))
        cold, warm, peer = (statistics.median(s) for s in (cold, warm, peer))
    label = f"{rows:,}-row CSV (median of {REPEATS})"
    return [
        Figure(
            f"to_pandas_dataframe() of a {label}, first read (fetch + parse)",
            cold,
            "s",
            peer_name="pandas.read_csv",
            peer_value=peer,
            min_ratio=1 / 1.5,
        ),
        Figure(
            f"to_pandas_dataframe() of a {label}, cached",
            warm,
            "s",
            peer_name="pandas.read_csv",
            peer_value=peer,
            min_ratio=1 / 1.5,
        ),
    ]


def run(quick: bool) -> list[Figure]:
    files, total = (1000, 64 * MB) if quick else (10_000, 2 * GB)
    big = 256 * MB if quick else 5 * GB
    rows = 200_000 if quick else 1_000_000
    chosen = set(filter(None, os.environ.get("MLSTUDIO_BENCH_DATA", "").split(","))) or PARTS
    if chosen - PARTS:
        unknown = sorted(chosen - PARTS)
        raise SystemExit(f"MLSTUDIO_BENCH_DATA: unknown {unknown}; choose from {sorted(PARTS)}")
    parts = {
        "upload": lambda studio: upload(studio, files, total),
        "mount": lambda studio: mount(studio, big),
        "tabular": lambda studio: tabular(studio, rows),
    }
    with BenchStudio() as studio:
        return [f for name in ("upload", "mount", "tabular") if name in chosen
                for f in parts[name](studio)]  # fmt: skip
