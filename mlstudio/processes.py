"""Process helpers shared by the studio supervisor and the run executor, and the executor's
process supervisor. Django-free: nothing here knows runs or the database."""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from mlstudio.lines import LineSplitter

PR_SET_PDEATHSIG = 1
CGROUP_ROOT = Path("/sys/fs/cgroup")
# In the data folder while the studio stops its parts, so a run stopped with its worker says
# "studio stopped" rather than "node stopped".
STOPPING_MARK = "studio.stopping"


def parent_death_signal(sig: signal.Signals, *, niceness: int = 0) -> Callable[[], None]:
    """A `preexec_fn` that makes the child receive `sig` when its parent dies, so a killed
    supervisor or worker never leaves orphans running; and lowers its priority by
    `niceness`."""

    def arm() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig)
        if niceness:
            os.nice(niceness)

    return arm


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def oom_kill_count() -> int | None:
    """How many processes the kernel has killed for lack of memory in this process's cgroup
    (and those below it), or None where the count cannot be read."""
    for path in _oom_counters():
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    return None


def _oom_counters() -> Iterator[Path]:
    """cgroup v2's memory.events and v1's memory.oom_control of this process, then those at
    the root (inside a container, its own cgroup is the root)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, where = line.split(":", 2)
        if controllers == "":
            yield CGROUP_ROOT / where.lstrip("/") / "memory.events"
        elif "memory" in controllers.split(","):
            yield CGROUP_ROOT / "memory" / where.lstrip("/") / "memory.oom_control"
    yield CGROUP_ROOT / "memory.events"
    yield CGROUP_ROOT / "memory" / "memory.oom_control"


READ_SIZE = 64 * 1024
GATHER_BYTES = 16 * 1024  # a pending batch below this waits for its next lines in the pipe
MEMORY_SECONDS = 0.25  # how often the memory of supervised processes is sampled


@dataclass(frozen=True)
class Every:
    """A check the stream loop makes every `seconds` (cancel, timeout, syncing ./logs)."""

    seconds: float
    check: Callable[[], None]


@dataclass(frozen=True)
class Streaming:
    """How output is batched: a batch goes out when its first line is `flush_seconds` old, but
    no sooner than `spacing_seconds` after the previous batch (a burst of lines coalesces into
    fewer, larger events; a line after a quiet spell still goes out at once), or when it
    holds `flush_bytes`."""

    flush_seconds: float = 0.01
    spacing_seconds: float = 0.04
    flush_bytes: int = 256 * 1024
    leftover_seconds: float = 2.0  # how long leftovers may hold the output after the exit


class Supervisor:
    """One started process in its own process group (a script, a launcher, or the docker CLI
    that runs a container) and everything it starts. It reads the output in one selector loop,
    samples memory, and stops with SIGTERM, a grace period, then SIGKILL. It knows nothing of
    runs: `belongs` tells, from a process's environment, whether an orphan that left the
    process group is still one of ours; `note` receives what is worth telling the user."""

    def __init__(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        belongs: Callable[[dict[str, str]], bool],
        note: Callable[[str], None],
        grace: float,
        stop_container: Callable[[float], None] | None = None,
        popen: type[subprocess.Popen] = subprocess.Popen,
        niceness: int = 0,
    ):
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.belongs = belongs
        self.note = note
        self.grace = grace
        self.stop_container = stop_container
        self.popen = popen  # a subclass for a wrapped command (mlstudio.sandbox.Popen)
        self.niceness = niceness  # added to the process's nice value (a lower priority)
        self.process: subprocess.Popen | None = None
        self.memory: MemoryWatch | None = None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process else None

    def start(self, *, watch_memory: bool = True) -> int:
        """Start the process; its pid. OSError if it cannot be started."""
        self.process = self.popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=parent_death_signal(signal.SIGKILL, niceness=self.niceness),
        )
        if watch_memory:
            self.memory = MemoryWatch(self.process.pid)
            self.memory.start()
        return self.process.pid

    @property
    def peak_memory(self) -> int | None:
        return self.memory.peak if self.memory else None

    def stream(self, output: Callable[[bytes], None], *, checks: list[Every],
               how: Streaming = Streaming()) -> None:  # fmt: skip
        """Hand complete lines to `output` in small batches until the process has exited and
        its output is closed, making `checks` all along. Processes it left behind get
        `how.leftover_seconds` after it exits, then are stopped: it is over when it is."""
        loop = _StreamLoop(self.process, output, how)
        due = [time.monotonic()] * len(checks)
        while not loop.over():
            loop.step()
            now = time.monotonic()
            for index, every in enumerate(checks):
                if now >= due[index]:
                    every.check()
                    due[index] = now + every.seconds
        self.stop_leftovers()
        loop.close()

    def stop(self) -> None:
        """SIGTERM the process and every process it started, wait the grace period, then
        SIGKILL what is left."""
        if self.process is None:
            return
        grace = self.grace
        if self.stop_container is not None:
            self.stop_container(grace)
        ends = time.monotonic() + grace
        family = self.family()
        _signal_all(self.process.pid, family, signal.SIGTERM)
        # Popen reaps the process itself, so its exit code (the signal) is kept; psutil only
        # watches the others, which are not this process's children.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        if getattr(self.process, "confines_descendants", False) and self.process.poll() is not None:
            # Its PID namespace ended with it and the kernel killed what was left. Waiting on
            # the family would wait for the machine's init to reap their zombies (seconds
            # where init reaps slowly), which was most of a sandboxed run's cancel time.
            return
        _gone, alive = psutil.wait_procs(family, timeout=max(0.0, ends - time.monotonic()))
        if alive or self.process.poll() is None:
            self.note(f"{len(alive) + (self.process.poll() is None)} process(es) outlived "
                      "SIGTERM; sending SIGKILL")  # fmt: skip
            _signal_all(self.process.pid, alive, signal.SIGKILL)
            self.process.wait()

    def stop_leftovers(self) -> None:
        """Stop what the process left running after it exited (a server, a forked worker)."""
        left = self.family() if self.process is not None else []
        if not left:
            return
        self.note(f"The script exited but {len(left)} process(es) it started still "
                  "run; stopping them")  # fmt: skip
        self.stop()

    def family(self) -> list[psutil.Process]:
        """Every live process started by this one but itself: its descendants, and orphans
        that `belongs` claims (they may have left the process group)."""
        found: dict[int, psutil.Process] = {}
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                found[child.pid] = child
        if getattr(self.process, "confines_descendants", False):
            return [p for p in found.values() if _alive(p)]  # nothing can have left its tree
        for proc in psutil.process_iter():
            if proc.pid in found or proc.pid == self.process.pid:
                continue
            with contextlib.suppress(psutil.Error):
                if self.belongs(proc.environ()):
                    found[proc.pid] = proc
        return [p for p in found.values() if _alive(p)]

    def close(self) -> None:
        if self.memory is not None:
            self.memory.stop()


class _StreamLoop:
    """The selector loop of Supervisor.stream: one read or wait per step."""

    def __init__(self, process: subprocess.Popen, output: Callable[[bytes], None],
                 how: Streaming):  # fmt: skip
        self.process = process
        self.output = output
        self.how = how
        self.lines = LineSplitter()
        self.selector = selectors.DefaultSelector()
        self.selector.register(process.stdout, selectors.EVENT_READ)
        self.fd = process.stdout.fileno()
        self.batch_started: float | None = None
        self.flushed_at = float("-inf")  # when the last batch went out
        self.exited_at: float | None = None
        self.open_pipe = True

    def due(self) -> float:
        """When the pending batch goes out."""
        return max(self.batch_started + self.how.flush_seconds,
                   self.flushed_at + self.how.spacing_seconds)  # fmt: skip

    def step(self) -> None:
        pending = self.lines.pending_output
        wait = max(0.0, self.due() - time.monotonic()) if pending else 0.2
        if not self.open_pipe:  # only the exit is left to see: wake up as soon as it comes
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait)
        elif pending and self.lines.pending_size < GATHER_BYTES:
            # A small batch gathers the lines printed until it is due in the pipe, and reads
            # them at once: one wake-up a batch, not one a line.
            time.sleep(wait)
            if self.selector.select(timeout=0):
                self.read()
        elif self.selector.select(timeout=wait):
            self.read()
        now = time.monotonic()
        if self.lines.pending_output and (
            not self.open_pipe
            or now >= self.due()
            or self.lines.pending_size >= self.how.flush_bytes
        ):
            self.output(self.lines.take())
            self.batch_started, self.flushed_at = None, now
        if self.exited_at is None and self.process.poll() is not None:
            self.exited_at = now

    def read(self) -> None:
        chunk = os.read(self.fd, READ_SIZE)
        self.open_pipe = bool(chunk)
        self.lines.feed(chunk)
        if self.lines.pending_output and self.batch_started is None:
            self.batch_started = time.monotonic()

    def over(self) -> bool:
        if self.exited_at is None:
            return False
        return not self.open_pipe or time.monotonic() - self.exited_at > self.how.leftover_seconds

    def close(self) -> None:
        self.output(self.lines.close())
        self.selector.close()


class MemoryWatch(threading.Thread):
    """Samples the memory a process and its descendants hold, so one killed for lack of it
    can say how much it used. `peak` is the largest total resident size seen, in bytes."""

    def __init__(self, pid: int):
        super().__init__(name=f"memory-{pid}", daemon=True)
        self.pid = pid
        self.peak = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(MEMORY_SECONDS):
            self.peak = max(self.peak, resident(self.pid))

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join()


def resident(pid: int) -> int:
    """Bytes resident in process `pid` and its descendants.

    Read from the process's own subtree in /proc: psutil's children() reads every process of
    the machine to find them, ~50 ms on a loaded 2-core machine, which the memory watch of
    50 runs sampling 4 times a second turned into more CPU than the machine has."""
    if not _PROC_CHILDREN:
        return _resident_psutil(pid)
    total = 0
    for member in _subtree(pid):
        try:
            with open(f"/proc/{member}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


def _subtree(pid: int) -> list[int]:
    """`pid` and every process under it, from each thread's /proc/<pid>/task/<tid>/children."""
    found, pending = [], [pid]
    while pending:
        member = pending.pop()
        found.append(member)
        try:
            threads = os.listdir(f"/proc/{member}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                with open(f"/proc/{member}/task/{thread}/children", "rb") as children:
                    pending.extend(int(child) for child in children.read().split())
            except OSError:
                continue
    return found


def _resident_psutil(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Linux with CONFIG_PROC_CHILDREN (every mainstream kernel); elsewhere psutil's slower way.
_PROC_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal_all(pgid: int, processes: list[psutil.Process], sig: signal.Signals) -> None:
    signal_group(pgid, sig)
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)
