"""The Data pages in Chromium: the list, a dataset's preview, the datastore's file browser."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.data.test_pages import iris  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_reader_browses_data(signed_in, server, iris):  # noqa: F811
    page = signed_in
    page.goto(f"{server}/w/lab/data/")
    page.click("text=iris")
    page.wait_for_selector("#preview")
    assert page.locator("#preview tbody tr").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "data-dataset.png"), full_page=True)
    page.click("text=Data")
    page.click("text=workspaceblobstore")
    page.click("text=iris/")
    assert page.locator("#browser").text_content().count("a.csv") == 1
    page.screenshot(path=str(ARTIFACTS / "data-datastore.png"), full_page=True)
