"""Troubleshooting hints: from what is known about how a run ended, the likely cause and its
fix in one line, with a link to where the fix is made.

`hint_for` is pure: it reads only the facts it is given, so tests build them; the functions
at the end gather them for the executor (the log's last traceback, the build log, the
environment). A hint is a dict {"code", "message", "url", "label"}; url and label may be
absent. Every url is a path on the studio built here from quoted parts, never text taken as
is from a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from django.urls import reverse

from environments.selectors import environment_version_by_pk
from mlstudio.sdk._snapshot import human_size
from runs import store
from runs.definition import RunDefinition

# Import names whose pip package is called something else.
PACKAGES = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "bs4": "beautifulsoup4",
    "skimage": "scikit-image",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "pyjwt",
    "Crypto": "pycryptodome",
    "serial": "pyserial",
    "zmq": "pyzmq",
    "fitz": "pymupdf",
    "docx": "python-docx",
    "attr": "attrs",
    "OpenSSL": "pyopenssl",
    "MySQLdb": "mysqlclient",
    "Levenshtein": "levenshtein",
}
EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception))(?:: (?P<text>.*))?$")
FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)')
NO_MODULE = re.compile(r"^No module named '?(?P<name>[A-Za-z_][\w.]*)'?")
KILLED_EXIT_CODES = (-9, 137)  # SIGKILL as Popen reports it, and as a shell or Docker does
LINE_MAX = 300


@dataclass(frozen=True)
class Environment:
    """The run's environment, as far as fixing it goes. `name` None: the worker's Python."""

    name: str | None = None
    version: str | None = None
    curated: bool = False
    user_managed: bool = True
    docker: bool = False


@dataclass(frozen=True)
class Failure:
    """What is known about how a run ended."""

    status: str
    exit_code: int | None = None
    traceback: str = ""  # the last traceback, paths relative to the snapshot
    timeout_seconds: int | None = None  # the limit, when the run was stopped for overrunning it
    build_error: str | None = None  # the build's error, when the environment failed to build
    build_log: tuple[str, ...] = ()  # the build's last lines
    peak_memory: int | None = None  # bytes resident in the script's processes, at the most
    oom_killed: bool = False  # the kernel (or Docker, for a container) recorded an OOM kill
    in_container: bool = False
    environment: Environment = Environment()
    snapshot_paths: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Links:
    """Pages of the studio a hint may point at."""

    run_page: str  # /w/<workspace>/runs/<run id>/
    environments_page: str  # /w/<workspace>/environments/


def hint_for(failure: Failure, links: Links) -> dict | None:
    """The most likely cause of the failure and its fix, or None when nothing is recognised.
    A run the user canceled gets none: its processes were killed on purpose."""
    if failure.build_error is not None:
        return _build_failed(failure, links)
    if failure.timeout_seconds is not None:
        return _timed_out(failure.timeout_seconds)
    if failure.status != "Failed":
        return None
    if failure.exit_code in KILLED_EXIT_CODES:
        return _out_of_memory(failure) if failure.oom_killed else _killed(failure)
    exception = _last_exception(failure.traceback)
    if exception is None:
        return None
    kind, text = exception
    missing = NO_MODULE.match(text)
    if kind in ("ModuleNotFoundError", "ImportError") and missing:
        return _missing_module(missing["name"].split(".")[0], failure, links)
    if kind in ("NameError", "AttributeError"):
        return _error_in_script(kind, text, failure, links)
    return None


def package_for(module: str) -> str:
    """The pip package that provides top-level module `module`."""
    return PACKAGES.get(module, module)


# --- the cases ------------------------------------------------------------------------------


def _missing_module(module: str, failure: Failure, links: Links) -> dict:
    own = _own_module(module, failure.snapshot_paths)
    if own is not None:
        return _hint(
            "own_module_not_found",
            f"No module named {module!r}, but the snapshot has {own}: Python looks for "
            "modules in the script's own folder (and on PYTHONPATH), so move it there or add "
            "its folder to sys.path.",
        )
    package = package_for(module)
    env = failure.environment
    if env.name is None or (env.user_managed and not env.docker):
        whose = "the worker's Python" if env.name is None else f"the interpreter of {env.name}"
        return _hint(
            "module_not_found",
            f"No module named {module!r}: install {package} into {whose} (pip install "
            f"{package}), or submit with an environment that lists {package} in its pip "
            "packages.",
            f"{links.environments_page}?{urlencode({'add_pip': package})}#register-form",
            f"Register an environment with {package}",
        )
    query = urlencode({"from": f"{env.name}:{env.version}", "add_pip": package})
    url = f"{links.environments_page}?{query}#register-form"
    if env.curated:
        return _hint(
            "module_not_found",
            f"No module named {module!r}: add {package} to the pip packages of a copy of "
            f"curated environment {env.name}, then submit with that copy.",
            url,
            f"Register a copy of {env.name} with {package}",
        )
    untick = " and untick user-managed dependencies" if env.user_managed else ""
    return _hint(
        "module_not_found",
        f"No module named {module!r}: add {package} to the pip packages of environment "
        f"{env.name}{untick}, then submit with the new version.",
        url,
        f"Register a new version of {env.name} with {package}",
    )


def _own_module(module: str, paths: frozenset[str]) -> str | None:
    """Where the snapshot has a Python module or package of that name."""
    for path in sorted(p for p in paths if p.endswith(".py")):
        parts = path.split("/")
        if parts[-1] == f"{module}.py":
            return path
        if module in parts[:-1]:
            return "/".join(parts[: parts.index(module) + 1]) + "/"
    return None


def _error_in_script(kind: str, text: str, failure: Failure, links: Links) -> dict | None:
    frame = _last_snapshot_frame(failure.traceback, failure.snapshot_paths)
    if frame is None:
        return None
    path, line = frame
    fix = (
        "define it before that line or fix its spelling"
        if kind == "NameError"
        else "check the object's type and the attribute's spelling"
    )
    return _hint(
        "name_error" if kind == "NameError" else "attribute_error",
        f"{kind} in {path}, line {line}: {_short(text)}; {fix}.",
        f"{links.run_page}#snapshot:{quote(path)}:{line}",
        f"Open {path} at line {line}",
    )


def _out_of_memory(failure: Failure) -> dict:
    who = (
        "Docker stopped the container"
        if failure.in_container
        else ("the kernel's OOM killer stopped the script")
    )
    cause = f"Out of memory: {who} (SIGKILL, {_how(failure)}){_used(failure)}."
    fix = "Use less memory (smaller batches, data in chunks) or run on a machine with more."
    return _hint("out_of_memory", f"{cause} {fix}")


def _killed(failure: Failure) -> dict:
    """SIGKILL with no out-of-memory record: something outside the run killed it."""
    if failure.in_container:
        cause = (f"The container was killed from outside the run (SIGKILL, {_how(failure)}); "
                 "Docker recorded no out-of-memory kill, so a person or a program stopped it "
                 "(docker kill, docker rm -f, the engine restarting)")  # fmt: skip
    else:
        cause = (f"Killed by SIGKILL ({_how(failure)}) from outside the run; the kernel recorded "
                 "no out-of-memory kill, so a person or a program stopped it (kill -9, a "
                 "process manager)")  # fmt: skip
    return _hint("killed", f"{cause}{_used(failure)}. Submit it again if that was a mistake.")


def _how(failure: Failure) -> str:
    return "signal 9, shell exit code 137" if failure.exit_code == -9 else "exit code 137"


def _used(failure: Failure) -> str:
    peak = failure.peak_memory
    return f"; its processes were seen using up to {human_size(peak)}" if peak else ""


def _timed_out(limit: int) -> dict:
    return _hint(
        "timeout",
        f"Stopped at its time limit, max_run_duration_seconds={limit} ({_duration(limit)}). "
        "If it needs longer, raise max_run_duration_seconds in ScriptRunConfig (or the Timeout "
        "field of the submit page).",
    )


def _build_failed(failure: Failure, links: Links) -> dict:
    env = failure.environment
    line = failed_build_line(failure.build_log, failure.build_error or "").rstrip(".")
    if "No matching distribution" in line or "Could not find a version" in line:
        fix = "Fix that package's name or version (or the index, PIP_INDEX_URL)"
    else:
        fix = "Fix the spec"
    label = f"{env.name} v{env.version}" if env.name else "the environment"
    message = (
        f"Environment {label} failed to build: {line}. {fix}, then register a new version "
        "and submit again."
    )
    if not env.name or env.curated:
        return _hint("environment_build_failed", message)
    page = f"{links.environments_page}{quote(env.name)}/?{urlencode({'version': env.version})}"
    return _hint(
        "environment_build_failed",
        message,
        page,
        f"Open {label}: its build log and the form for a new version",
    )


def failed_build_line(log: tuple[str, ...] | list[str], error: str) -> str:
    """The line that says why a build failed: pip's or Docker's last ERROR line, else pip's
    "No matching distribution", else the first line of the build's error."""
    lines = [line.strip() for line in [*log, *error.splitlines()] if line.strip()]
    for wanted in (lambda s: s.startswith("ERROR"), lambda s: "No matching distribution" in s):
        found = [line for line in lines if wanted(line)]
        if found:
            return _short(found[-1])
    first = error.strip().splitlines()[0] if error.strip() else "no error was recorded."
    return _short(first.split(" failed to build: ", 1)[-1])


# --- reading tracebacks ---------------------------------------------------------------------


def _last_exception(traceback: str) -> tuple[str, str] | None:
    for line in reversed(traceback.splitlines()):
        if found := EXCEPTION.match(line):
            return found["type"].rsplit(".", 1)[-1], found["text"] or ""
    return None


def _last_snapshot_frame(traceback: str, paths: frozenset[str]) -> tuple[str, int] | None:
    """The innermost frame in one of the snapshot's files: the user's own line."""
    frames = [FRAME.match(line) for line in traceback.splitlines()]
    for frame in reversed([f for f in frames if f]):
        if frame["path"] in paths:
            return frame["path"], int(frame["line"])
    return None


# --- wording --------------------------------------------------------------------------------


def _hint(code: str, message: str, url: str | None = None, label: str | None = None) -> dict:
    hint = {"code": code, "message": message}
    if url is not None:
        hint.update(url=url, label=label)
    return hint


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= LINE_MAX else text[: LINE_MAX - 1] + "…"


def _duration(seconds: int) -> str:
    """3600 → "1 h", 5400 → "1 h 30 min", 90 → "1 min 30 s"."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts[:2]) or "0 s"


# --- the evidence: what the executor knows of a run's end, gathered for hint_for ----------

TRACEBACK = re.compile(rb"Traceback \(most recent call last\):\n")


def error_summary(run_id: str, exit_code: int | None, *, workdir: Path) -> dict:
    """The last traceback of the user log (or its last lines) and the exit code, with paths
    shown relative to the snapshot, as the user knows them."""
    tail = log_tail(store.run_file(run_id, store.USER_LOG))
    matches = list(TRACEBACK.finditer(tail))
    if matches:
        trace = tail[matches[-1].start() :].decode("utf-8", "replace").strip()
        trace = trace.replace(f'"{workdir}/', '"')
        last = trace.splitlines()[-1]
        message = f"{last} (exit code {exit_code})"
    else:
        last_lines = tail.decode("utf-8", "replace").strip().splitlines()[-20:]
        message = f"The script exited with code {exit_code}."
        if last_lines:
            message += " Last output: " + " | ".join(last_lines[-3:])
        trace = "\n".join(last_lines)
    return {"message": message, "traceback": trace, "exit_code": exit_code}


def log_tail(path: Path, size: int = 64 * 1024) -> bytes:
    """The last `size` bytes of a log; nothing for a log never written."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read()
    except FileNotFoundError:
        return b""


@dataclass(frozen=True)
class Evidence:
    """What the executor saw of the run besides its logs."""

    stopped: bool  # the executor stopped the script (cancel, timeout, its own error)
    timeout_seconds: int | None = None
    failed_build_log: str | None = None
    peak_memory: int | None = None
    oom_killed: bool = False
    in_container: bool = False


def failure_of(run, definition: RunDefinition, status: str, error: dict,
               evidence: Evidence) -> Failure:  # fmt: skip
    build_log = ()
    if evidence.failed_build_log is not None:
        tail = log_tail(store.run_file(run.pk, evidence.failed_build_log))
        build_log = tuple(tail.decode("utf-8", "replace").splitlines()[-40:])
    manifest = run.snapshot.manifest if run.snapshot_id else []
    return Failure(
        status=status,
        # A script the executor stopped was killed on purpose: its exit code says nothing
        # about the script.
        exit_code=None if evidence.stopped else error.get("exit_code"),
        traceback=error.get("traceback", ""),
        timeout_seconds=evidence.timeout_seconds,
        build_error=error["message"] if evidence.failed_build_log else None,
        build_log=build_log,
        peak_memory=evidence.peak_memory,
        oom_killed=evidence.oom_killed,
        in_container=evidence.in_container,
        environment=environment_of(definition),
        snapshot_paths=frozenset(entry["path"] for entry in manifest),
    )


def environment_of(definition: RunDefinition) -> Environment:
    if definition.environment_id is None:
        return Environment()
    version = environment_version_by_pk(pk=definition.environment_id)
    return Environment(
        name=version.name,
        version=version.version,
        curated=version.environment.is_curated,
        user_managed=version.spec["python"]["user_managed_dependencies"],
        docker=definition.in_docker(version.spec),
    )


def links_of(run) -> Links:
    workspace = run.experiment.workspace.name
    return Links(
        run_page=reverse("run", args=[workspace, run.pk]),
        environments_page=reverse("environments", args=[workspace]),
    )
