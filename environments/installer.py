"""Installing an environment's pip packages into a virtualenv: with uv (a studio dependency,
many times faster on a first build), honouring the host's pip settings, else with pip.

uv reads no pip.conf and no PIP_* variables, so the settings pip would use here (as
`pip config list` reports them: pip.conf files and PIP_* variables together) are passed to
it as flags: index URLs, find-links, trusted hosts, constraints and the CA bundle.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

Log = Callable[[str], None]
Run = Callable[..., None]
LISTED = re.compile(r"^(?:[\w-]+|:env:)\.([\w-]+)='(.*)'$")
# pip setting -> uv flag; several values in one setting are separated by whitespace.
FLAGS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "trusted-host": "--allow-insecure-host",
    "constraint": "--constraint",
}


def uv_binary() -> str | None:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def host_pip_config() -> dict[str, str]:
    """What pip on this host would use, later sources winning (`pip config list`)."""
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    config = {}
    for line in listed.stdout.splitlines():
        match = LISTED.match(line.strip())
        if match:
            config[match.group(1)] = match.group(2)
    return config


def uv_arguments(config: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """uv flags and environment variables for pip's settings."""
    arguments: list[str] = []
    for key, flag in FLAGS.items():
        for value in config.get(key, "").split():
            arguments += [flag, value]
    if config.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        arguments.append("--no-index")
    cert = config.get("cert") or os.environ.get("REQUESTS_CA_BUNDLE")
    return arguments, ({"SSL_CERT_FILE": cert} if cert else {})


def install(python: Path, requirements: Path, log: Log, run: Run) -> str:
    """Install `requirements` into the environment of `python`; returns the tool used.
    `run(argv, log, what=, env=)` runs one step and raises BuildError when it fails."""
    uv = uv_binary()
    wanted = "; ".join(line for line in requirements.read_text().splitlines() if line.strip())
    log(f"installing with {'uv' if uv else 'pip'}: {wanted}")
    if uv is not None:
        arguments, variables = uv_arguments(host_pip_config())
        argv = [uv, "pip", "install", "--python", str(python), "-r", str(requirements)]
        try:
            run([*argv, *arguments], log, what="uv pip install", env=variables)
            return "uv"
        except Exception as exc:  # a BuildError: let pip try, it may serve what uv cannot
            log(f"uv could not install the packages ({_first_line(exc)}); trying pip instead")
    else:
        log("uv is not installed on this worker; installing with pip (pip install uv to speed up)")
    argv = [str(python), "-m", "pip", "install", "--no-input", "--progress-bar", "off"]
    run([*argv, "-r", str(requirements)], log, what="pip install")
    return "pip"


def _first_line(exc: Exception) -> str:
    text = getattr(exc, "message", str(exc))
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__
