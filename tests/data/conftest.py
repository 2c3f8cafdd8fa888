from __future__ import annotations

import pytest

# The browser test's fixtures: Chromium, the uvicorn server and a signed-in page.
from tests.browser.conftest import chromium, page, server, signed_in  # noqa: F401


@pytest.fixture
def mnist(tmp_path):
    """A small folder as v1's notebooks upload: a few files in two folders."""
    folder = tmp_path / "mnist"
    (folder / "train").mkdir(parents=True)
    (folder / "test").mkdir()
    (folder / "train" / "images.bin").write_bytes(b"\x01" * 5000)
    (folder / "train" / "labels.bin").write_bytes(b"\x02" * 100)
    (folder / "test" / "images.bin").write_bytes(b"\x03" * 3000)
    return folder
