"""Run isolation: the command line that starts a run's script inside a bubblewrap sandbox,
as an unprivileged user that is not the studio's.

`sandbox_argv` is pure: it only rewrites a command line from a `Sandbox` description, so the
rules are tested without starting anything. `isolation()` finds out once per process what
this machine allows (bwrap, a run user) and says in one log line when runs are not isolated.

The sandbox's file system holds only what a run needs: the read-only system folders, the
interpreter and SDK read-only, its own working folder read-write, a private /tmp and its own
/proc. The data folder (secret key, Redis socket, other runs' folders, the file store) is
never mounted; where it lies inside a folder that is, it is covered with an empty tmpfs.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

logger = logging.getLogger("mlstudio.sandbox")

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
ENV = "/usr/bin/env"
PRIVATE_TMP = "/tmp"  # noqa: S108 - a tmpfs of the sandbox's own, never the host's /tmp
# Folders every program needs, bound read-only when they exist.
# /sys tells MPI and PyTorch the CPU topology.
SYSTEM_FOLDERS = ("/usr", "/etc", "/opt", "/sys", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
                  "/libx32")  # fmt: skip


@dataclass(frozen=True)
class Sandbox:
    """What one run's sandbox sees.

    `system` pairs each system folder with the target of its symbolic link (merged /usr:
    /bin -> usr/bin), or None for a real folder. `hidden` folders are covered when they lie
    inside a read-only folder. `user` is the (uid, gid) the script runs as, or None to keep
    the caller's.
    """

    workdir: Path
    read_only: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    system: tuple[tuple[str, str | None], ...] = ()
    network: bool = True
    user: tuple[int, int] | None = None
    bwrap: bool = True


def sandbox_argv(argv: list[str], sandbox: Sandbox) -> list[str]:
    """`argv` wrapped so that it runs in `sandbox`: bwrap's options, then setpriv to drop to
    the run user (only a root caller can), then the command itself.

    bwrap ignores SIGTERM (the command gets it back), so a cancel's SIGTERM reaches the
    script for its grace period instead of killing bwrap, whose death would SIGKILL it."""
    command = list(argv)
    if sandbox.user is not None:
        uid, gid = sandbox.user
        command = [SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                   "--no-new-privs", "--bounding-set=-all", "--", *command]  # fmt: skip
    if not sandbox.bwrap:
        return command
    inner = [ENV, "--default-signal=TERM", "--", *command]
    return [ENV, "--ignore-signal=TERM", "--", BWRAP, *_bwrap_options(sandbox), "--", *inner]


class Popen(subprocess.Popen):
    """Popen for a command from sandbox_argv. bwrap reports a script killed by signal N as
    exit code 128 + N; this reports -N, as for a script started directly.

    The script runs in its own PID namespace, which the kernel empties when bwrap's init
    ends with the script, so no process of the run can outlive it: the supervisor need not
    read every process's environment (~0.1 s on a busy machine) to look for orphans."""

    confines_descendants = True

    def _handle_exitstatus(self, *args, **kwargs) -> None:
        super()._handle_exitstatus(*args, **kwargs)
        if self.returncode is not None and 128 < self.returncode <= 128 + 64:
            self.returncode = 128 - self.returncode


def sandbox_env(env: dict[str, str]) -> dict[str, str]:
    """The script's variables inside the sandbox: its home and temporary folder are the
    private /tmp, since the studio's home is not there."""
    return {**env, "HOME": PRIVATE_TMP, "TMPDIR": PRIVATE_TMP}


def _bwrap_options(sandbox: Sandbox) -> list[str]:
    options = ["--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    if not sandbox.network:
        options.append("--unshare-net")
    if sandbox.user is not None:  # setpriv needs these two, and drops them with the rest
        options += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    tree = _Tree()
    for folder, link in sandbox.system:
        if link is None:
            options += tree.bind("--ro-bind", folder)
        else:
            options += ["--symlink", link, folder]
    options += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", PRIVATE_TMP]
    tree.made.add(PurePosixPath(PRIVATE_TMP))
    hidden = [PurePosixPath(h) for h in sandbox.hidden]
    # Folders inside a hidden one (an environment under the data folder) go on top of the
    # cover that hides the rest of it.
    inner = [f for f in sandbox.read_only if any(_inside(PurePosixPath(f), h) for h in hidden)]
    outer = [f for f in sandbox.read_only if f not in inner]
    for folder in _outermost(outer):
        options += tree.bind("--ro-bind", str(folder))
    for folder in hidden:
        if tree.shows(folder):
            options += ["--perms", "0755", "--tmpfs", str(folder)]
            tree.made.add(folder)
    for folder in _outermost(inner):
        options += tree.bind("--ro-bind", str(folder))
    options += tree.bind("--bind", str(sandbox.workdir))
    return [*options, "--chdir", str(sandbox.workdir)]


class _Tree:
    """The sandbox's folders as they are mounted, to make each mount point's missing parents
    traversable: bwrap would copy the host's modes (/root, mkdtemp folders are 0700)."""

    def __init__(self):
        self.bound: list[PurePosixPath] = []
        self.made: set[PurePosixPath] = set()

    def shows(self, path: PurePosixPath) -> bool:
        return any(_inside(path, b) for b in self.bound)

    def bind(self, how: str, folder: str) -> list[str]:
        options: list[str] = []
        for parent in reversed(PurePosixPath(folder).parents):
            if parent == PurePosixPath("/") or parent in self.made or self.shows(parent):
                continue
            options += ["--perms", "0755", "--dir", str(parent)]
            self.made.add(parent)
        self.bound.append(PurePosixPath(folder))
        return [*options, how, folder, folder]


def _outermost(folders: list[Path]) -> list[Path]:
    """The folders without those inside another of them, in a stable order."""
    unique = sorted({PurePosixPath(f) for f in folders}, key=lambda p: (len(p.parts), str(p)))
    kept: list[PurePosixPath] = []
    for folder in unique:
        if not any(_inside(folder, k) for k in kept):
            kept.append(folder)
    return [Path(k) for k in kept]


def _inside(path: PurePosixPath, folder: PurePosixPath) -> bool:
    return path == folder or folder in path.parents


# --- what this machine allows ---------------------------------------------------------------
@dataclass(frozen=True)
class Isolation:
    """How runs on this worker are isolated; `summary` is the one line the studio logs."""

    bwrap: bool
    user: tuple[int, int] | None
    user_name: str
    summary: str

    @property
    def isolated(self) -> bool:
        return self.bwrap or self.user is not None


@functools.cache
def isolation() -> Isolation:
    """Probe once per process: is bwrap usable here, and is there a run user to drop to?"""
    from django.conf import settings

    name = settings.MLSTUDIO_RUN_USER
    if not settings.MLSTUDIO_RUN_SANDBOX:
        found = Isolation(False, None, "", "Runs are NOT isolated: MLSTUDIO_RUN_SANDBOX is off; "
                          "a run can read the studio's data folder and secrets.")  # fmt: skip
        logger.warning(found.summary)
        return found
    user = run_user_ensure(name) if os.geteuid() == 0 else None
    problem = _bwrap_problem(user)
    found = Isolation(problem is None, user, name if user else "", _summary(problem, user, name))
    (logger.info if problem is None and user else logger.warning)(found.summary)
    return found


def _summary(problem: str | None, user: tuple[int, int] | None, name: str) -> str:
    who = f"as user {name}" if user else "as the studio's own user (it is not root)"
    if problem is None:
        return f"Runs are isolated: bubblewrap sandbox, {who}."
    if user is not None:
        return (f"Runs are only partly isolated: no sandbox ({problem}), {who}; a run can read "
                "whatever that user can.")  # fmt: skip
    return (f"Runs are NOT isolated: no sandbox ({problem}) and no second user (the studio "
            "is not root); a run can read the studio's data folder and secrets.")  # fmt: skip


def run_user_ensure(name: str) -> tuple[int, int] | None:
    """The (uid, gid) of the run user, created as a system user when missing (root only)."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        made = subprocess.run(
            [useradd, "--system", "--user-group", "--no-create-home", "--home-dir",
             "/nonexistent", "--shell", "/usr/sbin/nologin", name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if made.returncode != 0 and "already exists" not in made.stderr:
            logger.warning("Could not create the run user %s: %s", name, made.stderr.strip())
            return None
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        logger.warning("MLSTUDIO_RUN_USER=%s is root; runs keep the studio's user", name)
        return None
    return entry.pw_uid, entry.pw_gid


def _bwrap_problem(user: tuple[int, int] | None) -> str | None:
    """None when a trivial command runs in a sandbox like a run's; else why not."""
    if not os.path.exists(BWRAP):
        return "bubblewrap is not installed: apt-get install bubblewrap"
    try:
        with tempfile.TemporaryDirectory(prefix="mlstudio-sandbox-probe-") as folder:
            probe = Sandbox(workdir=Path(folder), system=system_folders(), user=user)
            argv = sandbox_argv(["/bin/true"], probe)
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap did not start: {exc}"
    if done.returncode != 0:
        return f"bwrap failed: {done.stderr.strip()[:200] or done.returncode}"
    return None


@functools.cache
def system_folders() -> tuple[tuple[str, str | None], ...]:
    found = []
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            found.append((folder, os.readlink(folder)))
        elif os.path.isdir(folder):
            found.append((folder, None))
    return tuple(found)


def interpreter_folders(python: str) -> tuple[Path, ...]:
    """The folders an interpreter needs: its virtualenv (if it is one) and the installation
    the virtualenv was made from, followed through symbolic links."""
    folders = {Path(sys.prefix), Path(sys.base_prefix)}
    executable = shutil.which(python) or python
    path = Path(executable)
    for candidate in (path, Path(os.path.realpath(path))):
        root = candidate.parent.parent
        config = root / "pyvenv.cfg"
        if config.is_file():
            folders.add(root)
            home = _venv_home(config)
            if home is not None:
                folders.add(Path(os.path.realpath(home)).parent)
        elif root != Path("/"):
            folders.add(root)
    return tuple(sorted(folders))


def _venv_home(config: Path) -> str | None:
    for line in config.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return value.strip()
    return None


def workdir_hand_over(workdir: Path, user: tuple[int, int] | None) -> None:
    """Make the working folder the run user's, so the script can write it; the studio (root)
    still reads and removes it afterwards."""
    if user is None:
        return
    uid, gid = user
    os.chown(workdir, uid, gid)
    for current, dirs, names in os.walk(workdir):
        for name in (*dirs, *names):
            os.chown(os.path.join(current, name), uid, gid, follow_symlinks=False)


def sandbox_for(*, workdir: Path, python: str, sdk: Path) -> Sandbox | None:
    """The sandbox of a run in `workdir` with interpreter `python` on this machine, or None
    when runs here are not isolated at all (isolation() has said why)."""
    from django.conf import settings

    found = isolation()
    if not found.isolated:
        return None
    hidden = {Path(settings.DATA_DIR), Path(settings.MLSTUDIO_WORK_DIR)}
    if settings.REDIS_URL.startswith("unix://"):
        hidden.add(Path(settings.REDIS_URL[len("unix://") :]).parent)
    return Sandbox(
        workdir=Path(workdir),
        read_only=(*interpreter_folders(python), Path(sdk)),
        hidden=tuple(sorted(hidden)),
        system=system_folders(),
        network=settings.MLSTUDIO_RUN_NETWORK,
        user=found.user,
        bwrap=found.bwrap,
    )
