"""v1's `env.build(ws)`: build an environment ahead of its first run.

Environments are built on the worker that runs them and cached there by content hash, so
building ahead means running nothing in it on the target that will use it: a run of
`python -c pass` in the experiment `environment-builds`, tagged with the environment. Its
ImageBuildDetails reads the environment's build log and status, as v1's did.
"""

from __future__ import annotations

import sys
import tempfile
import time

from mlstudio.sdk._http import segment

BUILD_EXPERIMENT = "environment-builds"
POLL_SECONDS = 0.5
FINAL_RUN_STATUSES = ("Completed", "Failed", "Canceled")


def environment_build(environment, workspace, image_build_compute=None) -> ImageBuildDetails:
    """Register `environment` and build it on `image_build_compute` (default: `local`)."""
    from mlstudio.sdk.experiment import Experiment
    from mlstudio.sdk.script_run_config import ScriptRunConfig

    registered = environment.register(workspace)
    target = getattr(image_build_compute, "name", image_build_compute) or "local"
    with tempfile.TemporaryDirectory(prefix="mlstudio-build-") as empty:
        config = ScriptRunConfig(
            source_directory=empty,
            command=["python", "-c", "pass"],
            compute_target=target,
            environment=registered,
        )
        tags = {"mlstudio.environment": f"{registered.name}:{registered.version}"}
        run = Experiment(workspace, BUILD_EXPERIMENT).submit(config, tags=tags)
    return ImageBuildDetails(workspace, registered, run)


class ImageBuildDetails:
    """A build under way: `status`, `get_log()` and `wait_for_completion(show_output=True)`.

    `status` is Queued until a worker takes the build, then the environment's build status
    (Building, Succeeded, Failed); once the build run has ended it is Succeeded exactly when
    that run completed (the environment was built, or found in the worker's cache)."""

    def __init__(self, workspace, environment, run):
        self.workspace = workspace
        self.environment = environment
        self.run = run

    @property
    def _path(self) -> str:
        env = self.environment
        return (
            f"workspaces/{segment(self.workspace.name)}/environments/{segment(env.name)}"
            f"/versions/{segment(env.version)}"
        )

    def _log_from(self, offset: int) -> dict:
        return self.workspace._client.get(f"{self._path}/log?offset={offset}")

    @property
    def status(self) -> str:
        run_status = self.run.get_status()
        if run_status in FINAL_RUN_STATUSES:
            return "Succeeded" if run_status == "Completed" else "Failed"
        build_status = self._log_from(0)["build_status"]
        return "Queued" if build_status == "NotBuilt" else build_status

    def get_log(self) -> str:
        """The environment's build log so far."""
        return self._log_from(0)["text"]

    def wait_for_completion(self, show_output: bool = True) -> ImageBuildDetails:
        """Wait until the build has ended, streaming its log with show_output; returns self.
        A failed build does not raise: `status` says Failed and the log says why."""
        offset = 0
        while True:
            ended = self.run.get_status() in FINAL_RUN_STATUSES
            part = self._log_from(offset)
            if show_output and part["text"]:
                sys.stdout.write(part["text"])
                sys.stdout.flush()
            offset = part["offset"]
            if ended and not part["text"]:
                break
            if not part["text"]:
                time.sleep(POLL_SECONDS)
        if show_output:
            print(f"Image build {self.status}: {self.environment.name} "
                  f"version {self.environment.version}")  # fmt: skip
            if self.status == "Failed":
                print(self._failure())
        return self

    def _failure(self) -> str:
        details = self.run.get_details()
        error = (details.get("error") or {}).get("error") or {}
        return error.get("message") or details.get("statusDetail") or details["status"]

    def __repr__(self) -> str:
        env = self.environment
        return f"ImageBuildDetails(environment={env.name!r}, version={env.version!r})"


class DockerImageDetails(dict):
    """v1's answer to env.get_image_details(ws): a dict with attribute access. `image` is the
    tag the environment's image has once built (mlstudio/env:<hash>), in this studio's
    Docker engines rather than a registry; `image_exist` is True once a docker
    environment's build succeeded."""

    @property
    def image(self) -> str:
        return self["dockerImage"]["name"]

    @property
    def repository(self) -> str:
        return self.image.rsplit(":", 1)[0]

    @property
    def registry(self) -> str | None:
        return self["dockerImage"]["registry"]["address"]

    @property
    def dockerfile(self) -> str:
        return self["dockerfile"]

    @property
    def image_exist(self) -> bool:
        return self["imageExistsInRegistry"]

    @property
    def interpreter_path(self) -> str:
        return self["pythonEnvironment"]["interpreterPath"]

    @property
    def environment_path(self) -> str | None:
        return self["pythonEnvironment"]["condaEnvironmentPath"]


def image_details(environment, workspace) -> DockerImageDetails:
    """The registered version's image (this environment's version, else its latest)."""
    path = (
        f"workspaces/{segment(workspace.name)}/environments/{segment(environment.name)}"
        f"/versions/{segment(environment.version or 'latest')}"
    )
    data = workspace._client.get(path)
    spec = data["spec"]
    python = data["image_python"]
    return DockerImageDetails(
        {
            "imageExistsInRegistry": bool(spec["docker"]["enabled"])
            and data["build_status"] == "Succeeded",
            "dockerImage": {"name": data["image"], "registry": {"address": None}},
            "dockerfile": data["dockerfile"],
            "pythonEnvironment": {
                "interpreterPath": python,
                "condaEnvironmentPath": python.rsplit("/bin/", 1)[0] if "/bin/" in python else None,
            },
        }
    )
