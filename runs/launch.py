"""A run's launch plan: from its definition, its environment and where it runs, the command
line, the environment variables, the container to run it in and the layout of a distributed
job. Pure: no file, process, socket or database is touched here, so the plan is tested on
plain data; the executor gathers the facts (free ports, whether mpirun is installed) and
carries the plan out."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mlstudio.errors import UserError
from runs.definition import DistributedJob, RunDefinition

SERVER_SECRETS = ("DATABASE_URL", "REDIS_URL")
LAUNCHER = ("-m", "mlstudio.sdk._launch")


class PreparationError(UserError):
    """The run cannot start: a missing interpreter, an unreadable snapshot, …"""


@dataclass(frozen=True)
class Identity:
    """Who the script is: the variables the SDK reads to find its run."""

    run_id: str
    node_rank: int
    experiment: str
    workspace: str
    run_dir: str  # the run-private folder of the metric transport
    metric_name_max: int
    metric_value_max_bytes: int


@dataclass(frozen=True)
class Node:
    """Where this node's part of the run starts, as the executor found it."""

    rank: int = 0
    nodes: int = 1
    master: tuple[str, int] = ("127.0.0.1", 0)  # a multi-node job's rendezvous address
    mpirun: bool = True  # whether mpirun is on the worker's PATH
    as_root: bool = False
    worker: str = ""


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    workdir: str
    shm_size: str | None
    arguments: tuple[str, ...]
    sdk_path: str
    read_only: tuple[str, ...] = ()  # host folders mounted read-only at the same path


@dataclass(frozen=True)
class LaunchPlan:
    argv: list[str]
    env: dict[str, str]
    container: ContainerSpec | None = None
    distributed: bool = False  # its processes tag their lines by rank: one log per process
    notes: list[str] = field(default_factory=list)  # what the system log says about it


def container_name(run_id: str) -> str:
    return f"mlstudio-run-{re.sub(r'[^A-Za-z0-9_.-]', '-', run_id)}"[:200]


def script_argv(definition: RunDefinition, python: str) -> list[str]:
    if definition.command:
        return list(definition.command)
    return [python, definition.script, *definition.arguments]


def script_env(
    definition: RunDefinition,
    identity: Identity,
    *,
    host_env: Mapping[str, str],
    in_docker: bool,
    sdk_path: str,
) -> dict[str, str]:
    """The script's variables. On this host it inherits the worker's (PATH, locale, …),
    never the studio's own settings; in a container it gets only its own."""
    env = {} if in_docker else _inherited(host_env)
    env.update(dict(definition.environment_variables))
    if not in_docker:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (sdk_path, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(
        {
            "MLSTUDIO_RUN_ID": identity.run_id,
            "MLSTUDIO_NODE_RANK": str(identity.node_rank),
            "MLSTUDIO_EXPERIMENT": identity.experiment,
            "MLSTUDIO_WORKSPACE": identity.workspace,
            "MLSTUDIO_RUN_DIR": identity.run_dir,
            "MLSTUDIO_METRIC_NAME_MAX": str(identity.metric_name_max),
            "MLSTUDIO_METRIC_VALUE_MAX_BYTES": str(identity.metric_value_max_bytes),
        }
    )
    return env


def _inherited(host_env: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in host_env.items()
        if not k.startswith(("MLSTUDIO_", "DJANGO_")) and k not in SERVER_SECRETS
    }


def distributed_argv(
    job: DistributedJob,
    argv: list[str],
    *,
    python: str,
    node: Node,
    in_docker: bool,
    free_port: Callable[[], int],
) -> tuple[list[str], str]:
    """The command that starts this node's processes of a PyTorch, MPI or TensorFlow job
    through mlstudio.sdk._launch, which gives each its rank variables and tags its output
    by rank; and a line for the system log. `free_port` gives a port free on this node."""
    launch = [python, *LAUNCHER]
    per_node = job.processes_per_node
    if job.type == "pytorch":
        address, port = node.master if node.master[1] else ("127.0.0.1", free_port())
        note = (f"PyTorch job: {per_node} process(es) on node {node.rank} of {node.nodes}, "
                f"rendezvous at {address}:{port}")  # fmt: skip
        return [*launch, "pytorch", "--nprocs", str(per_node), "--nnodes", str(node.nodes),
                "--node-rank", str(node.rank), "--master-addr", address,
                "--master-port", str(port), "--", *argv], note  # fmt: skip
    if job.type == "tensorflow":
        addresses = [f"127.0.0.1:{free_port()}" for _ in range(job.process_count)]
        cluster = {"worker": addresses[: job.worker_count]}
        if job.parameter_server_count:
            cluster["ps"] = addresses[job.worker_count :]
        note = f"TensorFlow job: cluster {json.dumps(cluster)}"
        return [*launch, "tensorflow", "--cluster", json.dumps(cluster), "--", *argv], note
    if not in_docker and not node.mpirun:
        raise PreparationError(
            f"MpiConfiguration needs Open MPI's mpirun, which is not on the PATH of worker "
            f"{node.worker}: install it (Debian: apt-get install openmpi-bin) or "
            "use an environment image that has it."
        )
    as_root = ["--allow-run-as-root"] if node.as_root else []
    note = f"MPI job: mpirun with {per_node} process(es)"
    return ["mpirun", *as_root, "--oversubscribe", "--bind-to", "none", "-np", str(per_node),
            *launch, "mpi", "--", *argv], note  # fmt: skip


def launch_plan(
    definition: RunDefinition,
    identity: Identity,
    *,
    python: str,
    image: str | None,
    docker: Mapping | None,
    workdir: str,
    sdk_path: str,
    host_env: Mapping[str, str],
    node: Node = Node(),
    free_port: Callable[[], int],
) -> LaunchPlan:
    """The whole plan. `image` is set for a run in a container, `docker` is the environment
    spec's docker section (shm_size, arguments)."""
    in_docker = image is not None
    argv = script_argv(definition, python)
    env = script_env(definition, identity, host_env=host_env, in_docker=in_docker,
                     sdk_path=sdk_path)  # fmt: skip
    if not in_docker:
        # `python` in a command is the environment's, as in v1 (its conda env activated).
        folder = os.path.dirname(python)
        env["PATH"] = os.pathsep.join(p for p in (folder, env.get("PATH", "")) if p)
    notes = []
    if definition.distributed:
        argv, note = distributed_argv(definition.distributed, argv, python=python, node=node,
                                      in_docker=in_docker, free_port=free_port)  # fmt: skip
        notes.append(note)
    container = None
    if in_docker:
        docker = docker or {}
        container = ContainerSpec(
            name=container_name(identity.run_id),
            image=image,
            workdir=workdir,
            shm_size=docker.get("shm_size"),
            arguments=tuple(docker.get("arguments") or ()),
            sdk_path=sdk_path,
        )
    return LaunchPlan(argv, env, container, definition.distributed is not None, notes)
