"""Preparing a run's node: a fresh working folder from the snapshot, and the environment,
built or found in the cache, whose build log streams into the run's logs as it goes."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from pathlib import Path

from django.conf import settings

from environments.builders import Built, environment_build
from environments.selectors import environment_version_by_pk
from mlstudio.errors import UserError
from runs import launch
from runs.definition import RunDefinition
from runs.launch import PreparationError
from runs.models import Run, RunStatus
from runs.placement import REPO_ROOT
from runs.runlogs import ENV_BUILD_LOG, IMAGE_BUILD_LOG, RunLogs
from runs.services import run_detail_set
from runs.snapshots import snapshot_materialize


def workdir_make(run: Run, workdir: Path, logs: RunLogs) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    if run.snapshot_id:
        logs.say(f"Materializing snapshot {run.snapshot_id} into {workdir}")
        snapshot_materialize(snapshot=run.snapshot, destination=workdir)
    for folder in ("outputs", "logs", ".mlstudio"):
        (workdir / folder).mkdir(exist_ok=True)


class EnvironmentFailed(PreparationError):
    """The environment did not build; `log` names its build log, for the failure hint."""

    def __init__(self, message: str, *, log: str):
        super().__init__(message)
        self.log = log


def environment_prepare(run: Run, definition: RunDefinition, logs: RunLogs) -> tuple[Built, dict]:
    """Build (or find cached) the run's environment: what was built and its spec."""
    if definition.environment_id is None:
        logs.say(f"Environment: none given; the worker's own Python, {sys.executable}")
        return Built("user-managed", sys.executable, None, True, ""), {}
    version = environment_version_by_pk(pk=definition.environment_id)
    docker = definition.in_docker(version.spec)
    build_log, line = logs.build_log(IMAGE_BUILD_LOG if docker else ENV_BUILD_LOG)
    started = time.monotonic()
    if version.build_status != "Succeeded":
        run_detail_set(
            run_id=run.pk,
            status=RunStatus.PREPARING,
            detail="building environment (first use of this spec, cached afterwards)",
        )
    try:
        built = environment_build(version=version, log=line, docker=docker)
    except UserError as exc:
        message = f"Environment {version.label} failed to build: {exc.message}"
        raise EnvironmentFailed(message, log=build_log.name) from None
    finally:
        build_log.close()
    how = "cached" if built.cached else f"built in {time.monotonic() - started:.1f} s"
    where = f"image {built.image}" if built.image else f"interpreter {built.python}"
    logs.say(f"Environment {version.label}: {built.kind}, {how}; {where}")
    for note in built.notes:
        logs.say(note)
    return built, version.spec


def launch_prepare(run: Run, definition: RunDefinition, built: Built, spec: dict, *,
                   workdir: Path, rank: int, master: tuple[str, int],
                   logs: RunLogs) -> launch.LaunchPlan:  # fmt: skip
    """The launch plan of this node's part of the run (runs.launch), with the facts of this
    worker it needs; its notes go to the run's system log."""
    in_docker = built.kind == "docker"
    node = launch.Node(rank=rank, nodes=definition.node_count, master=master,
                       mpirun=shutil.which("mpirun") is not None, as_root=os.geteuid() == 0,
                       worker=socket.gethostname())  # fmt: skip
    plan = launch.launch_plan(
        definition,
        _identity(run, rank, workdir),
        python=built.python,
        image=built.image if in_docker else None,
        docker=spec.get("docker"),
        workdir=str(workdir),
        sdk_path=str(REPO_ROOT),
        host_env=os.environ,
        node=node,
        free_port=_free_port,
    )
    for note in plan.notes:
        logs.say(note)
    if plan.distributed:
        logs.split_by_process()
    return plan


def _identity(run: Run, rank: int, workdir: Path) -> launch.Identity:
    return launch.Identity(
        run_id=run.pk,
        node_rank=rank,
        experiment=run.experiment.name,
        workspace=run.experiment.workspace.name,
        run_dir=str(workdir / ".mlstudio"),
        metric_name_max=settings.MLSTUDIO_METRIC_NAME_MAX,
        metric_value_max_bytes=settings.MLSTUDIO_METRIC_VALUE_MAX_BYTES,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
