"""A run that fills the data folder (a small tmpfs here) ends Failed saying so, its working
folder is freed, the studio stays up, and an upload meanwhile gets 507."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from mlstudio.sdk import Experiment, ScriptRunConfig
from tests.faults.studio import fault_table_add, running_studio, wait_final, write_script
from tests.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FILLER = """
print("filling the disk", flush=True)
with open("outputs/filler.bin", "wb") as out:
    while True:
        out.write(b"x" * (1024 * 1024))
"""


@pytest.fixture
def small_data_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for the data folder needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(folder)], check=True)
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def _put_blob(studio, data: bytes) -> int:
    sha = hashlib.sha256(data).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{studio.port}/api/workspaces/default/blobs/{sha}", data=data,
        method="PUT", headers={"Authorization": f"Bearer {studio.token}"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        assert "no space left on the data folder" in error.read().decode()
        return error.code


def test_it_contains_a_full_data_folder(tmp_path, small_data_folder):
    source = write_script(tmp_path / "src", FILLER)
    with running_studio(tmp_path) as studio:
        run = Experiment(studio.ws, "faults").submit(
            ScriptRunConfig(source_directory=source, script="train.py")
        )
        submitted = time.monotonic()
        assert wait_final([run], timeout=120) == ["Failed"]
        detail = run.get_details()["statusDetail"]
        assert detail.startswith("no space left on the data folder ("), detail
        workdir = small_data_folder / "work" / run.id
        wait_until(lambda: not workdir.exists(), 20, "the run's working folder to be freed")
        assert _put_blob(studio, os.urandom(120 * 1024 * 1024)) == 507
        assert studio.process.poll() is None
        fault_table_add("disk full on the data folder (Failed, named; upload 507)", since=submitted)
