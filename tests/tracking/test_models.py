"""Models logged with MLflow 3 (logged models) are kept with their run, under outputs/."""

from __future__ import annotations

import shutil

import mlflow
import mlflow.sklearn
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from registry.models import ModelVersion
from runs import store
from runs.models import Run
from tracking.models import LoggedModel

pytestmark = pytest.mark.slow
# Named requirements skip MLflow's inference of them (a subprocess), cloudpickle skips skops'
# import: ~25 s of this machine's time that MLStudio has no part in.
CHEAP = {"pip_requirements": ["scikit-learn"], "serialization_format": "cloudpickle"}


def _data():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3))
    return features, (features[:, 0] > 0).astype(int)


def test_it_keeps_an_sklearn_model_with_its_run_and_loads_it_back(tracking_uri):
    features, labels = _data()
    model = LogisticRegression().fit(features, labels)
    mlflow.set_experiment("models")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", **CHEAP)
    names = {f["name"] for f in store.list_files(run.info.run_id)}
    assert {"outputs/model/MLmodel", "outputs/model/requirements.txt"} <= names
    logged = LoggedModel.objects.get(pk=info.model_id)
    assert logged.source_run_id == run.info.run_id
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert (loaded.predict(features) == model.predict(features)).all()
    outputs = mlflow.get_run(run.info.run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id]


def test_it_takes_sklearn_autolog(tracking_uri):
    features, labels = _data()
    mlflow.set_experiment("autolog")
    # autolog's model goes the way log_model's does (tested above); leaving it out keeps this
    # test clear of MLflow's requirement inference.
    mlflow.sklearn.autolog(log_models=False, silent=True)
    try:
        with mlflow.start_run() as run:
            LogisticRegression(C=0.5).fit(features, labels)
    finally:
        mlflow.sklearn.autolog(disable=True)
    stored = Run.objects.get(pk=run.info.run_id)
    assert stored.mlflow.params["C"] == "0.5"
    assert stored.metrics.get(name="training_accuracy_score").last_value > 0.5
    assert stored.mlflow.inputs or stored.metrics.count() >= 1


def test_it_registers_a_model_version_in_mlstudios_registry(tracking_uri):
    features, labels = _data()
    mlflow.set_experiment("registry")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            LogisticRegression().fit(features, labels), name="m", registered_model_name="iris",
            **CHEAP,
        )  # fmt: skip
    assert str(info.registered_model_version) == "1"
    version = ModelVersion.objects.get(model__name="iris", version=1)
    assert version.run_id == run.info.run_id and version.source_path == "outputs/m"
    assert any(entry["path"].endswith("MLmodel") for entry in version.manifest)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("iris", "champion", "1")
    assert client.get_model_version_by_alias("iris", "champion").version == "1"
    found = client.search_model_versions(f"name='iris' and run_id='{run.info.run_id}'")
    assert [v.version for v in found] == ["1"]
    client.delete_registered_model_alias("iris", "champion")
    with pytest.raises(mlflow.exceptions.MlflowException, match="no alias 'champion'"):
        client.get_model_version_by_alias("iris", "champion")


def test_models_uris_load_from_the_registered_versions_own_files(tracking_uri):
    """models:/<name>/<n>, /latest and @<alias> load from the version's blobs, even once
    the run's files are gone."""
    features, labels = _data()
    fitted = LogisticRegression(C=0.3).fit(features, labels)
    mlflow.set_experiment("download-uri")
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(fitted, name="m", registered_model_name="clf", **CHEAP)
    client = mlflow.MlflowClient()
    assert client.get_model_version_download_uri("clf", "1") == (
        "mlflow-artifacts:/registered-models/clf/versions/1/artifacts"
    )
    shutil.rmtree(store.run_dir(run.info.run_id) / "outputs")
    client.set_registered_model_alias("clf", "best", "1")
    for uri in ("models:/clf/1", "models:/clf/latest", "models:/clf@best"):
        loaded = mlflow.sklearn.load_model(uri)
        assert (loaded.predict(features) == fitted.predict(features)).all()
    listed = {a.path for a in mlflow.artifacts.list_artifacts("models:/clf/1")}
    assert "MLmodel" in listed and "model.pkl" in listed
    with pytest.raises(mlflow.exceptions.MlflowException, match="no version 7"):
        client.get_model_version_download_uri("clf", "7")
