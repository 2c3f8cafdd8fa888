"""What a submitted run asks for (a ScriptRunConfig), validated before anything is stored."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, fields

from django.conf import settings

from compute.queues import LOCAL_TARGET, target_queue
from mlstudio.errors import UserError
from mlstudio.paths import clean_relative_path

DEFAULT_MAX_RUN_DURATION = 30 * 24 * 3600
MAX_PROCESSES = 256
DISTRIBUTED_TYPES = ("pytorch", "mpi", "tensorflow")


@dataclass
class RunConfig:
    script: str | None = None
    command: list[str] | None = None
    arguments: list[str] = field(default_factory=list)
    compute_target: str = LOCAL_TARGET
    queue: str = target_queue(LOCAL_TARGET)
    target_type: str = "local"
    environment_spec: dict | None = None
    environment: dict | None = None
    environment_variables: dict[str, str] = field(default_factory=dict)
    max_run_duration_seconds: int = DEFAULT_MAX_RUN_DURATION
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    display_name: str = ""
    distributed: dict | None = None
    datasets: list = field(default_factory=list)  # pinned at submit by data.inputs

    @classmethod
    def parse(cls, raw: dict) -> RunConfig:
        """Build from the API's JSON (what the SDK's ScriptRunConfig sends); refuse bad input."""
        if not isinstance(raw, dict):
            raise UserError("The run configuration must be a JSON object.")
        script, command = raw.get("script"), raw.get("command")
        if bool(script) == bool(command):
            raise UserError("Give either `script` (with `arguments`) or `command`, not both.")
        config = cls(
            script=clean_relative_path(script, what="script") if script else None,
            command=_command(command) if command else None,
            arguments=_arguments(raw.get("arguments")),
            compute_target=_target(raw.get("compute_target")),
            max_run_duration_seconds=_duration(raw.get("max_run_duration_seconds")),
            tags=tags_checked(string_map(raw.get("tags"), "tags")),
            properties=string_map(raw.get("properties"), "properties"),
            display_name=str(raw.get("display_name") or "")[:255],
            distributed=_distributed(raw.get("distributed")),
            datasets=raw.get("datasets") or [],
        )
        config._read_environment(raw.get("environment"), raw.get("environment_variables"))
        return config

    def _read_environment(self, environment, run_variables) -> None:
        if environment is not None and not isinstance(environment, dict):
            raise UserError("`environment` must be an Environment or its JSON spec.")
        # Resolved against the workspace's registry (registered if new) at submit.
        self.environment_spec = environment or None
        self.environment_variables = string_map(run_variables, "environment_variables")

    def use_target(self, target) -> None:
        """Run on `target` (a ComputeTarget): its queue, and its type for the executor."""
        self.compute_target = target.name
        self.queue = target.queue
        self.target_type = target.type
        nodes = (self.distributed or {}).get("node_count", 1)
        if nodes > 1 and (target.type != "cluster" or (target.max_nodes or 1) < nodes):
            most = target.max_nodes or 1 if target.type == "cluster" else 1
            raise UserError(
                f"node_count {nodes} is more than compute target {target.name!r} has "
                f"({most} node(s) at most). Lower node_count, or submit to a cluster target "
                f"with max_nodes >= {nodes}."
            )

    def use_environment(self, version) -> None:
        """Run in `version` (an EnvironmentVersion); its variables yield to the run's own."""
        self.environment = {
            "id": version.pk,
            "name": version.name,
            "version": version.version,
            "kind": version.kind,
        }
        self.environment_variables = {
            **version.spec.get("environment_variables", {}),
            **self.environment_variables,
        }

    def check_against(self, snapshot) -> None:
        """Refuse a script that is not in the snapshot, naming what is there instead."""
        self.check_paths([entry["path"] for entry in (snapshot.manifest if snapshot else [])])

    def check_paths(self, paths: list[str]) -> None:
        if self.script is None:
            return
        paths = set(paths)
        if self.script not in paths:
            top = sorted({p.split("/", 1)[0] + ("/" if "/" in p else "") for p in paths})
            listing = ", ".join(top[:30]) or "none (the snapshot is empty)"
            raise UserError(
                f"Script {self.script!r} is not in the snapshot. Files at its top level: "
                f"{listing}. Check `script` is relative to source_directory."
            )

    def as_definition(self) -> dict:
        """Every field, in order, but those kept elsewhere: the run's own columns (tags,
        properties, display_name) and environment_spec (resolved into `environment`)."""
        elsewhere = {"tags", "properties", "display_name", "environment_spec"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in elsewhere}


def _distributed(raw) -> dict | None:
    """A PyTorch, MPI or TensorFlow job's shape: type, process_count in all, node_count."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in DISTRIBUTED_TYPES:
        raise UserError(
            "`distributed` must be a PyTorchConfiguration, MpiConfiguration or "
            "TensorflowConfiguration: {'type': 'pytorch' | 'mpi' | 'tensorflow', ...}."
        )
    counts = {}
    for key in ("process_count", "node_count", "worker_count", "parameter_server_count"):
        value = raw.get(key, 0 if key == "parameter_server_count" else 1)
        lowest = 0 if key == "parameter_server_count" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise UserError(f"{key} must be a whole number of at least {lowest}, not {value!r}.")
        counts[key] = value
    if raw["type"] == "tensorflow":
        counts["process_count"] = counts["worker_count"] + counts["parameter_server_count"]
        if counts["node_count"] != 1:
            raise UserError("TensorFlow jobs run on one node here; set node_count to 1.")
    if raw["type"] == "mpi" and counts["node_count"] != 1:
        raise UserError(
            "MPI jobs run on one node here (mpirun across machines needs ssh between them); "
            "set node_count to 1, or use PyTorchConfiguration for a multi-node job."
        )
    if counts["process_count"] > MAX_PROCESSES:
        raise UserError(
            f"process_count {counts['process_count']} is above the limit of {MAX_PROCESSES}."
        )
    if counts["process_count"] % counts["node_count"]:
        raise UserError(
            f"process_count {counts['process_count']} does not spread evenly over node_count "
            f"{counts['node_count']}; use a multiple of node_count."
        )
    backend = str(raw.get("communication_backend") or "")[:20]
    return {"type": raw["type"], "communication_backend": backend, **counts}


def _arguments(raw) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise UserError("`arguments` must be a list, e.g. ['--epochs', 10].")
    out = []
    for position, value in enumerate(raw):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise UserError(
                f"Argument {position} ({value!r}, a {type(value).__name__}) is not a string or a "
                "number; pass str(value) if you mean its text."
            )
        out.append(str(value))
    return out


def _command(raw) -> list[str]:
    if isinstance(raw, str):
        try:
            return shlex.split(raw)
        except ValueError as exc:
            raise UserError(f"Cannot split `command` {raw!r}: {exc}.") from None
    return _arguments(raw)


def _target(raw) -> str:
    """A target's name; whether the workspace has it is checked at submit."""
    if raw is None or raw == "":
        return LOCAL_TARGET
    if not isinstance(raw, str):
        raise UserError(f"`compute_target` must be a target's name, not {raw!r}.")
    return raw


def _duration(raw) -> int:
    if raw is None:
        return DEFAULT_MAX_RUN_DURATION
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise UserError(
            f"max_run_duration_seconds must be a positive whole number of seconds, not {raw!r}."
        )
    return raw


def tags_checked(tags: dict[str, str]) -> dict[str, str]:
    """`tags` if they are within MLSTUDIO_TAGS_MAX and MLSTUDIO_TAG_LENGTH_MAX, else a
    UserError that states the limit."""
    problem = tags_problem(tags)
    if problem:
        raise UserError(problem)
    return tags


def tags_problem(tags: dict[str, str]) -> str | None:
    most, longest = settings.MLSTUDIO_TAGS_MAX, settings.MLSTUDIO_TAG_LENGTH_MAX
    if len(tags) > most:
        return (f"{len(tags)} tags is more than the limit of {most} per experiment or run "
                "(MLSTUDIO_TAGS_MAX); remove some.")  # fmt: skip
    for key, value in tags.items():
        if len(key) > longest or len(value) > longest:
            return (f"Tag {key[:40]!r} is longer than the limit of {longest} characters for a "
                    "tag's name or value (MLSTUDIO_TAG_LENGTH_MAX).")  # fmt: skip
    return None


def string_map(value, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"`{what}` must be a mapping of names to values.")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}
