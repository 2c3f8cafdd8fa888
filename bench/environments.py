"""Environments on a real studio: how long a run waits for its environment the first time
(a build) and afterwards (cached), and how long resolving a cached build takes."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.figures import Figure
from bench.util import REPO, BenchStudio

FIRST_LINE = "import time\nprint('started', repr(time.time()), flush=True)\n"

# Times environment_build() on an already built version, in the studio's own process context.
RESOLVE = """
import statistics, time
from environments.builders import environment_build
from environments.models import EnvironmentVersion
version = EnvironmentVersion.objects.get(environment__name={name!r})
samples = []
for _ in range({repeats}):
    started = time.perf_counter()
    built = environment_build(version=version, log=lambda line: None)
    samples.append(time.perf_counter() - started)
    assert built.cached, built
print(statistics.median(samples))
"""


def first_line_after_submit(studio: BenchStudio, environment, experiment_name: str) -> float:
    """Seconds from experiment.submit() until the script's first line ran."""
    from mlstudio.sdk import Experiment, ScriptRunConfig

    experiment = Experiment(studio.workspace(), experiment_name)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "train.py").write_text(FIRST_LINE)
        called = time.time()
        run = experiment.submit(ScriptRunConfig(folder, "train.py", environment=environment))
        run.wait_for_completion()
        text, _, _ = run._read_log("user_logs/std_log.txt", 0)
    return float(text.split()[1]) - called


def resolve_seconds(studio: BenchStudio, name: str, repeats: int) -> float:
    code = RESOLVE.format(name=name, repeats=repeats)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO, env=studio.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(result.stdout.strip().splitlines()[-1])


def virtualenv_env(wheels: Path):
    from mlstudio.sdk import Environment
    from tests.environments.helpers import make_wheel

    make_wheel(wheels, name="benchpkg")
    env = Environment("bench-venv")
    env.python.conda_dependencies.add_pip_package("--no-index")
    env.python.conda_dependencies.add_pip_package(f"--find-links {wheels}")
    env.python.conda_dependencies.add_pip_package("benchpkg")
    return env


def docker_env():
    from mlstudio.sdk import Environment

    env = Environment("bench-image")
    env.docker.enabled = True
    env.docker.base_image = None
    # A line no earlier build had, so the first run really builds.
    env.docker.base_dockerfile = f"FROM mlstudio/python:bookworm\nRUN echo {uuid.uuid4().hex}\n"
    env.python.conda_dependencies.add_pip_package("six")
    return env


def run(quick: bool) -> list[Figure]:
    repeats = 5 if quick else 20
    with tempfile.TemporaryDirectory() as wheels, BenchStudio() as studio:
        venv = virtualenv_env(Path(wheels))
        venv_first = first_line_after_submit(studio, venv, "bench_env_venv")
        venv_cached = statistics.median(
            first_line_after_submit(studio, venv, "bench_env_venv") for _ in range(3)
        )
        venv_resolve = resolve_seconds(studio, "bench-venv", repeats)
        image = docker_env()
        image_first = first_line_after_submit(studio, image, "bench_env_image")
        image_cached = statistics.median(
            first_line_after_submit(studio, image, "bench_env_image") for _ in range(3)
        )
        image_resolve = resolve_seconds(studio, "bench-image", repeats)
    return [
        Figure("resolve a cached virtualenv (median)", venv_resolve * 1000, "ms", 200),
        Figure("resolve a cached image (median)", image_resolve * 1000, "ms", 200),
        Figure("virtualenv: first build, submit -> first line", venv_first, "s"),
        Figure("virtualenv: cached, submit -> first line (median)", venv_cached, "s", 1,
               peer_name="its first build", peer_value=venv_first),
        Figure("image: first build, submit -> first line", image_first, "s"),
        Figure("image: cached, submit -> first line (median)", image_cached, "s", 2,
               peer_name="its first build", peer_value=image_first),
    ]  # fmt: skip
