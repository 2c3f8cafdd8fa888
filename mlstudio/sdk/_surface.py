"""v1 calls MLStudio does not support raise NotImplementedError naming the call and what to
use instead, never AttributeError. Which names are v1's comes from the inventory of v1's
documented API (mlstudio/sdk/port/inventory.json); any other missing name is an ordinary
AttributeError, so hasattr(), copy and pickle behave as usual.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

INVENTORY = Path(__file__).resolve().parent / "port" / "inventory.json"
SEE_ALSO = "`python -m mlstudio.sdk.port --inventory` lists what MLStudio supports."


@functools.cache
def inventory() -> dict:
    return json.loads(INVENTORY.read_text(encoding="utf-8"))


def v1_module(sdk_module: str) -> str:
    """The v1 module a mlstudio.sdk module stands for, by the port rule read backwards."""
    rest = sdk_module.removeprefix("mlstudio.sdk").lstrip(".")
    if not rest:
        return "azureml.core"
    first = rest.split(".")[0]
    if first in ("train", "widgets", "telemetry", "tensorboard", "exceptions", "pipeline", "data"):
        return f"azureml.{rest}"
    return f"azureml.core.{rest}"


def unsupported(call: str, key: str | None = None) -> NotImplementedError:
    alternative = inventory()["alternatives"].get(key or call, SEE_ALSO)
    return NotImplementedError(
        f"{call} (Azure ML SDK v1) is not supported by MLStudio. {alternative}"
    )


def module_getattr(sdk_module: str):
    """A module-level __getattr__ for `sdk_module`: NotImplementedError for a v1 name the
    module lacks (a class, function or constant of v1's module)."""
    v1 = v1_module(sdk_module)

    def __getattr__(name: str):
        data = inventory()
        exported = set(data["exports"].get(v1, ()))
        exported |= {c for c, info in data["classes"].items() if info["module"] == v1}
        exported |= {f.rsplit(".", 1)[1] for f in data["functions"] if f.rsplit(".", 1)[0] == v1}
        if name in exported:
            raise unsupported(f"{v1}.{name}", name)
        raise AttributeError(f"module {sdk_module!r} has no attribute {name!r}")

    return __getattr__


def _missing_member(cls: type, name: str) -> NotImplementedError | None:
    if name.startswith("__") or any(name in klass.__dict__ for klass in cls.__mro__):
        return None  # a dunder, or a member that exists and failed inside
    classes = inventory()["classes"]
    for klass in cls.__mro__:
        members = classes.get(klass.__name__, {}).get("members", {})
        if name in members:
            return unsupported(f"{klass.__name__}.{name}")
    return None


class V1Meta(type):
    """Class attributes: `Workspace.create(...)` raises NotImplementedError."""

    def __getattr__(cls, name: str):
        error = _missing_member(cls, name)
        if error is not None:
            raise error
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


class V1Surface(metaclass=V1Meta):
    """Instance attributes: `ws.list_keys()` raises NotImplementedError."""

    def __getattr__(self, name: str):
        error = _missing_member(type(self), name)
        if error is not None:
            raise error
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
