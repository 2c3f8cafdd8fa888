"""Environments, as azureml.core.Environment. This version runs user-managed environments:
the worker's own interpreter or `python.interpreter_path`."""

from __future__ import annotations


class PythonSection:
    def __init__(self):
        self.user_managed_dependencies = False
        self.interpreter_path: str | None = None

    def to_dict(self) -> dict:
        return {
            "user_managed_dependencies": self.user_managed_dependencies,
            "interpreter_path": self.interpreter_path,
        }


class Environment:
    """`Environment(name)` with `.python` and `.environment_variables`."""

    def __init__(self, name: str):
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.environment_variables: dict[str, str] = {}

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "python": self.python.to_dict(),
            "environment_variables": dict(self.environment_variables),
        }

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"
