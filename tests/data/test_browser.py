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


def test_a_contributor_uploads_a_folder_from_the_browser(signed_in, server, tmp_path):
    folder = tmp_path / "mnist"
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "images.bin").write_bytes(b"\x01" * 300_000)
    (folder / "labels.csv").write_text("id,label\n1,7\n")
    page = signed_in
    page.goto(f"{server}/w/lab/data/")
    page.click("text=workspaceblobstore")
    page.set_input_files("#upload-folder", str(folder))
    page.wait_for_selector("#upload-summary:has-text('2 files')")
    page.fill("#upload-target", "../escape")
    page.click("#upload-button")
    error = page.wait_for_selector("#upload-error:not([hidden])")
    assert ".." in error.text_content()
    assert "Nothing was put in the datastore." in page.text_content("#upload-summary")

    page.fill("#upload-target", "mnist")
    page.click("#upload-button")
    page.wait_for_selector("#upload-result")
    assert page.text_content("#upload-result") == "Uploaded: 2 files written, 293.0\xa0KB sent."
    assert "2 files under /mnist/" in page.text_content("main")
    page.click("#browser >> text=train/")
    assert "images.bin" in page.text_content("#browser")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "data-upload.png"), full_page=True)

    # The same folder again: nothing is sent, the files that are there stay as they were.
    page.goto(f"{server}/w/lab/data/")
    page.click("text=workspaceblobstore")
    page.set_input_files("#upload-folder", str(folder))
    page.fill("#upload-target", "mnist")
    page.click("#upload-button")
    page.wait_for_selector("#upload-result")
    assert page.text_content("#upload-result").startswith(
        "Uploaded: 0 files written, 0\xa0bytes sent; 2 kept as they were"
    )


def test_a_reader_gets_no_upload_form(page, server, teammate, workspace):
    from workspaces import services

    page.goto(f"{server}/login/link/{services.login_link_create(user=teammate)}/")
    page.wait_for_selector("text=Workspaces")
    page.goto(f"{server}/w/lab/data/")
    page.click("text=workspaceblobstore")
    page.wait_for_selector("#browser")
    assert page.locator("#datastore-upload").count() == 0
