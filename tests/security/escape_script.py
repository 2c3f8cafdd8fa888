"""The script of a run that tries to escape, uploaded as its train.py (it imports nothing of
the studio's). It is told where the studio keeps its secrets, as an attacker who knows the
layout would be, tries each way out, and prints one JSON line: each attempt and what it got.

An outcome is "refused: <error>", "nothing" (it looked and saw nothing there) or
"GOT: <what>" (the attempt worked: an escape)."""

import json
import os
import socket
import sys

T = json.loads(sys.argv[1])
HERE = os.getcwd()
seen = {}


def attempt(name, how):
    try:
        got = how()
    except Exception as error:
        seen[name] = f"refused: {type(error).__name__}"
    else:
        seen[name] = f"GOT: {got!r}"[:300] if got else "nothing"


def read(path):
    with open(path, "rb") as f:
        return f.read(200)


def listing(folder):
    """What a folder holds but the way down to this run's own working folder."""
    mine = set(os.path.relpath(HERE, folder).split(os.sep)[:1])
    return sorted(set(os.listdir(folder)) - mine)


def secrets_in_environments():
    """The pids whose environment names the studio's database, Redis, key or data folder."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = read_all(f"/proc/{pid}/environ")
        except OSError:
            continue
        if secrets_named(environ):
            found.append(pid)
    return found


def secrets_named(environ):
    """The studio's secrets an environment names (a process's own run variables are not)."""
    names = {line.split(b"=", 1)[0] for line in environ.split(b"\0")}
    return names & {b"DATABASE_URL", b"REDIS_URL", b"MLSTUDIO_SECRET_KEY", b"MLSTUDIO_DATA_DIR"}


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def connect_unix(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(3)
        s.connect(path)
        return "connected"


def connect_tcp(port):
    with socket.create_connection(("127.0.0.1", port), timeout=3):
        return "connected"


def write(path):
    with open(path, "w") as f:
        f.write("escaped")
    return path


attempt("secret key", lambda: read(T["secret_key"]))
attempt("database file", lambda: read(T["database_file"]))
attempt("data folder", lambda: listing(T["data_dir"]))
attempt("file store", lambda: listing(T["files_dir"]))
attempt("other workspace's output", lambda: read(T["victim_output"]))
attempt("other run's folder", lambda: read(T["other_workdir_file"]))
attempt("runs' working folders", lambda: listing(T["work_dir"]))
attempt("studio's environ", lambda: read(f"/proc/{T['studio_pid']}/environ"))
attempt("parent's environ", lambda: secrets_named(read_all(f"/proc/{os.getppid()}/environ")))
attempt("pid 1's environ", lambda: secrets_named(read_all("/proc/1/environ")))
attempt("environs naming secrets", secrets_in_environments)
attempt("signal the studio", lambda: os.kill(T["studio_pid"], 0) or "delivered")
attempt("docker socket", lambda: connect_unix("/var/run/docker.sock"))
if T.get("redis_socket"):
    attempt("redis socket", lambda: connect_unix(T["redis_socket"]))
for port in T.get("tcp_ports", []):
    attempt(f"tcp {port}", lambda port=port: connect_tcp(port))
for where in T["writes"]:
    attempt(f"write {where}", lambda where=where: write(where))
attempt("own outputs", lambda: write("outputs/ok.txt"))  # the control: this must work
print("ESCAPE " + json.dumps(seen, sort_keys=True), flush=True)
