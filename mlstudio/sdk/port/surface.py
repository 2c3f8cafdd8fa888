"""What of v1's documented surface (inventory.json) the SDK has: each member supported,
accepted-and-ignored (the class or function lists it in `_v1_ignored`) or missing, and which
of its parameters the SDK's signature does not take."""

from __future__ import annotations

import functools
import importlib
import inspect
import re

from mlstudio.sdk._surface import inventory

SUPPORTED, IGNORED, MISSING = "supported", "accepted-and-ignored", "missing"


def sdk_module_name(v1_module: str) -> str:
    if v1_module == "azureml.core" or v1_module.startswith("azureml.core."):
        return "mlstudio.sdk" + v1_module[len("azureml.core") :]
    return "mlstudio.sdk" + v1_module[len("azureml") :]


@functools.cache
def sdk_module(v1_module: str):
    try:
        return importlib.import_module(sdk_module_name(v1_module))
    except ImportError:
        return None


def sdk_object(v1_module: str, name: str):
    """The SDK's class or function for a v1 name, or None."""
    module = sdk_module(v1_module)
    if module is None:
        return None
    try:
        return getattr(module, name)
    except (AttributeError, NotImplementedError):
        return None


@functools.cache
def _sources(cls: type) -> str:
    parts = []
    for klass in cls.__mro__:
        try:
            parts.append(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
    return "\n".join(parts)


def has_member(cls: type, name: str) -> bool:
    """Defined on the class, or assigned to self in its code (instance attributes)."""
    if any(name in klass.__dict__ for klass in cls.__mro__):
        return True
    return re.search(rf"self\.{re.escape(name)}\s*(:[^=\n]+)?=[^=]", _sources(cls)) is not None


def _ignored(owner) -> frozenset:
    return frozenset(getattr(owner, "_v1_ignored", ()))


def missing_parameters(function, wanted: list[str]) -> list[str]:
    """v1 parameter names (public ones) the SDK callable does not take."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    return [
        name
        for name in wanted
        if not name.startswith(("_", "*")) and name != "self" and name not in parameters
    ]


def member_status(cls, member: str, params: list[str] | None) -> tuple[str, list[str]]:
    if cls is None or not has_member(cls, member):
        return MISSING, []
    if member in _ignored(cls) or getattr(cls, "_v1_ignores_all", False):
        return IGNORED, []
    if params is None:
        return SUPPORTED, []
    function = getattr(cls, member, None)
    return SUPPORTED, missing_parameters(function, params) if callable(function) else []


def class_report(name: str) -> dict:
    info = inventory()["classes"][name]
    cls = sdk_object(info["module"], name)
    members = {}
    for member, params in info["members"].items():
        status, lacking = member_status(cls, member, params)
        members[member] = {"status": status, "missing_parameters": lacking}
    return {"module": info["module"], "present": cls is not None, "members": members}


def function_report(qualified: str, params: list[str] | None) -> dict:
    module, name = qualified.rsplit(".", 1)
    function = sdk_object(module, name)
    if function is None:
        return {"status": MISSING, "missing_parameters": []}
    if getattr(function, "_v1_ignored", False):
        return {"status": IGNORED, "missing_parameters": []}
    lacking = missing_parameters(function, params) if params and callable(function) else []
    return {"status": SUPPORTED, "missing_parameters": lacking}


def full_report() -> dict:
    data = inventory()
    return {
        "classes": {name: class_report(name) for name in data["classes"]},
        "functions": {q: function_report(q, p) for q, p in data["functions"].items()},
    }
