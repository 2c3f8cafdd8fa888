"""An environment's spec: normalized and validated before anything is stored, hashed over what
affects a build, and turned into the Dockerfile its image is built from.

Pure functions on plain dicts; no models here, so the data migration can use them too.

The normalized spec is what a version keeps, forever:

    {"name": str,
     "python": {"user_managed_dependencies": bool, "interpreter_path": str | None,
                "conda_dependencies": {"python_version": str | None, "channels": [str],
                                       "conda_packages": [str], "pip_packages": [str]}},
     "docker": {"enabled": bool, "base_image": str | None, "base_dockerfile": str | None,
                "base_image_registry": {"address": str | None, "username": str | None},
                "shm_size": str | None, "arguments": [str]},
     "environment_variables": {str: str}}

Requirements text (`python.pip_requirements`) is folded into the pip packages, so a spec
made from a requirements file and one made from a package list are the same spec. The
registry password never enters the spec: it travels beside it and is stored encrypted.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field

from django.conf import settings

from environments.dockerfiles import check_dockerfile
from mlstudio.errors import UserError

RESERVED_PREFIX = "MLStudio-"
NAME_RULE = re.compile(r"^[A-Za-z0-9][\w.\-]{0,254}$")
IMAGE_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:@]{0,511}$")
ADDRESS_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*(:\d{1,5})?(/[A-Za-z0-9._\-/]*)?$")
ENV_NAME_RULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SHM_RULE = re.compile(r"^\d+(\.\d+)?([kmg]b?|b)?$")
PYTHON_VERSION_RULE = re.compile(r"^3(\.\d{1,2}){0,2}$")

# Where the image's managed Python lives when MLStudio installs packages into it.
IMAGE_ENV = "/opt/mlstudio/env"
IMAGE_CONTEXT = "/tmp/mlstudio"  # noqa: S108 - a path inside the image, not on this host
# Bump when the way a spec is built changes, so cached builds of the old way are not reused.
BUILDER_FORMAT = 1

KNOWN = {
    "": {"name", "version", "python", "docker", "environment_variables"},
    "python": {
        "user_managed_dependencies",
        "interpreter_path",
        "conda_dependencies",
        "pip_requirements",
    },
    "python.conda_dependencies": {
        "name",
        "python_version",
        "channels",
        "conda_packages",
        "pip_packages",
    },
    "docker": {
        "enabled",
        "base_image",
        "base_dockerfile",
        "base_image_registry",
        "shm_size",
        "arguments",
    },
    "docker.base_image_registry": {"address", "username", "password"},
}


@dataclass(frozen=True)
class Normalized:
    """A checked spec, the registry password given with it (None when not given, "" when
    explicitly none) and warnings for the person registering it."""

    spec: dict
    password: str | None = None
    warnings: list[str] = field(default_factory=list)


def normalize(raw, *, curated: bool = False) -> Normalized:
    """Check `raw` (what the SDK or the API sends) and return it in its one canonical form.

    Raises UserError naming the field and the way out on the first problem found.
    """
    if not isinstance(raw, dict):
        raise UserError("An environment spec must be a JSON object with at least a `name`.")
    _known_keys(raw, "")
    name = _name(raw.get("name"), curated=curated)
    warnings: list[str] = []
    python = _python(_section(raw, "python"), name)
    docker, password = _docker(_section(raw, "docker"), name, warnings)
    spec = {
        "name": name,
        "python": python,
        "docker": docker,
        "environment_variables": _variables(raw.get("environment_variables")),
    }
    conda = python["conda_dependencies"]
    if conda["conda_packages"] and not docker["enabled"]:
        warnings.append(
            "Conda packages are installed with conda, mamba or micromamba where the worker "
            "that builds this environment has one, else with pip under their PyPI names; a "
            "package only conda has then fails the build, naming it."
        )
    return Normalized(spec=spec, password=password, warnings=warnings)


def kind_of(spec: dict) -> str:
    """How the environment is provided on a plain (non-docker) target."""
    if spec["docker"]["enabled"]:
        return "docker"
    return "user-managed" if spec["python"]["user_managed_dependencies"] else "virtualenv"


def content_hash(spec: dict) -> str:
    """sha256 over what changes the built result, and nothing else.

    Left out: the name and version (two names for one spec share a build), environment
    variables, shm_size and docker arguments (they apply when a run starts), docker.enabled
    (a virtualenv and an image are cached in different places) and the registry credentials
    (who pulls the base image does not change it; its address does).
    """
    python, docker = spec["python"], spec["docker"]
    build = {
        "format": BUILDER_FORMAT,
        "user_managed_dependencies": python["user_managed_dependencies"],
        "interpreter_path": python["interpreter_path"],
        "conda_dependencies": python["conda_dependencies"],
        "base_image": docker["base_image"],
        "base_dockerfile": docker["base_dockerfile"],
        "registry_address": docker["base_image_registry"]["address"],
    }
    return hashlib.sha256(canonical_json(build).encode()).hexdigest()


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def pip_lines(spec: dict) -> list[str]:
    return list(spec["python"]["conda_dependencies"]["pip_packages"])


def requirements_text(spec: dict) -> str:
    lines = pip_lines(spec)
    return "\n".join(lines) + "\n" if lines else ""


def base_image_ref(spec: dict) -> str | None:
    """The image to start from, with the registry address in front when the name lacks it
    (azureml's base_image_registry.address + base_image)."""
    docker = spec["docker"]
    image, address = docker["base_image"], docker["base_image_registry"]["address"]
    if image and address and not image.startswith(address.rstrip("/") + "/"):
        return f"{address.rstrip('/')}/{image}"
    return image


def image_python(spec: dict) -> str:
    """The interpreter a run uses inside the environment's image."""
    if installs_into_image(spec):
        return f"{IMAGE_ENV}/bin/python"
    return spec["python"]["interpreter_path"] or "python3"


def installs_into_image(spec: dict) -> bool:
    """An image gets MLStudio's own Python environment only when there is something to install;
    otherwise a run uses the image's Python as it is."""
    python = spec["python"]
    conda = python["conda_dependencies"]
    return not python["user_managed_dependencies"] and bool(
        conda["pip_packages"] or conda["conda_packages"]
    )


def dockerfile_for(spec: dict, *, preamble: str = "") -> str:
    """The Dockerfile of the environment's image: the user's Dockerfile or `FROM base_image`,
    then, unless dependencies are user-managed, a clean Python environment with the packages.

    The build context holds `mlstudio/requirements.txt`. `preamble` (the host's pip settings,
    from environments.docker) goes right before the install steps.
    """
    docker = spec["docker"]
    head = (docker["base_dockerfile"] or f"FROM {base_image_ref(spec)}").rstrip("\n")
    if not installs_into_image(spec):
        return head + "\n"
    conda = spec["python"]["conda_dependencies"]
    steps = [head, ""]
    if preamble:
        steps.append(preamble.rstrip("\n"))
    steps += ["# MLStudio: the environment's own Python and its packages"]
    steps.append(f"COPY mlstudio/ {IMAGE_CONTEXT}/")
    if conda["conda_packages"]:
        steps.append(_conda_step(conda))
    else:
        steps.append(f"RUN python3 -m venv {IMAGE_ENV}")
    if conda["pip_packages"]:
        steps.append(
            f"RUN {IMAGE_ENV}/bin/python -m pip install --no-cache-dir "
            f"--disable-pip-version-check --no-input -r {IMAGE_CONTEXT}/requirements.txt"
        )
    return "\n".join(steps) + "\n"


def _conda_step(conda: dict) -> str:
    python = f"python={conda['python_version']}" if conda["python_version"] else "python=3"
    words = [f"-c {shlex.quote(c)}" for c in conda["channels"]]
    words += [shlex.quote(p) for p in [python, "pip", *conda["conda_packages"]]]
    missing = (
        "MLStudio: this environment lists conda packages, but the base image has neither "
        "micromamba nor conda. Use a base image that has one, or move the packages to pip."
    )
    return (
        'RUN CONDA="$(command -v micromamba || command -v conda || true)"; '
        f'if [ -z "$CONDA" ]; then echo {shlex.quote(missing)} >&2; exit 1; fi; '
        f'"$CONDA" create -y -p {IMAGE_ENV} {" ".join(words)}'
    )


# --- the checks ------------------------------------------------------------------------------


def _known_keys(section: dict, where: str) -> None:
    unknown = sorted(set(section) - KNOWN[where])
    if unknown:
        label = f"`{where}`" if where else "an environment spec"
        raise UserError(
            f"Unknown field(s) {', '.join(map(repr, unknown))} in {label}; known fields: "
            f"{', '.join(sorted(KNOWN[where]))}."
        )


def _section(raw: dict, where: str) -> dict:
    value = raw.get(where.rsplit(".", 1)[-1])
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"`{where}` must be an object, not {type(value).__name__}.")
    _known_keys(value, where)
    return value


def _name(value, *, curated: bool) -> str:
    if not isinstance(value, str) or not NAME_RULE.match(value):
        raise UserError(
            f"Invalid environment name {value!r}: start with a letter or digit, then use "
            "letters, digits, '.', '_' or '-' (at most 255 characters)."
        )
    if not curated and value.lower().startswith(RESERVED_PREFIX.lower()):
        raise UserError(
            f"Environment names starting with {RESERVED_PREFIX!r} are reserved for the curated "
            f"environments that ship with MLStudio; pick another name for {value!r}. To start "
            "from a curated one, Environment.get() it and register a copy under your own name."
        )
    return value


def _flag(value, where: str, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise UserError(f"`{where}` must be true or false, not {value!r}.")
    return value


def _text(value, where: str, *, multiline: bool = False, limit: int = 4096) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UserError(f"`{where}` must be a string, not {type(value).__name__}.")
    if not value.strip():
        return None
    if (not multiline and ("\n" in value or "\r" in value)) or "\x00" in value:
        raise UserError(f"`{where}` must be a single line of text.")
    if len(value) > limit:
        raise UserError(f"`{where}` is {len(value)} characters long; the limit is {limit}.")
    return value if multiline else value.strip() or None


def _strings(value, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise UserError(f"`{where}` must be a list of strings, e.g. ['numpy==2.1.0'].")
    out: list[str] = []
    for position, item in enumerate(value):
        text = _text(item, f"{where}[{position}]", limit=1024)
        if text is None:
            raise UserError(f"`{where}[{position}]` is empty; remove it.")
        if text not in out:
            out.append(text)
    return out


def _python(section: dict, name: str) -> dict:
    where = "python.conda_dependencies"
    conda = section.get("conda_dependencies") or {}
    if not isinstance(conda, dict):
        raise UserError(f"`{where}` must be an object (a CondaDependencies).")
    _known_keys(conda, where)
    pip = _strings(conda.get("pip_packages"), f"{where}.pip_packages")
    for line in _requirement_lines(section.get("pip_requirements")):
        if line not in pip:
            pip.append(line)
    for line in pip:
        _check_pip_line(line)
    version = _text(conda.get("python_version"), f"{where}.python_version")
    if version is not None and not PYTHON_VERSION_RULE.match(version):
        raise UserError(
            f"`{where}.python_version` {version!r} is not a Python 3 version like 3.11."
        )
    python = {
        "user_managed_dependencies": _flag(
            section.get("user_managed_dependencies"), "python.user_managed_dependencies"
        ),
        "interpreter_path": _text(section.get("interpreter_path"), "python.interpreter_path"),
        "conda_dependencies": {
            "python_version": version,
            "channels": _strings(conda.get("channels"), f"{where}.channels"),
            "conda_packages": _strings(conda.get("conda_packages"), f"{where}.conda_packages"),
            "pip_packages": pip,
        },
    }
    packages = python["conda_dependencies"]
    if python["user_managed_dependencies"] and (
        packages["pip_packages"] or packages["conda_packages"]
    ):
        listed = [*packages["pip_packages"], *packages["conda_packages"]]
        raise UserError(
            f"Environment {name!r} has python.user_managed_dependencies = True and also lists "
            f"packages ({', '.join(listed[:5])}{', …' if len(listed) > 5 else ''}). With "
            "user-managed dependencies MLStudio installs nothing, so those packages would be "
            "silently ignored (azureml only warned). Either set user_managed_dependencies = "
            "False to have MLStudio install them, or remove them and install them in your "
            "interpreter or image yourself."
        )
    return python


def _requirement_lines(text) -> list[str]:
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise UserError("`python.pip_requirements` must be the text of a requirements file.")
    lines = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            lines.append(line)
    return lines


def _check_pip_line(line: str) -> None:
    first = line.split()[0]
    if first in ("-r", "--requirement", "-c", "--constraint") or first.startswith(
        ("--requirement=", "--constraint=")
    ):
        raise UserError(
            f"Pip line {line!r} refers to another file, which is not sent with the environment. "
            "Put that file's lines in the requirements instead."
        )


def _docker(section: dict, name: str, warnings: list[str]) -> tuple[dict, str | None]:
    image = _text(section.get("base_image"), "docker.base_image", limit=512)
    dockerfile = _text(
        section.get("base_dockerfile"), "docker.base_dockerfile", multiline=True, limit=100_000
    )
    enabled = _flag(section.get("enabled"), "docker.enabled")
    default = settings.MLSTUDIO_DEFAULT_BASE_IMAGE
    if dockerfile and image == default:
        image = None  # a fetched spec carries the default image; a Dockerfile replaces it
    if image and dockerfile:
        raise UserError(
            f"Environment {name!r} sets both docker.base_image ({image!r}) and "
            "docker.base_dockerfile; the image is defined by one of them. Set "
            "docker.base_image = None when you give a Dockerfile."
        )
    if image is not None and not IMAGE_RULE.match(image):
        raise UserError(
            f"docker.base_image {image!r} is not an image reference like "
            "'python:3.11-slim' or 'myregistry.example.com/team/image:tag'."
        )
    if dockerfile is not None:
        check_dockerfile(dockerfile)
    if (dockerfile or image not in (None, default)) and not enabled:
        warnings.append(
            "docker.enabled is False, so the Docker section is used only when the run goes to a "
            "docker compute target; set docker.enabled = True to always run in the image."
        )
    if image is None and dockerfile is None:
        image = default
    registry, password = _registry(section.get("base_image_registry"))
    docker = {
        "enabled": enabled,
        "base_image": image,
        "base_dockerfile": dockerfile,
        "base_image_registry": registry,
        "shm_size": shm_size_clean(section.get("shm_size")),
        "arguments": _docker_arguments(section.get("arguments")),
    }
    return docker, password


def _docker_arguments(value) -> list[str]:
    from environments.containers import validate_arguments

    return validate_arguments(_strings(value, "docker.arguments"))


def _registry(value) -> tuple[dict, str | None]:
    where = "docker.base_image_registry"
    if value is None:
        return {"address": None, "username": None}, None
    if not isinstance(value, dict):
        raise UserError(f"`{where}` must be an object with address, username and password.")
    _known_keys(value, where)
    address = _text(value.get("address"), f"{where}.address", limit=512)
    username = _text(value.get("username"), f"{where}.username", limit=512)
    password = value.get("password")
    if password is not None and not isinstance(password, str):
        raise UserError(f"`{where}.password` must be a string.")
    if address is not None:
        address = re.sub(r"^https?://", "", address).rstrip("/")
        if not ADDRESS_RULE.match(address):
            raise UserError(
                f"`{where}.address` {address!r} is not a registry address like "
                "'myregistry.azurecr.io' or 'localhost:5000'."
            )
    if (username or password) and address is None:
        raise UserError(
            f"`{where}` has a username or password but no address; set "
            f"{where}.address to the registry's host name, e.g. 'myregistry.azurecr.io'."
        )
    if password and not username:
        raise UserError(f"`{where}` has a password but no username; set both.")
    return {"address": address, "username": username}, password


def shm_size_clean(value) -> str | None:
    """docker.shm_size as the engine takes it: bytes, or a number with a unit ("2g")."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    text = value.strip().lower().replace(" ", "") if isinstance(value, str) else ""
    if not SHM_RULE.match(text):
        raise UserError(
            f"docker.shm_size {value!r} is not a size; use a number with an optional unit, "
            "e.g. '2g', '512m' or 1073741824 (bytes)."
        )
    return text


def _variables(value) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError("`environment_variables` must be a mapping of names to string values.")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not ENV_NAME_RULE.match(key):
            raise UserError(
                f"Environment variable name {key!r} is not valid; use letters, digits and '_', "
                "not starting with a digit."
            )
        if not isinstance(item, str):
            raise UserError(
                f"Environment variable {key} is {item!r} (a {type(item).__name__}); values must "
                f"be strings, e.g. {key}={str(item)!r}."
            )
        if "\x00" in item:
            raise UserError(f"Environment variable {key} contains a NUL character.")
        out[key] = item
    return out
