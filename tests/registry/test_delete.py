"""Deleting model versions from the model page and from the admin: owners only, through the
registry's service, keeping every blob a run or another version still uses."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage

from registry import services
from registry.models import ModelVersion, RegisteredModel
from runs import store
from runs.blobs import blob_name
from runs.models import Blob

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_versions(trained, owner):
    """clf:1 is the folder model/; clf:2 is the same folder plus notes: they share blobs."""
    first = services.model_register_from_run(
        run=trained, user=owner, name="clf", model_path="outputs/model/"
    )
    second = services.model_register_from_run(
        run=trained, user=owner, name="clf", model_path="outputs/"
    )
    return first, second


def _stored(sha: str) -> bool:
    return Blob.objects.filter(sha256=sha).exists() and default_storage.exists(
        blob_name(sha256=sha)
    )


def test_an_owner_deletes_a_version_from_its_page_keeping_shared_blobs(
    logged_in, two_versions, owner, trained
):
    first, second = two_versions
    page = logged_in(owner).get("/w/lab/models/clf/2/").content.decode()
    assert "Delete version 2" in page and page.count('name="confirm"') == 1
    assert "<title>clf:2 · Models · MLStudio</title>" in page
    answer = logged_in(owner).post("/w/lab/models/clf/2/delete/", {"confirm": "clf:2"}, follow=True)
    assert answer.redirect_chain[-1][0] == "/w/lab/models/clf/"
    assert "Deleted model clf:2" in answer.content.decode()
    assert list(ModelVersion.objects.values_list("version", flat=True)) == [1]
    only_second = {e["sha256"] for e in second.manifest} - {e["sha256"] for e in first.manifest}
    for entry in first.manifest:
        assert _stored(entry["sha256"]), entry["path"]
    # The run still has its own copy of every file: the run's outputs are untouched.
    assert store.run_file(trained.pk, "outputs/notes.txt").read_bytes() == b"notes"
    assert only_second  # notes.txt and model.pkl were in the second version alone
    for sha in only_second:
        assert not _stored(sha)


def test_deleting_the_last_version_goes_back_to_the_models_list(logged_in, trained, owner):
    services.model_register_from_run(run=trained, user=owner, name="w", model_path="outputs/")
    answer = logged_in(owner).post("/w/lab/models/w/1/delete/", {"confirm": "w:1"})
    assert answer.status_code == 302 and answer["Location"] == "/w/lab/models/"
    assert not RegisteredModel.objects.exists()


def test_contributors_readers_and_a_wrong_confirmation_delete_nothing(
    logged_in, two_versions, owner, contributor, teammate, stranger
):
    for user, status in ((contributor, 403), (teammate, 403), (stranger, 404)):
        answer = logged_in(user).post("/w/lab/models/clf/1/delete/", {"confirm": "clf:1"})
        assert answer.status_code == status, user.username
        page = logged_in(user).get("/w/lab/models/clf/1/")
        assert "Delete version" not in page.content.decode()
    typo = logged_in(owner).post("/w/lab/models/clf/1/delete/", {"confirm": "clf:2"}, follow=True)
    assert "Type clf:1 to confirm the delete; nothing was deleted." in typo.content.decode()
    assert ModelVersion.objects.count() == 2


def test_the_admin_deletes_through_the_service(client, two_versions, trained):
    first, second = two_versions
    admin = get_user_model().objects.create_superuser("root", password="root-pw-1234")
    client.force_login(admin)
    answer = client.post(
        "/admin/registry/registeredmodel/",
        {"action": "delete_selected", "_selected_action": [first.model_id], "post": "yes"},
    )
    assert answer.status_code == 302
    assert not ModelVersion.objects.exists() and not RegisteredModel.objects.exists()
    # The service's purge ran: blobs only these versions used are gone from the store.
    for entry in second.manifest:
        assert not _stored(entry["sha256"]), entry["path"]
    assert store.run_file(trained.pk, "outputs/model.pkl").read_bytes() == b"pickled weights"
