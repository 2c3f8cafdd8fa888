"""Preparing a run's node: a fresh working folder from the snapshot, and the environment,
built or found in the cache, whose build log streams into the run's logs as it goes."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from environments.builders import Built, environment_build
from environments.selectors import environment_version_by_pk
from mlstudio.errors import UserError
from runs.definition import RunDefinition
from runs.execution_services import run_image_record
from runs.launch import PreparationError
from runs.models import Run, RunStatus
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
    if built.image:
        run_image_record(run_id=run.pk, image=built.image)
    logs.say(f"Environment {version.label}: {built.kind}, {how}; {where}")
    for note in built.notes:
        logs.say(note)
    return built, version.spec
