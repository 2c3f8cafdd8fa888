"""A TensorBoard the studio started: `python -m runs.tensorboard_serve ACTIVITY IDLE -- ARGS`.

Runs the `tensorboard` package's own server with ARGS, and exits when the studio process that
started it is gone, or when ACTIVITY (a file the studio's proxy touches on every request) has
not changed for IDLE seconds. Kept free of Django so it starts in about a second.
"""

from __future__ import annotations

import os
import sys
import time

CHECK_SECONDS = 1.0


def main(argv: list[str]) -> None:
    activity, idle_seconds, separator, *tensorboard_args = argv
    if separator != "--":
        raise SystemExit("usage: python -m runs.tensorboard_serve ACTIVITY IDLE -- ARGS")
    parent = os.getppid()

    from tensorboard import program

    board = program.TensorBoard()
    board.configure(argv=["tensorboard", *tensorboard_args])
    print(f"TensorBoard at {board.launch()}", flush=True)
    while True:
        time.sleep(CHECK_SECONDS)
        if os.getppid() != parent:
            print("TensorBoard: the studio process is gone; stopping", flush=True)
            break
        try:
            idle = time.time() - os.stat(activity).st_mtime
        except FileNotFoundError:
            print("TensorBoard: stopped by the studio", flush=True)
            break
        if idle > float(idle_seconds):
            print(f"TensorBoard: idle for {idle:.0f} s; stopping", flush=True)
            break
    # The server runs on non-daemon threads: leave at once rather than wait for them.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
