"""Python dependencies of an environment, as azureml.core.conda_dependencies:

    from mlstudio.sdk.conda_dependencies import CondaDependencies
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["scikit-learn==1.9.1"], conda_packages=["libgomp"], python_version="3.11")

Pip packages are installed with pip into a clean virtualenv (or the image's environment);
conda packages need conda or micromamba where the environment is built.
"""

from __future__ import annotations

import os
import re

from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.exceptions import UserErrorException

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)")


class CondaDependencies(V1Surface):
    """pip packages, conda packages and channels, and an optional Python version."""

    def __init__(self, conda_dependencies_file_path: str | os.PathLike | None = None):
        self._python_version: str | None = None
        self._channels: list[str] = []
        self._conda: list[str] = []
        self._pip: list[str] = []
        if conda_dependencies_file_path is not None:
            self._read(_read_text(conda_dependencies_file_path, "conda specification"))

    @staticmethod
    def create(
        pip_packages=None,
        conda_packages=None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
        pip_indexurl: str | None = None,
        channels=None,
    ) -> CondaDependencies:
        """A new set of dependencies. Unlike azureml, nothing is added that you did not list
        (`pin_sdk_version` is accepted and ignored: the SDK is made importable in every run)."""
        dependencies = CondaDependencies()
        if python_version is not None:
            dependencies.set_python_version(python_version)
        if pip_indexurl:
            dependencies.set_pip_index_url(pip_indexurl)
        for channel in channels or []:
            dependencies.add_channel(channel)
        for package in conda_packages or []:
            dependencies.add_conda_package(package)
        for package in pip_packages or []:
            dependencies.add_pip_package(package)
        return dependencies

    @staticmethod
    def _from_text(text: str) -> CondaDependencies:
        """From a conda environment file's text."""
        dependencies = CondaDependencies()
        dependencies._read(text)
        return dependencies

    @staticmethod
    def _from_dict(data: dict | None) -> CondaDependencies:
        dependencies = CondaDependencies()
        data = data or {}
        dependencies._python_version = data.get("python_version")
        dependencies._channels = list(data.get("channels") or [])
        dependencies._conda = list(data.get("conda_packages") or [])
        dependencies._pip = list(data.get("pip_packages") or [])
        return dependencies

    def _to_dict(self) -> dict:
        return {
            "python_version": self._python_version,
            "channels": list(self._channels),
            "conda_packages": list(self._conda),
            "pip_packages": list(self._pip),
        }

    @property
    def pip_packages(self) -> list[str]:
        return list(self._pip)

    @property
    def conda_packages(self) -> list[str]:
        return list(self._conda)

    @property
    def conda_channels(self) -> list[str]:
        return list(self._channels)

    def add_pip_package(self, pip_package: str) -> None:
        """Add a package; one of the same name is replaced (a new pin wins)."""
        _replace(self._pip, _checked(pip_package, "pip package"))

    def add_conda_package(self, conda_package: str) -> None:
        _replace(self._conda, _checked(conda_package, "conda package"))

    def add_channel(self, channel: str) -> None:
        channel = _checked(channel, "channel")
        if channel not in self._channels:
            self._channels.append(channel)

    def remove_pip_package(self, pip_package: str) -> None:
        self._pip = [p for p in self._pip if _name(p) != _name(pip_package)]

    def remove_conda_package(self, conda_package: str) -> None:
        self._conda = [p for p in self._conda if _name(p) != _name(conda_package)]

    def remove_channel(self, channel: str) -> None:
        self._channels = [c for c in self._channels if c != channel]

    def set_pip_option(self, pip_option: str) -> None:
        """A pip option line such as '--extra-index-url https://…', placed before packages."""
        option = _checked(pip_option, "pip option")
        if not option.startswith("-"):
            raise UserErrorException(f"Pip option {option!r} must start with '-'.")
        key = option.split()[0].split("=")[0]
        self._pip = [p for p in self._pip if p.split()[0].split("=")[0] != key]
        self._pip.insert(0, option)

    @property
    def pip_options(self) -> list[str]:
        """The pip option lines (set_pip_option, set_pip_index_url), in order."""
        return [line for line in self._pip if line.startswith("-")]

    def add_tensorflow_pip_package(self, core_type: str = "cpu", version: str | None = None):
        """TensorFlow from PyPI. Since TensorFlow 2.1 one `tensorflow` wheel serves CPUs and
        GPUs (v1 added `tensorflow-gpu` for core_type='gpu', which PyPI no longer has)."""
        _core_type(core_type)
        self.add_pip_package(f"tensorflow=={version}" if version else "tensorflow")

    def add_tensorflow_conda_package(self, core_type: str = "cpu", version: str | None = None):
        """TensorFlow as a conda package (`tensorflow-gpu` for core_type='gpu'); workers
        without conda install it with pip as `tensorflow`."""
        name = "tensorflow-gpu" if _core_type(core_type) == "gpu" else "tensorflow"
        self.add_conda_package(f"{name}={version}" if version else name)

    def set_pip_index_url(self, index_url: str) -> None:
        self.set_pip_option(f"--index-url {index_url}")

    def set_python_version(self, version: str) -> None:
        self._python_version = _checked(str(version), "python version")

    def get_python_version(self) -> str | None:
        return self._python_version

    def serialize_to_string(self) -> str:
        """The dependencies as a conda environment file."""
        lines = ["name: project_environment"]
        if self._channels:
            lines += ["channels:", *(f"  - {c}" for c in self._channels)]
        lines.append("dependencies:")
        if self._python_version:
            lines.append(f"  - python={self._python_version}")
        lines += [f"  - {p}" for p in self._conda]
        if self._pip:
            lines += ["  - pip", "  - pip:", *(f"    - {p}" for p in self._pip)]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> str:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.serialize_to_string())
        return os.fspath(path)

    def save_to_file(self, base_directory, conda_file_path: str | None = None) -> str:
        """v1's older save: the file `conda_file_path` (by default .azureml/
        conda_dependencies.yml, or aml_config/ where that folder exists) under
        `base_directory`; returns that path relative to it, with forward slashes."""
        if not conda_file_path:
            folder = (
                "aml_config"
                if os.path.isdir(os.path.join(base_directory, "aml_config"))
                else ".azureml"
            )
            conda_file_path = f"{folder}/conda_dependencies.yml"
        relative = os.fspath(conda_file_path).replace("\\", "/")
        full = os.path.join(os.path.abspath(base_directory), relative)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        self.save(full)
        return relative

    def _read(self, text: str) -> None:
        """A conda environment file: channels, dependencies and their pip list."""
        key, in_pip, pip_indent = None, False, 0
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            item = line.strip()
            if indent == 0 and not item.startswith("-"):
                key, _, rest = item.partition(":")
                in_pip = False
                if rest.strip().startswith("["):
                    values = [v.strip() for v in rest.strip().strip("[]").split(",") if v.strip()]
                    self._read_items(key, values)
                continue
            if not item.startswith("-"):
                continue
            value = item[1:].strip().strip("'\"")
            if in_pip and indent > pip_indent:
                self.add_pip_package(value)
                continue
            in_pip = False
            if key == "dependencies" and value.rstrip(":") == "pip" and value.endswith(":"):
                in_pip, pip_indent = True, indent
                continue
            self._read_items(key, [value])

    def _read_items(self, key: str | None, values: list[str]) -> None:
        for value in values:
            if key == "channels":
                self.add_channel(value)
            elif key == "dependencies":
                name = _name(value)
                if name == "python":
                    version = value[len("python") :].lstrip("=<>~! ")
                    if version:
                        self.set_python_version(version.rstrip(".*"))
                elif name != "pip":  # pip itself is always there
                    self.add_conda_package(value)

    def __repr__(self) -> str:
        return (
            f"CondaDependencies(python_version={self._python_version!r}, "
            f"conda_packages={self._conda!r}, pip_packages={self._pip!r})"
        )


def requirement_lines(text: str, *, base_dir: str | None = None) -> list[str]:
    """The lines of a requirements file that pip acts on; `-r other.txt` is read in, relative
    to `base_dir`, since only the lines travel to the studio."""
    lines: list[str] = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if parts[0] in ("-r", "--requirement") and len(parts) == 2 and base_dir is not None:
            path = os.path.join(base_dir, parts[1].strip())
            nested = _read_text(path, "requirements file")
            lines += requirement_lines(nested, base_dir=os.path.dirname(path))
        else:
            lines.append(line)
    return lines


def _core_type(core_type: str) -> str:
    if core_type not in ("cpu", "gpu"):
        raise UserErrorException(f"core_type must be 'cpu' or 'gpu', not {core_type!r}.")
    return core_type


def _read_text(path, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise UserErrorException(f"Cannot read the {what} {os.fspath(path)!r}: {exc}") from None


def _checked(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise UserErrorException(f"A {what} must be one non-empty line of text, not {value!r}.")
    return value.strip()


def _name(package: str) -> str:
    found = _NAME.match(package)
    return found.group(1).lower().replace("_", "-") if found else package.strip().lower()


def _replace(packages: list[str], package: str) -> None:
    name = _name(package)
    for position, existing in enumerate(packages):
        if not existing.startswith("-") and _name(existing) == name:
            packages[position] = package
            return
    packages.append(package)
