"""A run's definition as the studio reads it: typed, frozen, built once from what
runs.submission (or an interactive start, or a sweep) stored, so nothing reads the raw dict."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DistributedJob:
    """A PyTorch, MPI or TensorFlow job's shape (runs.submission checked the counts)."""

    type: str
    process_count: int
    node_count: int = 1
    worker_count: int = 1
    parameter_server_count: int = 0
    communication_backend: str = ""

    @property
    def processes_per_node(self) -> int:
        return self.process_count // self.node_count


@dataclass(frozen=True)
class EnvironmentRef:
    """The environment version the run was resolved to at submit."""

    id: int
    name: str = ""
    version: str = ""
    kind: str = ""


@dataclass(frozen=True)
class SweepLink:
    """A sweep child's tie to its parent: the metric the sweep ranks by, and whether an
    early termination policy judges the child on it."""

    parent: str
    metric: str
    policy: bool = False


@dataclass(frozen=True)
class RunDefinition:
    script: str = ""
    command: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()
    compute_target: str = "local"
    queue: str = ""
    target_type: str = ""
    environment: EnvironmentRef | None = None
    environment_variables: tuple[tuple[str, str], ...] = ()
    max_run_duration_seconds: int = 0
    distributed: DistributedJob | None = None
    resume_outputs_of: str = ""  # a resumed sweep child: the earlier child whose outputs it gets
    datasets: tuple[dict, ...] = ()  # pinned dataset versions (data.inputs)
    interactive: bool = False  # an interactive or child run: its client ends it, no worker
    sweep_parent: bool = False
    sweep: SweepLink | None = None

    @classmethod
    def of(cls, stored: dict | None) -> RunDefinition:
        stored = stored or {}
        job, environment, sweep = (stored.get(k) for k in ("distributed", "environment", "sweep"))
        return cls(
            script=stored.get("script") or "",
            command=tuple(stored.get("command") or ()),
            arguments=tuple(stored.get("arguments") or ()),
            compute_target=stored.get("compute_target") or "local",
            queue=stored.get("queue") or "",
            target_type=stored.get("target_type") or "",
            environment=EnvironmentRef(**environment) if environment else None,
            environment_variables=tuple((stored.get("environment_variables") or {}).items()),
            max_run_duration_seconds=stored.get("max_run_duration_seconds") or 0,
            distributed=DistributedJob(**job) if job else None,
            resume_outputs_of=stored.get("resume_outputs_of") or "",
            datasets=tuple(stored.get("datasets") or ()),
            interactive=bool(stored.get("interactive")),
            sweep_parent=bool(stored.get("sweep_parent")),
            sweep=SweepLink(**sweep) if sweep else None,
        )

    @property
    def environment_id(self) -> int | None:
        return self.environment.id if self.environment else None

    @property
    def node_count(self) -> int:
        return self.distributed.node_count if self.distributed else 1

    @property
    def on_docker_target(self) -> bool:
        return self.target_type == "docker"

    def in_docker(self, spec: dict) -> bool:
        """Whether the run goes in a container: its environment asks for one, or its target
        is a Docker target."""
        return bool(spec.get("docker", {}).get("enabled")) or self.on_docker_target
