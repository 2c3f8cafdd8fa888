"""A v1 notebook's model cells, ported by their import line, against a live studio and a real
Celery worker: register from a finished run, inside the script and on an interactive run; find,
list, alias, download, get_model_path; upload a local folder sending only what changed."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from mlstudio.sdk import Experiment, Model, Run, ScriptRunConfig, UserErrorException
from mlstudio.sdk.exceptions import ModelNotFoundException, WebserviceException
from registry.models import ModelVersion

pytestmark = pytest.mark.slow

TRAIN = """
    import os
    from mlstudio.sdk import Run
    run = Run.get_context()
    os.makedirs("outputs/model", exist_ok=True)
    open("outputs/model.pkl", "wb").write(b"pickled-" + os.environ["MLSTUDIO_RUN_ID"].encode())
    open("outputs/model/weights.bin", "wb").write(b"w" * 2048)
    run.log("accuracy", 0.93)
    model = run.register_model("in-script", "outputs/model.pkl", tags={"where": "script"})
    print("REGISTERED", model.id, model.run_id == run.id)
    from mlstudio.sdk import Model
    path = Model.get_model_path("in-script")  # inside a run: the run's own workspace
    print("SCORING", path, open(path, "rb").read()[:8])
"""


@pytest.fixture
def finished(ws, connected_worker, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(TRAIN))
    run = Experiment(ws, "train-mnist").submit(ScriptRunConfig(str(folder), "train.py"))
    run.wait_for_completion(show_output=False)
    return run


def test_a_v1_notebook_registers_finds_and_downloads(ws, finished, tmp_path, capsys):
    assert finished.get_status() == "Completed"
    log = tmp_path / "log.txt"
    finished.download_file("user_logs/std_log.txt", str(log))
    assert "REGISTERED in-script:1 True" in log.read_text()
    assert "SCORING azureml-models/in-script/1/model.pkl b'pickled-'" in log.read_text()

    model = finished.register_model(
        model_name="sk-mnist", model_path="outputs/model.pkl", tags={"area": "mnist"},
        properties={"auc": "0.93"}, model_framework=Model.Framework.SCIKITLEARN,
        model_framework_version="1.5", description="Ridge",
    )  # fmt: skip
    assert (model.name, model.version, model.id) == ("sk-mnist", 1, "sk-mnist:1")
    assert model.url.endswith("/w/lab/models/sk-mnist/1/")
    assert (model.run_id, model.experiment_name) == (finished.id, "train-mnist")
    assert model.model_framework == "ScikitLearn" and model.created_time is not None
    folder = finished.register_model(model_name="sk-mnist", model_path="outputs/model/")
    assert folder.version == 2

    assert Model(ws, "sk-mnist").version == 2
    assert Model(ws, id="sk-mnist:1").description == "Ridge"
    assert Model(ws, "sk-mnist", version=1).tags == {"area": "mnist"}
    assert [m.id for m in Model.list(ws, tags=[["area", "mnist"]])] == ["sk-mnist:1"]
    assert [m.id for m in Model.list(ws, name="sk-mnist", latest=True)] == ["sk-mnist:2"]
    assert {m.id for m in Model.list(ws, run_id=finished.id)} >= {"sk-mnist:1", "in-script:1"}

    path = model.download(target_dir=str(tmp_path / "dl"))
    assert path == str(tmp_path / "dl" / "model.pkl")
    assert Path(path).read_bytes().startswith(b"pickled-")
    with pytest.raises(WebserviceException, match="exist_ok=True"):
        model.download(target_dir=str(tmp_path / "dl"))
    folder_path = Model(ws, "sk-mnist").download(str(tmp_path / "dl"), exist_ok=True)
    assert os.path.getsize(os.path.join(folder_path, "weights.bin")) == 2048

    model.set_alias("champion")
    assert Model(ws, "sk-mnist", alias="champion").version == 1
    model.add_tags({"stage": "prod"})
    model.remove_tags(["area"])
    assert Model(ws, "sk-mnist", version=1).tags == {"stage": "prod"}
    with pytest.raises(UserErrorException, match="never change"):
        model.add_properties({"auc": "0.5"})
    with pytest.raises(ModelNotFoundException, match="Similar names: sk-mnist"):
        Model(ws, "sk-mnst")
    with pytest.raises(ModelNotFoundException, match="versions are 1, 2"):
        Model(ws, "sk-mnist", version=9)
    assert model.serialize()["id"] == "sk-mnist:1"
    with pytest.raises(NotImplementedError, match="deploy"):
        Model.deploy(ws, "svc", [model])


def test_get_model_path_downloads_once_into_v1s_cache(ws, finished, tmp_path, monkeypatch):
    finished.register_model(model_name="scorer", model_path="outputs/model.pkl")
    monkeypatch.chdir(tmp_path)
    ws.write_config(str(tmp_path))  # a notebook machine: .mlstudio/config.json
    path = Model.get_model_path("scorer")
    assert path == os.path.join("azureml-models", "scorer", "1", "model.pkl")
    assert Path(path).read_bytes().startswith(b"pickled-")
    os.remove(tmp_path / ".mlstudio" / "config.json")  # offline now: the cache answers
    assert Model.get_model_path("scorer") == path
    assert Model.get_model_path("scorer", version=1) == path


def test_an_interactive_run_registers_what_it_uploaded(ws, tmp_path):
    run = Experiment(ws, "notebook").start_logging()
    weights = tmp_path / "net.bin"
    weights.write_bytes(b"n" * 100)
    run.upload_file("outputs/net.bin", str(weights))
    model = run.register_model("net", model_path="outputs/net.bin")
    run.complete()
    assert (model.version, model.run_id) == (1, run.id)
    assert isinstance(model.run, Run)


def test_model_register_uploads_only_what_changed(ws, tmp_path, capsys):
    folder = tmp_path / "bert"
    folder.mkdir()
    for index in range(5):
        (folder / f"shard-{index}.bin").write_bytes(os.urandom(10_000))
    first = Model.register(ws, model_path=str(folder), model_name="bert", tags={"k": "v"})
    out = capsys.readouterr().out
    assert "Uploading model files" in out and "Registering model bert" in out
    assert "100% 48.8 KiB / 48.8 KiB" in out  # all five files
    (folder / "shard-0.bin").write_bytes(os.urandom(10_000))
    second = Model.register(ws, model_path=str(folder), model_name="bert")
    assert "100% 9.8 KiB / 9.8 KiB" in capsys.readouterr().out  # only the changed one
    assert (first.version, second.version) == (1, 2)
    row = ModelVersion.objects.get(model__name="bert", version=2)
    assert row.root == "bert" and row.file_count == 5 and row.run is None
    only = Model.register(ws, str(folder), "bert-part", child_paths=["shard-1.bin"])
    assert [f["path"] for f in only._details["files"]] == ["bert/shard-1.bin"]
