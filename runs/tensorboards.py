"""TensorBoards over runs' synced ./logs, started on demand and reached through the studio.

Each board is a `tensorboard` process (runs/tensorboard_serve.py) bound to loopback, serving
under the path /w/<workspace>/tensorboard/<key>/ that the studio proxies behind its own login.
The key is a hash of the workspace and the run ids, so opening the same runs again reuses the
board. A board's state is a JSON file in <data dir>/tensorboards/, so every web process of the
studio finds it; its activity file is touched by each proxied request, and the board stops
itself after MLSTUDIO_TENSORBOARD_IDLE_SECONDS without one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from mlstudio.errors import NotFound, UserError
from runs import store
from runs.models import Run
from runs.selectors import run_get_for_user

MAX_RUNS = 50
START_TIMEOUT = 90.0
TOUCH_EVERY = 10.0  # seconds between touches of a board's activity file
REPO_ROOT = Path(__file__).resolve().parent.parent


class TensorBoardUnavailable(UserError):
    status = 503
    code = "tensorboard_unavailable"


@dataclass(frozen=True)
class Board:
    key: str
    workspace: str
    run_ids: tuple[str, ...]
    port: int
    pid: int

    @property
    def path(self) -> str:
        return board_path(self.workspace, self.key)


def board_path(workspace: str, key: str) -> str:
    return f"/w/{workspace}/tensorboard/{key}/"


def _folder() -> Path:
    folder = Path(settings.DATA_DIR) / "tensorboards"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _key(workspace: str, run_ids: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join((workspace, *run_ids)).encode()).hexdigest()[:16]


def tensorboard_open(*, user, workspace_name: str, run_ids: list[str], token=None) -> Board:
    """A running TensorBoard over these runs' logs: the one already serving them, or a new
    one. Every run must be readable by the user, else NotFound (a 404, as for a missing run)."""
    wanted = tuple(sorted({str(r).strip() for r in run_ids if str(r).strip()}))
    if not wanted:
        raise UserError("Choose at least one run to open in TensorBoard.")
    if len(wanted) > MAX_RUNS:
        raise UserError(
            f"TensorBoard opens at most {MAX_RUNS} runs at once; {len(wanted)} were chosen."
        )
    runs = [
        run_get_for_user(user=user, workspace_name=workspace_name, run_id=r, token=token)
        for r in wanted
    ]
    key = _key(workspace_name, wanted)
    with _locked(key):
        board = _alive(key)
        if board is None:
            board = _start(key, workspace_name, runs)
        _touch(key, force=True)
    return board


def tensorboard_for_request(*, user, workspace_name: str, key: str) -> Board:
    """The board a proxied request goes to, after checking the user may still read every run
    it shows; touches its activity so it stays up."""
    board = _alive(key)
    if board is None or board.workspace != workspace_name:
        raise NotFound(
            "This TensorBoard is not running (it stops after being idle). Open it again from "
            "the run page."
        )
    for run_id in board.run_ids:
        run_get_for_user(user=user, workspace_name=workspace_name, run_id=run_id)
    _touch(key)
    return board


def tensorboard_stop(*, user, workspace_name: str, key: str, token=None) -> None:
    board = _alive(key)
    if board is None or board.workspace != workspace_name:
        raise NotFound(f"No TensorBoard {key!r} is running in workspace {workspace_name!r}.")
    for run_id in board.run_ids:
        run_get_for_user(user=user, workspace_name=workspace_name, run_id=run_id, token=token)
    with _locked(key):
        _kill(board)


def tensorboards_running() -> list[Board]:
    return [b for path in sorted(_folder().glob("*.json")) if (b := _alive(path.stem))]


# --- processes -------------------------------------------------------------------------------
def _start(key: str, workspace: str, runs: list[Run]) -> Board:
    port = _free_port()
    # One folder of links named by run id, so TensorBoard lists each run by its id.
    logdir = _folder() / key
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir()
    for run in runs:
        (logdir / run.pk).symlink_to(store.run_dir(run.pk) / "logs", target_is_directory=True)
    activity = _folder() / f"{key}.activity"
    activity.touch()
    log = _folder() / f"{key}.log"
    argv = [
        sys.executable, "-m", "runs.tensorboard_serve",
        str(activity), str(settings.MLSTUDIO_TENSORBOARD_IDLE_SECONDS), "--",
        "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
        "--path_prefix", board_path(workspace, key).rstrip("/"), "--reload_interval", "5",
    ]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    board = Board(key, workspace, tuple(run.pk for run in runs), port, process.pid)
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            _kill(board)
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise TensorBoardUnavailable(
                "TensorBoard did not start: " + (" / ".join(tail) or "no output")
                + f". Its log is {log}."
            )  # fmt: skip
        time.sleep(0.1)
    state = {"workspace": workspace, "run_ids": board.run_ids, "port": port, "pid": process.pid}
    _state_file(key).write_text(json.dumps(state))
    return board


def _alive(key: str) -> Board | None:
    if not key.isalnum():
        return None
    try:
        state = json.loads(_state_file(key).read_text())
        board = Board(key, state["workspace"], tuple(state["run_ids"]), state["port"], state["pid"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(board.pid):
        _state_file(key).unlink(missing_ok=True)
        return None
    return board


def _kill(board: Board) -> None:
    shutil.rmtree(_folder() / board.key, ignore_errors=True)
    (_folder() / f"{board.key}.activity").unlink(missing_ok=True)
    _state_file(board.key).unlink(missing_ok=True)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(board.pid, signal.SIGTERM)
    for _ in range(50):
        if not _pid_alive(board.pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(board.pid, signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap our own exited child
        if done:
            return False
    return True


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _touch(key: str, *, force: bool = False) -> None:
    activity = _folder() / f"{key}.activity"
    with contextlib.suppress(FileNotFoundError):
        if force or time.time() - activity.stat().st_mtime > TOUCH_EVERY:
            os.utime(activity)


def _state_file(key: str) -> Path:
    return _folder() / f"{key}.json"


@contextlib.contextmanager
def _locked(key: str):
    with open(_folder() / f"{key}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
