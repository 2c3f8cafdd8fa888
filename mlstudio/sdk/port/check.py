"""Find, in ported source, the v1 calls the SDK does not support: imports of missing names or
modules, calls of missing members on v1 objects, and keywords the SDK's signature lacks.

Objects are followed through simple assignments: `ws = Workspace.from_config()` makes `ws` a
Workspace, `run = exp.submit(...)` a Run (RETURNS), so `ws.list_keys()` is found too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from mlstudio.sdk._surface import inventory, v1_module
from mlstudio.sdk.port import parse
from mlstudio.sdk.port.surface import (
    MISSING,
    has_member,
    member_status,
    sdk_module,
    sdk_object,
)

# What a v1 call returns, when it is another class than its owner's.
RETURNS = {
    ("Experiment", "submit"): "Run",
    ("Experiment", "start_logging"): "Run",
    ("Run", "get_context"): "Run",
    ("Run", "child_run"): "Run",
    ("Workspace", "get_run"): "Run",
    ("Run", "get_environment"): "Environment",
    ("ComputeTarget", "create"): "ComputeTarget",
    ("AmlCompute", "create"): "AmlCompute",
    ("ComputeTarget", "attach"): "ComputeTarget",
    ("AmlCompute", "provisioning_configuration"): None,
    ("Environment", "register"): "Environment",
}


@dataclass(frozen=True)
class Finding:
    line: int
    call: str
    why: str


class _Checker(ast.NodeVisitor):
    def __init__(self):
        self.classes: dict[str, str] = {}  # local name -> v1 class name
        self.types: dict[str, str] = {}  # variable -> v1 class name
        self.findings: list[Finding] = []
        self.known = inventory()["classes"]

    def report(self, node, call: str, why: str) -> None:
        self.findings.append(Finding(node.lineno, call, why))

    # --- imports --------------------------------------------------------------------------
    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module == "mlstudio.sdk" or module.startswith("mlstudio.sdk."):
            v1 = v1_module(module)
            if sdk_module(v1) is None:
                self.report(node, v1, "module not in MLStudio's SDK")
                return
            for alias in node.names:
                self._import_name(node, v1, alias)
        self.generic_visit(node)

    def _import_name(self, node, v1: str, alias: ast.alias) -> None:
        if sdk_object(v1, alias.name) is None and not _is_submodule(v1, alias.name):
            self.report(node, f"{v1}.{alias.name}", "not in MLStudio's SDK")
        elif alias.name in self.known:
            self.classes[alias.asname or alias.name] = alias.name

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith("mlstudio.sdk.") and sdk_module(v1_module(alias.name)) is None:
                self.report(node, v1_module(alias.name), "module not in MLStudio's SDK")

    # --- objects --------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        kind = self._type_of(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if kind:
                    self.types[target.id] = kind
                else:
                    self.types.pop(target.id, None)

    def _type_of(self, value) -> str | None:
        if not isinstance(value, ast.Call):
            return None
        func = value.func
        if isinstance(func, ast.Name):
            return self.classes.get(func.id)
        if isinstance(func, ast.Attribute):
            owner = self._owner(func.value)
            if owner:
                return RETURNS.get((owner, func.attr), owner)
        return None

    def _owner(self, node) -> str | None:
        if isinstance(node, ast.Name):
            return self.classes.get(node.id) or self.types.get(node.id)
        return self._type_of(node)  # Experiment(ws, name).submit(...)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.classes:
            self._check_member(node, self.classes[func.id], "__init__", node.keywords)
        elif isinstance(func, ast.Attribute):
            owner = self._owner(func.value)
            if owner:
                self._check_member(node, owner, func.attr, node.keywords)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.generic_visit(node)
        owner = self._owner(node.value)
        if owner and isinstance(node.ctx, ast.Load):
            members = self.known[owner]["members"]
            cls = sdk_object(self.known[owner]["module"], owner)
            if node.attr in members and (cls is None or not has_member(cls, node.attr)):
                self._add(node, f"{owner}.{node.attr}", "not in MLStudio's SDK")

    def _check_member(self, node, owner: str, member: str, keywords) -> None:
        info = self.known[owner]
        params = info["members"].get(member)
        if member not in info["members"]:
            return
        cls = sdk_object(info["module"], owner)
        status, _ = member_status(cls, member, params)
        if status == MISSING:
            self._add(node, f"{owner}.{member}", "not in MLStudio's SDK")
            return
        _, lacking = member_status(cls, member, [k.arg for k in keywords if k.arg])
        for name in lacking:
            self._add(node, f"{owner}.{member}({name}=...)", "parameter not taken")

    def _add(self, node, call: str, why: str) -> None:
        finding = Finding(node.lineno, call, why)
        if finding not in self.findings:
            self.findings.append(finding)


def _is_submodule(v1: str, name: str) -> bool:
    return sdk_module(f"{v1}.{name}") is not None


def unsupported_calls(source: str) -> list[Finding]:
    """The v1 calls of (already ported) `source` that MLStudio does not support, in order."""
    checker = _Checker()
    checker.visit(parse(source))
    return sorted(set(checker.findings), key=lambda f: (f.line, f.call))
