"""Process helpers shared by the studio supervisor and the run executor."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

PR_SET_PDEATHSIG = 1
CGROUP_ROOT = Path("/sys/fs/cgroup")
# In the data folder while the studio stops its parts, so a run stopped with its worker says
# "studio stopped" rather than "node stopped".
STOPPING_MARK = "studio.stopping"


def parent_death_signal(sig: signal.Signals) -> Callable[[], None]:
    """A `preexec_fn` that makes the child receive `sig` when its parent dies, so a killed
    supervisor or worker never leaves orphans running."""

    def arm() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig)

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
