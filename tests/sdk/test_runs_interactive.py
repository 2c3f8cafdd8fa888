"""Interactive runs from a notebook, child runs, files and images, against a live studio."""

import io

import pytest

from mlstudio.sdk import Experiment, UserErrorException

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
    b"\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_it_logs_an_interactive_run_and_completes_it(ws):
    experiment = Experiment(ws, "notebook")
    run = experiment.start_logging()
    assert run.get_status() == "Running"
    for i in range(3):
        run.log("loss", 1.0 / (i + 1))
    run.log("loss", float("nan"))
    run.log_row("roc", fpr=0.1, tpr=0.9)
    run.tag("phase", "explore")
    run.complete()
    assert run.get_status() == "Completed"
    got = run.get_metrics()
    assert got["loss"][:3] == [1.0, 0.5, 1.0 / 3] and got["loss"][3] != got["loss"][3]
    assert got["roc"] == {"fpr": [0.1], "tpr": [0.9]}
    assert run.get_tags()["phase"] == "explore"


def test_it_fails_the_run_when_the_with_block_raises(ws):
    experiment = Experiment(ws, "notebook")
    with pytest.raises(ZeroDivisionError), experiment.start_logging() as run:
        run.log("x", 1)
        1 / 0  # noqa: B018
    details = run.get_details()
    assert details["status"] == "Failed"
    assert "ZeroDivisionError" in details["error"]["error"]["message"]
    with experiment.start_logging() as ok:
        ok.log("x", 1)
    assert ok.get_status() == "Completed"


def test_it_keeps_children_with_their_own_metrics_and_status(ws):
    parent = Experiment(ws, "notebook").start_logging()
    children = parent.create_children(2)
    for i, child in enumerate(children):
        child.log("acc", 0.5 + i / 10)
    children[0].complete()
    assert children[0].get_status() == "Completed" and children[1].get_status() == "Running"
    assert sorted(c.id for c in parent.get_children()) == sorted(c.id for c in children)
    recursive = parent.get_metrics(recursive=True)
    assert recursive[children[1].id] == {"acc": 0.6}
    parent.complete()


def test_it_uploads_files_and_images(ws, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    run = Experiment(ws, "notebook").start_logging()
    (tmp_path / "model.txt").write_text("weights")
    run.upload_file("outputs/model dir/model.txt", str(tmp_path / "model.txt"))
    (tmp_path / "pic.png").write_bytes(PNG)
    run.log_image("sample", path=str(tmp_path / "pic.png"))
    pyplot.plot([1, 2, 3])
    run.log_image("curve", plot=pyplot)
    names = run.get_file_names()
    assert "outputs/model dir/model.txt" in names
    got = run.get_metrics()
    assert got["sample"] == "images/sample_1.png" and got["curve"] == "images/curve_2.png"
    run.download_file("images/curve_2.png", tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG")
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(UserErrorException, match="is not an image"):
        run.log_image("bad", path=str(tmp_path / "notes.txt"))
    run.upload_file("outputs/stream.bin", io.BytesIO(b"\x00\x01"))
    assert "outputs/stream.bin" in run.get_file_names()
    run.complete()


def test_it_refuses_completing_a_submitted_run_from_outside(ws, owner, api_as):
    from runs import services as run_services
    from runs.submission import RunConfig

    experiment = Experiment(ws, "submitted")
    from runs.models import Experiment as ExperimentRow

    row = ExperimentRow.objects.get(pk=experiment.id)
    submitted = run_services.run_submit(
        experiment=row, user=owner, snapshot=None, config=RunConfig.parse({"command": ["true"]})
    )
    response = api_as(owner).post(
        f"/api/workspaces/lab/runs/{submitted.pk}/complete",
        {"status": "Completed"},
        content_type="application/json",
    )
    assert response.status_code == 409 and "exit code decides" in response.json()["detail"]


def test_it_lists_every_run_page_by_page_newest_first(ws, monkeypatch):
    monkeypatch.setattr("mlstudio.sdk.experiment.RUNS_PAGE", 2)
    experiment = Experiment(ws, "many")
    started = [experiment.start_logging() for _ in range(3)]
    child = started[0].child_run()
    for run in started:
        run.complete()
    assert [r.id for r in experiment.get_runs()] == [r.id for r in reversed(started)]
    assert child.id in [r.id for r in experiment.get_runs(include_children=True)]


def test_it_tells_the_detailed_status(ws):
    run = Experiment(ws, "detailed").start_logging()
    assert run.get_detailed_status() == {"status": "Running", "details": ""}
    run.cancel()
    assert run.get_detailed_status()["status"] == "Canceled"
