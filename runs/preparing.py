"""Preparing a run's node: a fresh working folder from the snapshot, and the environment,
built or found in the cache, whose build log streams into the run's logs as it goes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

from django.conf import settings

from data.inputs import (
    argv_with_inputs,
    inputs_materialize,
    inputs_plan,
    inputs_record,
    is_linked,
)
from data.outputs import outputs_upload
from environments.builders import Built, environment_build
from environments.selectors import environment_version_by_pk
from mlstudio.errors import UserError
from mlstudio.sandbox import isolation, workdir_hand_over
from runs import launch, store
from runs.definition import RunDefinition
from runs.execution_services import run_image_record
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


def resumed_outputs_place(definition: RunDefinition, workdir: Path, logs: RunLogs) -> None:
    """A resumed sweep child starts with the earlier child's ./outputs in ./resume_from (a
    copy: the earlier run's files stay as they were). Regular files only."""
    earlier = definition.resume_outputs_of
    if not earlier:
        return
    source = store.run_dir(earlier) / "outputs"
    target = workdir / "resume_from"
    target.mkdir()
    copied = 0
    for path in sorted(source.rglob("*")) if source.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        copied += 1
    logs.say(f"Resuming {earlier}: its {copied} output file(s) are in ./resume_from, "
             "named by --resume-from")  # fmt: skip


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


# --- dataset inputs (data.inputs) ------------------------------------------------------------


def datasets_plan(run: Run, definition: RunDefinition, workdir: Path) -> tuple[RunDefinition, dict]:
    """Where the run's dataset inputs go, and its definition with their folders in the
    arguments and MLSTUDIO_INPUT_DATASETS for Run.input_datasets. A version deleted since
    the submit fails the run here, naming the input."""
    inputs = list(definition.datasets)
    if not inputs:
        return definition, {}
    try:
        placed = inputs_plan(workspace=run.experiment.workspace, inputs=inputs, workdir=workdir)
    except UserError as exc:
        raise PreparationError(exc.message) from None
    variables = (*definition.environment_variables, ("MLSTUDIO_INPUT_DATASETS", json.dumps(placed)))
    arguments = tuple(argv_with_inputs(list(definition.arguments), placed))
    command = tuple(argv_with_inputs(list(definition.command), placed))
    return replace(definition, arguments=arguments, command=command,
                   environment_variables=variables), placed  # fmt: skip


def datasets_read_only(plan: launch.LaunchPlan, placed: dict) -> launch.LaunchPlan:
    """A container gets each linked (mounted or direct) input folder as a read-only volume
    over its working folder: linked files share the store's inodes, and the script may run
    as root there."""
    folders = tuple(info["path"] for info in placed.values() if is_linked(info))
    if plan.container is None or not folders:
        return plan
    return replace(plan, container=replace(plan.container, read_only=folders))


def datasets_materialize(
    run: Run, definition: RunDefinition, placed: dict, argv: list, env: dict, say, *,
    in_container: bool,
) -> tuple[list, dict]:  # fmt: skip
    """Make the planned folders, after the working folder went to the run user, so the
    linked (read-only) files stay the studio's; record the run's inputs."""
    if not placed:
        return argv, env
    workspace = run.experiment.workspace
    # Linked files are the studio's: safe when the script is another user, or in a container
    # (a read-only volume, datasets_read_only, or a copy for an engine on another machine).
    zero_copy = in_container or isolation().user is not None
    try:
        inputs_materialize(workspace=workspace, placed=placed, zero_copy=zero_copy, say=say)
    except UserError as exc:
        raise PreparationError(exc.message) from None
    for info in placed.values():  # a download is the script's to change
        if info["mode"] == "download":
            workdir_hand_over(Path(info["path"]), isolation().user)
    inputs_record(workspace=workspace, run_id=run.pk, experiment_name=run.experiment.name,
                  inputs=list(definition.datasets))  # fmt: skip
    return argv, env


def datasets_output(run: Run, placed: dict, exit_code: int | None, say) -> None:
    """Upload the run's OutputFileDatasetConfig folders; register them if it completed."""
    if not any(info["mode"] == "upload" for info in placed.values()):
        return
    try:
        outputs_upload(workspace=run.experiment.workspace, placed=placed, run_id=run.pk,
                       experiment_name=run.experiment.name, user=run.submitted_by,
                       completed=exit_code == 0, say=say)  # fmt: skip
    except UserError as exc:
        say(f"Uploading the run's output datasets failed: {exc.message}")
