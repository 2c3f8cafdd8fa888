"""The snapshot tests' own file store, and Alice, the owner of workspace lab, over the API."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def store(settings, tmp_path) -> Path:
    """A file store of the test's own, so 'nothing was stored' can be checked on disk."""
    root = tmp_path / "files"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root},
        },
    }
    return root


@pytest.fixture
def alice(owner, workspace, api_as):
    return api_as(owner)
