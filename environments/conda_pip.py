"""Conda package names as pip installs them, for workers without conda, mamba or micromamba.

Most conda-forge packages carry their PyPI name; the table keeps the ones that differ, and
the packages that exist only as conda packages (compilers, system libraries, CUDA), which
fail the build with the two ways out.
"""

from __future__ import annotations

import re
import shutil

from django.conf import settings

CONDA_TO_PYPI = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "torchvision-cpu": "torchvision",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-cpu": "tensorflow",
    "pytables": "tables",
    "opencv": "opencv-python",
    "py-opencv": "opencv-python",
    "pillow-simd": "pillow",
    "matplotlib-base": "matplotlib",
    "pyyaml": "PyYAML",
    "libblas": None,  # numpy's and scipy's wheels carry their BLAS
    "blas": None,
    "pip": None,  # pip is there already
}
CONDA_ONLY = frozenset({
    "cudatoolkit", "cudnn", "cuda", "cuda-toolkit", "nccl", "libgomp", "libgcc", "libgcc-ng",
    "libstdcxx-ng", "gcc", "gxx", "gcc_linux-64", "gxx_linux-64", "gfortran", "openmpi", "mpich",
    "r-base", "r", "ffmpeg", "graphviz", "openjdk", "nodejs", "cmake", "make", "libffi", "openssl",
    "cpuonly", "magma-cuda110", "magma-cuda113",
})  # fmt: skip
SPEC = re.compile(r"^(?:[\w.-]+::)?([A-Za-z0-9][\w.-]*)\s*(.*)$")


class CondaOnlyPackage(ValueError):
    def __init__(self, package: str):
        super().__init__(package)
        self.package = package


def conda_tool() -> str | None:
    """conda, mamba or micromamba: MLSTUDIO_CONDA names one, else the first on PATH."""
    named = getattr(settings, "MLSTUDIO_CONDA", "")
    if named:
        return shutil.which(named)
    return shutil.which("micromamba") or shutil.which("mamba") or shutil.which("conda")


def pip_requirement(conda_spec: str) -> str | None:
    """The pip requirement for one conda package spec (`numpy=1.26` -> `numpy==1.26.*`),
    None when pip needs nothing; CondaOnlyPackage for a package pip cannot install."""
    match = SPEC.match(conda_spec.strip())
    if not match:
        raise CondaOnlyPackage(conda_spec)
    name = match.group(1).lower()
    if name in CONDA_ONLY or name.startswith(("cuda-", "libcu", "libnv")):
        raise CondaOnlyPackage(conda_spec)
    if name == "python":
        return None  # python_version decides the interpreter
    pypi = CONDA_TO_PYPI.get(name, name)
    if pypi is None:
        return None
    return pypi + _pip_version(match.group(2).strip())


def _pip_version(version: str) -> str:
    """conda's `=1.2` means 1.2.anything, `==1.2` exactly 1.2; comparisons stay."""
    if not version:
        return ""
    if version.startswith("=="):
        return version
    if version.startswith("="):
        return f"=={version[1:]}" if "*" in version else f"=={version[1:]}.*"
    return version if version[0] in "<>!~" else f"=={version}"


def pip_requirements(conda_packages: list[str]) -> tuple[list[str], list[str]]:
    """(pip requirements, conda specs pip cannot serve)."""
    lines, conda_only = [], []
    for spec in conda_packages:
        try:
            line = pip_requirement(spec)
        except CondaOnlyPackage:
            conda_only.append(spec)
            continue
        if line:
            lines.append(line)
    return lines, conda_only
