"""The registry's rules, through its services and selectors, against the real file store."""

from __future__ import annotations

import os

import pytest
from django.core.files.storage import default_storage

from mlstudio.errors import Conflict, NotFound, UserError
from registry import selectors, services
from registry.models import ModelVersion, RegisteredModel
from runs import blobs, deleting, store
from runs import services as run_services
from runs.models import Blob
from runs.snapshots import blob_name
from tests.registry.conftest import finished_run


def _blob_path(sha256: str):
    return default_storage.path(blob_name(sha256=sha256))


def test_it_registers_a_run_file_as_version_1_sharing_its_bytes(workspace, owner):
    body = os.urandom(4096)  # bytes the store has never seen, so they arrive by this link
    run = finished_run(workspace, owner, {"outputs/model.pkl": body})
    version = services.model_register_from_run(
        run=run, user=owner, name="sk-model", model_path="outputs/model.pkl",
        tags={"stage": "dev"}, framework="ScikitLearn", framework_version="1.5",
    )  # fmt: skip
    assert (version.version, version.root, version.v1_id) == (1, "model.pkl", "sk-model:1")
    entry = version.manifest[0]
    assert entry["path"] == "model.pkl" and entry["size"] == len(body)
    run_file = store.run_file(run.pk, "outputs/model.pkl")
    assert os.path.samefile(run_file, _blob_path(entry["sha256"]))  # a link, not a copy
    assert version.run_id_text == run.pk and version.experiment_name == "train"


def test_it_registers_a_folder_and_numbers_the_next_version(trained, owner):
    first = services.model_register_from_run(
        run=trained, user=owner, name="net", model_path="outputs/model/"
    )
    second = services.model_register_from_run(
        run=trained, user=owner, name="net", model_path="outputs/model"
    )
    assert [e["path"] for e in first.manifest] == ["model/config.json", "model/weights.bin"]
    assert (first.version, second.version) == (1, 2)
    assert (
        selectors.model_version_get(workspace=trained.experiment.workspace, name="net").version == 2
    )


def test_model_path_defaults_to_the_name(workspace, owner):
    run = finished_run(workspace, owner, {"outputs/x": b"x", "clf": b"c"})
    version = services.model_register_from_run(run=run, user=owner, name="clf")
    assert version.source_path == "clf"


def test_a_path_not_among_the_run_files_lists_the_closest_and_stores_nothing(trained, owner):
    with pytest.raises(NotFound) as caught:
        services.model_register_from_run(
            run=trained, user=owner, name="m", model_path="outputs/model.pk"
        )
    assert "outputs/model.pkl" in caught.value.message
    assert not RegisteredModel.objects.exists() and not Blob.objects.exists()


@pytest.mark.parametrize("name", ["-starts-with-dash", "has space", "a/b", "x" * 256, ""])
def test_a_bad_name_is_refused_and_nothing_is_stored(trained, owner, name):
    with pytest.raises(UserError, match="is not allowed"):
        services.model_register_from_run(
            run=trained, user=owner, name=name, model_path="outputs/model.pkl"
        )
    assert not RegisteredModel.objects.exists()


def test_properties_are_added_but_never_changed(trained, owner):
    version = services.model_register_from_run(
        run=trained, user=owner, name="m", model_path="outputs/model.pkl", properties={"auc": "0.9"}
    )
    services.model_version_update(version=version, add_properties={"auc": "0.9", "team": "cv"})
    with pytest.raises(Conflict, match="properties never change"):
        services.model_version_update(
            version=version, add_properties={"auc": "0.8"}, add_tags={"t": "1"}
        )
    version.refresh_from_db()
    assert version.properties == {"auc": "0.9", "team": "cv"} and "t" not in version.tags


def test_tags_filters_take_v1_forms(trained, owner):
    a = services.model_register_from_run(
        run=trained,
        user=owner,
        name="a",
        model_path="outputs/model.pkl",
        tags={"stage": "prod", "team": "cv"},
    )
    services.model_register_from_run(
        run=trained, user=owner, name="b", model_path="outputs/notes.txt", tags={"stage": "dev"}
    )
    found = selectors.models_list(
        workspace=trained.experiment.workspace, tags=["team", ["stage", "prod"]]
    )
    assert found == [a]
    assert len(selectors.models_list(workspace=trained.experiment.workspace, tags=["stage"])) == 2


def test_latest_keeps_each_names_newest(trained, owner):
    for _ in range(2):
        services.model_register_from_run(
            run=trained, user=owner, name="a", model_path="outputs/model.pkl"
        )
    found = selectors.models_list(workspace=trained.experiment.workspace, latest=True)
    assert [(v.model.name, v.version) for v in found] == [("a", 2)]


def test_an_alias_moves_and_finds_its_version(trained, owner):
    one = services.model_register_from_run(
        run=trained, user=owner, name="a", model_path="outputs/model.pkl"
    )
    two = services.model_register_from_run(
        run=trained, user=owner, name="a", model_path="outputs/model.pkl"
    )
    services.model_alias_set(version=one, alias="champion")
    services.model_alias_set(version=two, alias="champion")
    ws = trained.experiment.workspace
    assert selectors.model_version_get(workspace=ws, name="a", alias="champion") == two
    with pytest.raises(NotFound, match="its aliases: champion"):
        selectors.model_version_get(workspace=ws, name="a", alias="challenger")


def test_unknown_names_and_versions_say_what_exists(trained, owner):
    services.model_register_from_run(
        run=trained, user=owner, name="mnist-cnn", model_path="outputs/model.pkl"
    )
    ws = trained.experiment.workspace
    with pytest.raises(NotFound, match="Similar names: mnist-cnn"):
        selectors.model_version_get(workspace=ws, name="mnist-cn")
    with pytest.raises(NotFound, match="its versions are 1"):
        selectors.model_version_get(workspace=ws, name="mnist-cnn", version=7)


def test_deleting_the_runs_experiment_keeps_the_models_files(trained, owner):
    version = services.model_register_from_run(
        run=trained, user=owner, name="m", model_path="outputs/model/"
    )
    experiment = trained.experiment
    run_services.experiment_archive(experiment=experiment)
    deleting.experiment_delete(experiment=experiment, actor=owner)
    # The purge the delete queues, run here as the control worker would.
    deleting.experiment_purge(run_ids=[trained.pk], snapshot_ids=[])
    assert not store.run_dir(trained.pk).exists()
    version = ModelVersion.objects.get(pk=version.pk)
    assert version.run is None and version.run_id_text == trained.pk
    for entry in version.manifest:
        handle, _ = selectors.model_file_open(version=version, path=entry["path"])
        with handle:
            assert len(handle.read()) == entry["size"]


def test_a_blob_purge_keeps_what_a_model_uses(workspace, owner):
    run = finished_run(workspace, owner, {"outputs/w.bin": b"shared bytes"})
    version = services.model_register_from_run(
        run=run, user=owner, name="w", model_path="outputs/w.bin"
    )
    shared = version.manifest[0]["sha256"]
    blobs.blobs_purge(workspace_id=workspace.pk, candidates={shared})
    assert Blob.objects.filter(sha256=shared).exists()
    assert default_storage.exists(blob_name(sha256=shared))


def test_deleting_the_last_version_forgets_the_name_and_unused_blobs(
    trained, owner, django_capture_on_commit_callbacks
):
    version = services.model_register_from_run(
        run=trained, user=owner, name="m", model_path="outputs/notes.txt"
    )
    sha = version.manifest[0]["sha256"]
    with django_capture_on_commit_callbacks(execute=True):
        services.model_version_delete(version=version)
    assert not RegisteredModel.objects.exists()
    assert not Blob.objects.filter(sha256=sha).exists()
    assert store.run_file(trained.pk, "outputs/notes.txt").read_bytes() == b"notes"


def test_a_replaced_run_file_leaves_the_registered_bytes_alone(trained, owner):
    import io

    version = services.model_register_from_run(
        run=trained, user=owner, name="m", model_path="outputs/model.pkl"
    )
    store.write_file(trained.pk, "outputs/model.pkl", io.BytesIO(b"retrained"))
    handle, _ = selectors.model_file_open(version=version, path="model.pkl")
    with handle:
        assert handle.read() == b"pickled weights"
