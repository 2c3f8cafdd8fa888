"""A run's container killed from outside is named as such, never blamed on memory, and keeps
every line its script printed."""

from __future__ import annotations

import subprocess
import time

import pytest
from django.conf import settings

from mlstudio.sdk import Environment, Experiment, ScriptRunConfig
from tests.faults import studio as faults

pytest_plugins = ["tests.docker_fixtures"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_it_names_a_container_killed_from_outside(tmp_path, docker_engine):
    source = faults.counting_script(tmp_path / "src", lines=2000, pause=0.01)
    env = Environment("in-a-container")
    env.docker.enabled = True
    env.docker.base_image = settings.MLSTUDIO_DEFAULT_BASE_IMAGE
    env.python.user_managed_dependencies = True
    with faults.running_studio(tmp_path) as studio:
        config = ScriptRunConfig(source_directory=source, script="train.py", environment=env)
        run = faults.submit_printing(Experiment(studio.ws, "faults"), config, tmp_path, timeout=120)
        container = f"mlstudio-run-{run.id}"
        killed = time.monotonic()
        subprocess.run(["docker", "kill", container], check=True, capture_output=True)
        assert faults.wait_final([run], timeout=60) == ["Failed"]
        hint = run.get_details()["error"]["error"]["hint"]
        assert hint["code"] == "killed", hint
        assert hint["message"].startswith("The container was killed from outside the run")
        faults.assert_no_gap(faults.stored_lines(run, tmp_path))
        faults.fault_table_add(
            "container docker kill mid-run (Failed, named 'killed')", since=killed
        )
