"""What a submitted run asks for (a ScriptRunConfig), validated before anything is stored."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from compute.queues import LOCAL_TARGET, target_queue
from mlstudio.errors import NotFound, UserError
from mlstudio.paths import clean_relative_path

DEFAULT_MAX_RUN_DURATION = 30 * 24 * 3600
KNOWN_TARGETS = (LOCAL_TARGET,)


@dataclass
class RunConfig:
    script: str | None = None
    command: list[str] | None = None
    arguments: list[str] = field(default_factory=list)
    compute_target: str = LOCAL_TARGET
    interpreter_path: str | None = None
    environment_name: str | None = None
    environment_variables: dict[str, str] = field(default_factory=dict)
    max_run_duration_seconds: int = DEFAULT_MAX_RUN_DURATION
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    display_name: str = ""

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
            tags=string_map(raw.get("tags"), "tags"),
            properties=string_map(raw.get("properties"), "properties"),
            display_name=str(raw.get("display_name") or "")[:255],
        )
        config._read_environment(raw.get("environment"), raw.get("environment_variables"))
        return config

    def _read_environment(self, environment, run_variables) -> None:
        environment = environment or {}
        if not isinstance(environment, dict):
            raise UserError("`environment` must be an Environment or its JSON spec.")
        if environment.get("version"):
            # A version names a registered environment; none is registered until the
            # environment registry exists, so any such reference is unknown.
            raise NotFound(
                f"Environment {environment.get('name')!r} version {environment['version']!r} is "
                "not registered in this workspace. Pass an unregistered Environment (it is "
                "used as given) or register it first."
            )
        python = environment.get("python") or {}
        if python and not python.get("user_managed_dependencies", True):
            raise UserError(
                f"Environment {environment.get('name')!r} asks MLStudio to build its Python "
                "packages; this studio version runs user-managed environments only. Set "
                "python.user_managed_dependencies = True and install the packages yourself."
            )
        self.environment_name = environment.get("name") or None
        self.interpreter_path = python.get("interpreter_path") or None
        self.environment_variables = {
            **string_map(environment.get("environment_variables"), "environment_variables"),
            **string_map(run_variables, "environment_variables"),
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
        return {
            "script": self.script,
            "command": self.command,
            "arguments": self.arguments,
            "compute_target": self.compute_target,
            "queue": target_queue(self.compute_target),
            "environment": {
                "name": self.environment_name,
                "python": {
                    "user_managed_dependencies": True,
                    "interpreter_path": self.interpreter_path,
                },
            },
            "environment_variables": self.environment_variables,
            "max_run_duration_seconds": self.max_run_duration_seconds,
        }


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
    name = raw or LOCAL_TARGET
    if name not in KNOWN_TARGETS:
        raise NotFound(f"Unknown compute target {name!r}. Available: {', '.join(KNOWN_TARGETS)}.")
    return name


def _duration(raw) -> int:
    if raw is None:
        return DEFAULT_MAX_RUN_DURATION
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise UserError(
            f"max_run_duration_seconds must be a positive whole number of seconds, not {raw!r}."
        )
    return raw


def string_map(value, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"`{what}` must be a mapping of names to values.")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}
