"""Run files over the API: listing, downloads, and paths that must never leave the run."""

import io
import json
import zipfile

import pytest

from runs import services, store
from runs.submission import RunConfig


@pytest.fixture
def run(owner, workspace):
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    run = services.run_submit(
        experiment=experiment,
        user=owner,
        snapshot=None,
        config=RunConfig.parse({"command": ["true"]}),
    )
    root = store.run_dir(run.pk)
    (root / "outputs" / "model").mkdir(parents=True)
    (root / "outputs" / "model" / "weights.bin").write_bytes(b"\x00\x01weights")
    (root / "user_logs").mkdir()
    (root / "user_logs" / "std_log.txt").write_text("hello\n")
    (root.parent / "secret.txt").write_text("another run's secret")
    return run


def base(run):
    return f"/api/workspaces/lab/runs/{run.pk}"


def test_it_lists_and_downloads_run_files(owner, run, api_as):
    client = api_as(owner)
    names = [f["name"] for f in client.get(f"{base(run)}/files").json()]
    assert names == ["outputs/model/weights.bin", "user_logs/std_log.txt"]
    response = client.get(f"{base(run)}/files/outputs/model/weights.bin")
    assert b"".join(response.streaming_content) == b"\x00\x01weights"


def test_it_zips_every_run_file(owner, run, api_as):
    response = api_as(owner).get(f"{base(run)}/zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["outputs/model/weights.bin", "user_logs/std_log.txt"]


def test_it_reads_logs_from_an_offset(owner, run, api_as):
    response = api_as(owner).get(f"{base(run)}/logs/user_logs/std_log.txt?offset=2")
    assert response.content == b"llo\n"
    assert response["X-Next-Offset"] == "6"


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "%2e%2e%2fsecret.txt",
        "%252e%252e%252fsecret.txt",
        "outputs/../../secret.txt",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "outputs\\..\\..\\secret.txt",
    ],
)
def test_it_never_serves_a_file_outside_the_run(owner, run, api_as, path):
    client = api_as(owner)
    for url in (f"{base(run)}/files/{path}", f"{base(run)}/logs/{path}"):
        response = client.get(url)
        assert response.status_code in (400, 404), (url, response.status_code)
        body = response.content if not response.streaming else b"".join(response.streaming_content)
        assert b"secret" not in body.replace(b"secret.txt", b"")


def test_it_refuses_a_link_planted_inside_the_run(owner, run, api_as):
    (store.run_dir(run.pk) / "outputs" / "link").symlink_to("/etc/passwd")
    response = api_as(owner).get(f"{base(run)}/files/outputs/link")
    assert response.status_code == 400
    assert "leads outside" in response.json()["detail"]
    assert "outputs/link" not in [f["name"] for f in api_as(owner).get(f"{base(run)}/files").json()]


def test_it_shows_the_run_page_to_members_only(owner, stranger, run, logged_in):
    page = logged_in(owner).get(f"/w/lab/runs/{run.pk}/").content.decode()
    assert "Queued" in page and "outputs/model/weights.bin" in page
    assert logged_in(stranger).get(f"/w/lab/runs/{run.pk}/").status_code == 404


def test_it_lists_experiments_and_runs_on_the_pages(owner, stranger, run, logged_in):
    client = logged_in(owner)
    experiments = client.get("/w/lab/experiments/").content.decode()
    assert "exp" in experiments and 'data-action="archive"' in experiments
    table = client.get(f"/w/lab/experiments/{run.experiment_id}/").content.decode()
    assert run.pk in table and "Compare selected" in table
    home = client.get("/w/lab/").content.decode()
    assert run.pk in home and "Download config.json" in home
    assert logged_in(stranger).get("/w/lab/experiments/").status_code == 404


def test_it_serves_plotly_from_the_package(owner, logged_in):
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/plotly/plotly.min.js")


def test_the_run_page_comes_with_the_log_tail_in_whole_lines(owner, run, logged_in, monkeypatch):
    from runs import views

    monkeypatch.setattr(views, "LOG_TAIL", 20)  # the tail starts inside the second line
    lines = ["first line\n", "second <b>line</b>\n", "the end\n"]
    store.run_file(run.pk, store.USER_LOG).write_text("".join(lines))
    page = logged_in(owner).get(f"/w/lab/runs/{run.pk}/").content.decode()
    shown = page.split('aria-label="Log output">\n', 1)[1].split("</pre>", 1)[0]
    assert shown == "the end\n"  # the cut line is left out, not shown from its middle
    data = page.split('id="page-data" type="application/json">', 1)[1].split("</script>")[0]
    size = len("".join(lines).encode())
    assert json.loads(data)["tail"] == {"start": size - len("the end\n"), "end": size}

    monkeypatch.setattr(views, "LOG_TAIL", 1000)
    page = logged_in(owner).get(f"/w/lab/runs/{run.pk}/").content.decode()
    assert "second &lt;b&gt;line&lt;/b&gt;\nthe end\n</pre>" in page  # escaped, never markup


def test_a_log_tail_that_starts_inside_a_character_keeps_its_offsets(run):
    log = "ééé\nthe end\n".encode()
    store.run_file(run.pk, store.USER_LOG).write_bytes(log)
    # the last len(log) - 1 bytes start inside the first "é": that line is dropped, and the
    # offsets are those of the stored bytes, not of the text decoded with replacements
    text, start, end = store.read_log_tail(run.pk, store.USER_LOG, len(log), len(log) - 1)
    assert (text, start, end) == ("the end\n", log.index(b"the end"), len(log))
