"""What a run leaves: the files of ./outputs and ./logs collected into the run's files (new
and changed ones while it goes on, all at its end), and the container it ran in, whose files
come back by copy when the engine cannot share this host's folders."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from environments import containers
from environments import docker as envdocker
from mlstudio import live
from runs import store
from runs.tbevents import EVENT_MARK

SKIPPED = (-1, -1)


class OutputCollector:
    """Copies ./<folder> of the working folder into the run's files, skipping links that lead
    out of it, and tells the run's group of each file it copied."""

    def __init__(self, run_id: str, workdir: Path, *, say: Callable[[str], None]):
        self.run_id = run_id
        self.workdir = workdir
        self.say = say
        self.group = live.run_group(run_id)
        self.synced: dict[str, tuple[int, int]] = {}  # path: (size, mtime) as copied

    def collect(self, folder: str) -> tuple[int, int]:
        """Sync ./<folder> a last time: (files collected, their bytes)."""
        self.sync(folder)
        kept = [p for p, state in self.synced.items() if p.startswith(folder + "/")]
        collected = [p for p in kept if self.synced[p] != SKIPPED]
        return len(collected), sum(self.synced[p][0] for p in collected)

    def collect_end(self) -> str | None:
        """Collect ./outputs and ./logs a last time, saying what each held; the first
        failure's message, which fails the run."""
        failed = None
        for folder in ("outputs", "logs"):
            try:
                count, size = self.collect(folder)
                self.say(f"Collected ./{folder}: {count} file(s), {size} bytes")
            except OSError as exc:
                self.say(f"Could not collect ./{folder}: {exc}")
                failed = failed or f"Collecting ./{folder} failed: {exc}"
        return failed

    def sync(self, folder: str) -> None:
        """Copy new or changed files of ./<folder> into the run's files."""
        source_root = self.workdir / folder
        if not source_root.is_dir():
            return
        work = Path(os.path.realpath(self.workdir))
        for current, dirs, names in os.walk(source_root):
            dirs[:] = [d for d in dirs if not (Path(current) / d).is_symlink()]
            for name in names:
                self._sync_path(Path(current) / name, work)

    def _sync_path(self, path: Path, work: Path) -> None:
        relative = path.relative_to(self.workdir).as_posix()
        real = Path(os.path.realpath(path))
        if work not in real.parents:
            if relative not in self.synced:
                self.say(f"Skipped {relative}: it links outside the run's folder")
                self.synced[relative] = SKIPPED
            return
        if not real.is_file():  # gone meanwhile, or a pipe or socket
            return
        try:
            self._sync_file(relative, real)
        except OSError as exc:  # it vanished or cannot be read: skip it, go on
            self.say(f"Could not collect {relative}: {exc.strerror or exc}")

    def _sync_file(self, relative: str, real: Path) -> None:
        stat = real.stat()
        if self.synced.get(relative) == (stat.st_size, stat.st_mtime_ns):
            return
        target = store.run_file(self.run_id, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        synced_size = self.synced.get(relative, (0, 0))[0]
        if (
            EVENT_MARK in real.name
            and 0 < synced_size <= stat.st_size
            and target.is_file()
            and target.stat().st_size == synced_size
            and target.stat().st_nlink == 1  # a registered model's blob shares a linked file
        ):
            # Event files only grow, and a TensorBoard watching the copy follows it as it
            # grows: append the new bytes rather than rewrite the file under its reader.
            with open(real, "rb") as source, open(target, "ab") as copy:
                source.seek(synced_size)
                shutil.copyfileobj(source, copy)
        else:
            store.replace_file(target, real)
        self.synced[relative] = (stat.st_size, stat.st_mtime_ns)
        live.publish(self.group, live.file_event(relative, stat.st_size))


class RunContainer:
    """The container a run's script runs in. An engine on another machine can't mount this
    host's folders: then the working folder is copied in, and the run's files back out while
    it goes on and at its end."""

    def __init__(self, name: str, workdir: Path, *, say: Callable[[str], None]):
        self.name: str | None = name
        self.workdir = workdir
        self.say = say
        self.copies_files = envdocker.copies_files()

    def copy_out(self, *folders: str) -> None:
        """Bring folders of the working folder back from a container that can't share it."""
        if not self.copies_files or self.name is None:
            return
        for folder in folders:
            try:
                containers.copy_out(self.name, str(self.workdir / folder))
            except Exception as exc:  # a folder the script never made, or the engine is gone
                if not envdocker.is_not_found(exc):
                    self.say(f"Could not copy ./{folder} out of the container: {exc}")

    def stop(self, grace: float) -> None:
        if self.name is not None:
            containers.container_stop(self.name, timeout=grace)

    def remove(self) -> None:
        if self.name is None:
            return
        try:
            containers.container_remove(self.name)
        except Exception as exc:  # the engine went away: say so, release the rest
            self.say(f"Could not remove container {self.name}: {exc}")
        self.name = None
