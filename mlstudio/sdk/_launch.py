"""Starts the processes of a distributed run on one node and tags their output by rank.

The executor runs it in place of the script (standard library only, so it works in any
environment and container):

    python -m mlstudio.sdk._launch pytorch --nprocs 2 --nnodes 1 --node-rank 0 \\
        --master-addr 127.0.0.1 --master-port 29500 -- python train.py --rank $RANK
    python -m mlstudio.sdk._launch tensorflow --cluster '{"worker": [...], "ps": [...]}' -- ...
    mpirun -np 2 python -m mlstudio.sdk._launch mpi -- python train.py

Each process gets its rank variables; `$VAR` and `${VAR}` in its arguments are replaced by
them (RANK, LOCAL_RANK, WORLD_SIZE, NODE_RANK, …). Every line a process prints is written to
this launcher's stdout as TAG<global rank>TAG<line>, so the executor keeps one log per process.
When one process fails, the others are stopped and the launcher exits with its code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

TAG = b"\x1f"  # ASCII unit separator: never part of ordinary output
STOP_GRACE_SECONDS = 10.0
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")

_write_lock = threading.Lock()


def tagged(rank: int, line: bytes) -> bytes:
    """A line of process `rank`; a carriage return inside it keeps the tag after it, so a
    progress bar's last state is still the rank's."""
    tag = TAG + str(rank).encode() + TAG
    return tag + line.replace(b"\r", b"\r" + tag)


def untag(line: bytes) -> tuple[int | None, bytes]:
    """The rank and text of a tagged line; (None, line) when it carries no tag."""
    if not line.startswith(TAG):
        return None, line
    end = line.find(TAG, 1)
    rank = line[1:end]
    if end < 0 or not rank.isdigit():
        return None, line
    return int(rank), line[end + 1 :]


def substitute(argv: list[str], env: dict[str, str]) -> list[str]:
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return [VARIABLE.sub(value, arg) for arg in argv]


def _forward(rank: int, stream) -> None:
    out = sys.stdout.buffer
    for line in iter(stream.readline, b""):
        data = tagged(rank, line if line.endswith(b"\n") else line + b"\n")
        with _write_lock:  # one write per line: lines of two ranks never mix
            out.write(data)
            out.flush()


def run_all(processes: list[tuple[int, list[str], dict[str, str]]]) -> int:
    """Start every (rank, argv, env); wait; stop the rest as soon as one fails."""
    children: list[subprocess.Popen] = []
    readers = []
    for rank, argv, env in processes:
        child = subprocess.Popen(
            substitute(argv, env), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        children.append(child)
        reader = threading.Thread(target=_forward, args=(rank, child.stdout), daemon=True)
        reader.start()
        readers.append(reader)

    def stop(signum, _frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while [child.poll() for child in children].count(None):  # polls every child
        failed = [c.returncode for c in children if c.returncode not in (None, 0)]
        if failed and not code:
            code = failed[0]
            _stop_all(children)
        time.sleep(0.05)
    if not code:
        code = next((c.returncode for c in children if c.returncode), 0)
    for reader in readers:
        reader.join(timeout=5)
    return code


def _stop_all(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def pytorch(args, argv: list[str]) -> list[tuple[int, list[str], dict[str, str]]]:
    world = args.nprocs * args.nnodes
    out = []
    for local in range(args.nprocs):
        rank = args.node_rank * args.nprocs + local
        env = {
            **os.environ,
            "MASTER_ADDR": args.master_addr,
            "MASTER_PORT": str(args.master_port),
            "WORLD_SIZE": str(world),
            "RANK": str(rank),
            "LOCAL_RANK": str(local),
            "LOCAL_WORLD_SIZE": str(args.nprocs),
            "NODE_RANK": str(args.node_rank),
            "GROUP_RANK": str(args.node_rank),
        }
        out.append((rank, argv, env))
    return out


def tensorflow(args, argv: list[str]) -> list[tuple[int, list[str], dict[str, str]]]:
    cluster = json.loads(args.cluster)
    out = []
    rank = 0
    for kind in ("worker", "ps"):
        for index in range(len(cluster.get(kind, []))):
            config = {"cluster": cluster, "task": {"type": kind, "index": index}}
            env = {**os.environ, "TF_CONFIG": json.dumps(config), "RANK": str(rank),
                   "TASK_TYPE": kind, "TASK_INDEX": str(index)}  # fmt: skip
            out.append((rank, argv, env))
            rank += 1
    return out


def mpi(_args, argv: list[str]) -> list[tuple[int, list[str], dict[str, str]]]:
    """Under mpirun: one process per copy of this launcher, ranked by Open MPI (or PMI)."""
    rank = os.environ.get("OMPI_COMM_WORLD_RANK") or os.environ.get("PMI_RANK") or "0"
    env = {
        **os.environ,
        "RANK": rank,
        "LOCAL_RANK": os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", "0"),
        "WORLD_SIZE": os.environ.get("OMPI_COMM_WORLD_SIZE") or os.environ.get("PMI_SIZE", "1"),
        "NODE_RANK": os.environ.get("OMPI_COMM_WORLD_NODE_RANK", "0"),
    }
    return [(int(rank), argv, env)]


def main(argv: list[str]) -> int:
    if "--" not in argv:
        raise SystemExit("usage: python -m mlstudio.sdk._launch MODE [options] -- COMMAND ...")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(prog="mlstudio.sdk._launch")
    modes = parser.add_subparsers(dest="mode", required=True)
    torch = modes.add_parser("pytorch")
    torch.add_argument("--nprocs", type=int, required=True)
    torch.add_argument("--nnodes", type=int, default=1)
    torch.add_argument("--node-rank", type=int, default=0)
    torch.add_argument("--master-addr", default="127.0.0.1")
    torch.add_argument("--master-port", type=int, default=29500)
    modes.add_parser("tensorflow").add_argument("--cluster", required=True)
    modes.add_parser("mpi")
    args = parser.parse_args(options)
    plan = {"pytorch": pytorch, "tensorflow": tensorflow, "mpi": mpi}[args.mode](args, command)
    return run_all(plan)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
