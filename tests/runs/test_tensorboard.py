"""TensorBoard: event files under ./logs become metrics while the run goes on, and a real
TensorBoard opens over any runs' logs behind the studio's login."""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path

import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from runs import services, store, tensorboards
from runs.models import Run
from runs.submission import RunConfig
from runs.tbevents import TensorBoardImporter, masked_crc
from tests.processes import wait_until
from tests.runs.helpers import submit_script, wait_for_status


def scalar_event(tag: str, step: int, value: float) -> event_pb2.Event:
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(summary=summary, step=step, wall_time=time.time())


def tf2_scalar_event(tag: str, step: int, value: float) -> event_pb2.Event:
    """What tf.summary.scalar writes: a scalar tensor of the "scalars" plugin."""
    tensor = tensor_pb2.TensorProto(
        dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(), float_val=[value]
    )
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )
    value_pb = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)
    return event_pb2.Event(summary=summary_pb2.Summary(value=[value_pb]), step=step)


def record_bytes(event: event_pb2.Event) -> bytes:
    data = event.SerializeToString()
    header = struct.pack("<Q", len(data))
    return (
        header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data))
    )


def write_events(folder: Path, events, name="events.out.tfevents.1.host") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with open(path, "ab") as handle:
        for event in events:
            handle.write(record_bytes(event))
    return path


class Notes(list):
    def __call__(self, text: str) -> None:
        self.append(text)


def test_it_reads_only_the_bytes_added_since_the_last_read(tmp_path):
    notes = Notes()
    importer = TensorBoardImporter(tmp_path, note=notes)
    path = write_events(tmp_path, [scalar_event("loss", i, 1 / (i + 1)) for i in range(3)])
    first = importer.read()
    assert [(r["n"], r["s"], r["v"]) for r in first] == [
        ("loss", 0, 1.0), ("loss", 1, 0.5), ("loss", 2, 0.33333334),
    ]  # fmt: skip
    assert importer.read() == []
    record = record_bytes(scalar_event("loss", 3, 0.25))
    with open(path, "ab") as handle:  # half a record: it waits for the rest
        handle.write(record[:10])
    assert importer.read() == []
    with open(path, "ab") as handle:
        handle.write(record[10:])
    assert [(r["s"], r["v"]) for r in importer.read()] == [(3, 0.25)]
    assert importer.readers[path].offset == path.stat().st_size
    assert notes == []


def test_it_reads_tf2_scalars_and_keeps_folders_apart(tmp_path):
    write_events(tmp_path / "train", [scalar_event("loss", 0, 2.0)])
    write_events(tmp_path / "eval", [tf2_scalar_event("loss", 0, 3.0)])
    write_events(tmp_path / "eval", [tf2_scalar_event("accuracy", 1, 0.5)])
    records = TensorBoardImporter(tmp_path, note=Notes()).read()
    got = {(r["n"], r["v"]) for r in records}
    # The folder seen first keeps the plain name; the other's same tag is prefixed.
    assert len(got) == 3 and ("accuracy", 0.5) in got
    assert {("loss", 2.0), ("eval/loss", 3.0)} == got - {("accuracy", 0.5)} or {
        ("loss", 3.0),
        ("train/loss", 2.0),
    } == got - {("accuracy", 0.5)}


def test_a_corrupt_file_is_skipped_with_a_note_and_the_others_go_on(tmp_path):
    notes = Notes()
    good = write_events(tmp_path, [scalar_event("good", 0, 1.0)], name="events.out.tfevents.1.a")
    bad = write_events(tmp_path, [scalar_event("bad", 0, 1.0)], name="events.out.tfevents.2.b")
    data = bytearray(bad.read_bytes())
    data[20] ^= 0xFF  # flip a byte of the event: its checksum no longer matches
    bad.write_bytes(bytes(data))
    importer = TensorBoardImporter(tmp_path, note=notes)
    assert [r["n"] for r in importer.read()] == ["good"]
    assert len(notes) == 1 and "events.out.tfevents.2.b" in notes[0] and "checksum" in notes[0]
    write_events(tmp_path, [scalar_event("good", 1, 2.0)], name=good.name)
    assert [r["v"] for r in importer.read()] == [2.0]
    assert len(notes) == 1  # the broken file is not read again


def test_a_truncated_end_is_noted_at_the_final_read(tmp_path):
    notes = Notes()
    path = write_events(tmp_path, [scalar_event("loss", 0, 1.0)])
    with open(path, "ab") as handle:
        handle.write(record_bytes(scalar_event("loss", 1, 2.0))[:-3])
    importer = TensorBoardImporter(tmp_path, note=notes)
    assert len(importer.read()) == 1
    assert importer.read(final=True) == []
    assert "truncated record" in notes[0]


def test_a_link_out_of_the_logs_folder_is_never_read(tmp_path):
    outside = write_events(tmp_path / "elsewhere", [scalar_event("secret", 0, 1.0)])
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "events.out.tfevents.9.link").symlink_to(outside)
    assert TensorBoardImporter(logs, note=Notes()).read() == []


# --- a real run ---------------------------------------------------------------------------------
TRAIN_WITH_TENSORBOARD = """
    import os, time
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    def scalar(tag, step, value):
        s = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
        return event_pb2.Event(summary=s, step=step, wall_time=time.time())

    os.makedirs("logs/tb", exist_ok=True)
    open("logs/tb/events.out.tfevents.0.broken", "wb").write(b"not an event file at all")
    writer = EventFileWriter("logs/tb")
    for step in range(5):
        writer.add_event(scalar("loss", step, 1.0 / (step + 1)))
    writer.flush()
    while not os.path.exists("go"):  # the test looks at the metric while the run goes on
        time.sleep(0.05)
    for step in range(5, 10):
        writer.add_event(scalar("loss", step, 1.0 / (step + 1)))
    writer.close()
    print("done")
"""


@pytest.mark.slow
def test_a_run_writing_tensorboard_events_gets_them_as_metrics_live(
    owner, workspace, api_as, local_worker, settings, logged_in, boards
):
    experiment = services.experiment_create(workspace=workspace, name="tb", user=owner)
    client = api_as(owner)
    run_id = submit_script(client, experiment, {"train.py": TRAIN_WITH_TENSORBOARD})

    def live_metric():
        run = Run.objects.get(pk=run_id)
        metric = run.metrics.filter(name="loss").first()
        return metric if run.status == "Running" and metric and metric.count == 5 else None

    metric = wait_until(live_metric, 60, "the TensorBoard scalars to arrive while it runs")
    assert metric.source == "tensorboard"
    # TensorBoard opens over the run while it still goes on.
    browser = logged_in(owner)
    path = browser.post("/w/lab/tensorboard/", {"run": run_id})["Location"]
    # The events are in logs/tb/, so TensorBoard names that run "<run id>/tb".
    assert "loss" in wait_for_tags(browser, path, f"{run_id}/tb")[f"{run_id}/tb"]
    assert Run.objects.get(pk=run_id).status == "Running"
    (Path(settings.MLSTUDIO_WORK_DIR) / run_id / "go").write_text("")
    run = wait_for_status(run_id, "Completed", "Failed")
    system = store.read_log(run_id, store.SYSTEM_LOG, 0, 10_000_000)[0]
    assert run.status == "Completed", system
    got = client.get(f"/api/workspaces/lab/runs/{run_id}/metrics").json()["metrics"]
    assert got["loss"] == pytest.approx([1 / (i + 1) for i in range(10)], rel=1e-6)
    listed = client.get(f"/api/workspaces/lab/runs/{run_id}/metric-list").json()
    assert [(m["name"], m["source"], m["count"]) for m in listed] == [("loss", "tensorboard", 10)]
    assert "TensorBoard: skipped logs/tb/events.out.tfevents.0.broken" in system
    names = [f["name"] for f in store.list_files(run_id)]
    assert any(n.startswith("logs/tb/events.out.tfevents") and "broken" not in n for n in names)


TRAIN_WITH_TORCH = """
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter("logs")  # the usual v1 recipe: TensorBoard files under ./logs
    for step in range(20):
        writer.add_scalar("Loss/train", 1.0 / (step + 1), step)
        writer.add_scalars("lr", {"base": 0.1}, step)  # a sub-folder per series: logs/lr_base
    writer.close()
"""


@pytest.mark.slow
def test_torch_summary_writer_needs_no_code_change(owner, workspace, api_as, local_worker):
    experiment = services.experiment_create(workspace=workspace, name="torch", user=owner)
    client = api_as(owner)
    run_id = submit_script(client, experiment, {"train.py": TRAIN_WITH_TORCH})
    run = wait_for_status(run_id, "Completed", "Failed", timeout=120)
    system = store.read_log(run_id, store.SYSTEM_LOG, 0, 10_000_000)[0]
    assert run.status == "Completed", system + store.read_log(run_id, store.USER_LOG, 0, 10**6)[0]
    got = client.get(f"/api/workspaces/lab/runs/{run_id}/metrics").json()["metrics"]
    assert got["Loss/train"] == pytest.approx([1 / (i + 1) for i in range(20)], rel=1e-6)
    assert got["lr"] == pytest.approx([0.1] * 20)
    listed = client.get(f"/api/workspaces/lab/runs/{run_id}/metric-list").json()
    assert {m["source"] for m in listed} == {"tensorboard"}


# --- TensorBoard behind the studio --------------------------------------------------------------
@pytest.fixture
def finished_run(owner, workspace):
    experiment = services.experiment_create(workspace=workspace, name="old", user=owner)
    run = services.run_submit(
        experiment=experiment, user=owner, snapshot=None,
        config=RunConfig.parse({"command": ["true"]}),
    )  # fmt: skip
    writer = EventFileWriter(str(store.run_dir(run.pk) / "logs"))
    for step in range(100):
        writer.add_event(scalar_event("accuracy", step, step / 100))
    writer.close()
    return run


@pytest.fixture
def boards(settings, tmp_path):
    yield
    for board in tensorboards.tensorboards_running():
        tensorboards._kill(board)


def wait_for_tags(client, path: str, run_id: str) -> dict:
    def tags():
        response = client.get(path + "data/plugin/scalars/tags")
        if response.status_code != 200:
            return None
        found = response.json()
        return found if found.get(run_id) else None

    return wait_until(tags, 60, "TensorBoard to load the run's scalars")


@pytest.mark.slow
def test_the_run_page_opens_a_real_tensorboard_behind_the_login(
    owner, stranger, finished_run, logged_in, boards
):
    page = logged_in(owner).get(f"/w/lab/runs/{finished_run.pk}/")
    assert b"TensorBoard" in page.content and b"/w/lab/tensorboard/" in page.content
    browser = logged_in(owner)
    opened = browser.post("/w/lab/tensorboard/", {"run": finished_run.pk})
    assert opened.status_code == 302
    path = opened["Location"]
    assert path.startswith("/w/lab/tensorboard/")
    index = browser.get(path)
    assert index.status_code == 200 and b"tensorboard" in index.content.lower()
    assert "accuracy" in wait_for_tags(browser, path, finished_run.pk)[finished_run.pk]
    series = browser.get(
        path + "data/plugin/scalars/scalars", {"run": finished_run.pk, "tag": "accuracy"}
    ).json()
    assert len(series) == 100 and series[-1][2] == pytest.approx(0.99)
    # Opening the same runs again reuses the board.
    assert browser.post("/w/lab/tensorboard/", {"run": finished_run.pk})["Location"] == path
    # Strangers get 404s, and anonymous visitors the login page.
    intruder = logged_in(stranger)
    assert intruder.post("/w/lab/tensorboard/", {"run": finished_run.pk}).status_code == 404
    assert intruder.get(path + "data/plugin/scalars/tags").status_code == 404
    from django.test import Client

    assert Client().get(path).status_code == 302


@pytest.mark.slow
def test_the_sdk_route_starts_and_stops_a_board_and_an_idle_one_stops(
    owner, teammate, stranger, finished_run, api_as, logged_in, boards, settings
):
    settings.MLSTUDIO_TENSORBOARD_IDLE_SECONDS = 3
    client = api_as(owner)
    started = client.post(
        "/api/workspaces/lab/tensorboards",
        {"run_ids": [finished_run.pk]},
        content_type="application/json",
    )
    assert started.status_code == 200, started.content
    board = started.json()
    assert board["run_ids"] == [finished_run.pk]
    refused = api_as(stranger).post(
        "/api/workspaces/lab/tensorboards",
        {"run_ids": [finished_run.pk]},
        content_type="application/json",
    )
    assert refused.status_code == 404
    assert client.delete(f"/api/workspaces/lab/tensorboards/{board['id']}").status_code == 204
    assert tensorboards.tensorboards_running() == []
    assert logged_in(owner).get(board["path"]).status_code == 404
    # Started again and left alone, it stops by itself once idle.
    again = client.post(
        "/api/workspaces/lab/tensorboards",
        {"run_ids": [finished_run.pk]},
        content_type="application/json",
    ).json()
    pid = json.loads(
        (Path(settings.DATA_DIR) / "tensorboards" / f"{again['id']}.json").read_text()
    )["pid"]
    wait_until(lambda: not tensorboards._pid_alive(pid), 30, "the idle TensorBoard to stop")
    assert not os.path.exists(f"/proc/{pid}")


@pytest.mark.slow
def test_the_sdk_starts_and_stops_tensorboard_like_v1(
    live_server, owner, finished_run, logged_in, boards
):
    from mlstudio.sdk import Experiment, Tensorboard, Workspace
    from mlstudio.sdk import Run as SdkRun
    from workspaces.services import api_token_create

    token = api_token_create(user=owner, name="sdk")[1]
    ws = Workspace(name="lab", url=live_server.url, token=token)
    run = SdkRun(Experiment(ws, "old"), finished_run.pk)
    tb = Tensorboard([run])
    url = tb.start()
    assert url.startswith(f"{live_server.url}/w/lab/tensorboard/") and url.endswith("/")
    path = url.removeprefix(live_server.url)
    assert "accuracy" in wait_for_tags(logged_in(owner), path, finished_run.pk)[finished_run.pk]
    assert Tensorboard([run]).start() == url  # the same runs share one board
    tb.stop()
    assert tensorboards.tensorboards_running() == []
