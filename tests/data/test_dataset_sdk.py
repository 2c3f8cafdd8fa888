"""A v1 notebook's dataset cells against a live studio: File and Tabular datasets from datastore
paths and globs, register and find by name or id, versions pinned to content, to_path, download,
mount, take/skip, to_pandas_dataframe with columns kept or dropped, and the bad inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlstudio.sdk import Dataset, UserErrorException
from mlstudio.sdk.data import FileDataset, TabularDataset


@pytest.fixture
def uploaded(ws, mnist):
    datastore = ws.get_default_datastore()
    datastore.upload(str(mnist), target_path="mnist", show_progress=False)
    return datastore


@pytest.fixture
def iris(ws, tmp_path):
    folder = tmp_path / "iris"
    folder.mkdir()
    (folder / "part1.csv").write_text("sepal,petal,species\n5.1,1.4,setosa\n4.9,1.3,setosa\n")
    (folder / "part2.csv").write_text("sepal,petal,species\n6.3,4.9,virginica\n")
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path="iris", show_progress=False)
    return datastore


def test_a_file_dataset_registers_and_is_found_by_name_and_id(ws, uploaded):
    dataset = Dataset.File.from_files((uploaded, "mnist/"))
    assert isinstance(dataset, FileDataset) and dataset.name is None
    assert dataset.to_path() == ["/test/images.bin", "/train/images.bin", "/train/labels.bin"]
    registered = dataset.register(ws, "mnist", description="digits", tags={"src": "lecun"})
    assert (registered.name, registered.version, registered.tags) == ("mnist", 1, {"src": "lecun"})
    found = Dataset.get_by_name(ws, "mnist")
    assert (found.id, found.version, found.description) == (registered.id, 1, "digits")
    assert Dataset.get_by_id(ws, registered.id).name == "mnist"
    assert list(ws.datasets) == ["mnist"]


def test_a_version_keeps_its_content_after_the_path_is_overwritten(ws, uploaded, mnist, tmp_path):
    Dataset.File.from_files((uploaded, "mnist/train/")).register(ws, "train")
    (mnist / "train" / "labels.bin").write_bytes(b"new labels")
    uploaded.upload(str(mnist), target_path="mnist", overwrite=True, show_progress=False)
    second = Dataset.File.from_files((uploaded, "mnist/train/")).register(
        ws, "train", create_new_version=True
    )
    assert second.version == 2
    first = Dataset.get_by_name(ws, "train", version=1)
    paths = first.download(str(tmp_path / "v1"))
    assert sorted(os.path.basename(p) for p in paths) == ["images.bin", "labels.bin"]
    assert (tmp_path / "v1/labels.bin").read_bytes() == b"\x02" * 100
    second.download(str(tmp_path / "v2"))
    assert (tmp_path / "v2/labels.bin").read_bytes() == b"new labels"


def test_registering_an_existing_name_names_the_latest_version_and_the_flag(ws, uploaded):
    Dataset.File.from_files((uploaded, "mnist/train/")).register(ws, "digits")
    other = Dataset.File.from_files((uploaded, "mnist/test/"))
    with pytest.raises(UserErrorException, match=r"latest version 1.*create_new_version=True"):
        other.register(ws, "digits")
    assert Dataset.get_by_name(ws, "digits").to_path() == ["/images.bin", "/labels.bin"]


def test_a_path_that_matches_nothing_lists_the_closest(ws, uploaded):
    with pytest.raises(UserErrorException, match=r"Closest paths: .*mnist/train/"):
        Dataset.File.from_files((uploaded, "mnist/trian/"))


def test_globs_lists_take_and_skip(ws, uploaded):
    images = Dataset.File.from_files((uploaded, "mnist/**/images.bin"))
    assert images.to_path() == ["/test/images.bin", "/train/images.bin"]
    both = Dataset.File.from_files([(uploaded, "mnist/test/"), uploaded.path("mnist/train/")])
    assert len(both.to_path()) == 3
    assert both.skip(1).take(1).to_path() == ["/train/images.bin"]


def test_mount_gives_the_files_read_only_and_cleans_up(ws, uploaded):
    dataset = Dataset.File.from_files((uploaded, "mnist/")).register(ws, "m")
    with dataset.mount() as context:
        path = os.path.join(context.mount_point, "train", "labels.bin")
        assert Path(path).read_bytes() == b"\x02" * 100
        assert not os.access(path, os.W_OK) or os.geteuid() == 0
        assert not os.stat(path).st_mode & 0o222
    assert not os.path.exists(context.mount_point)


def test_a_tabular_dataset_reads_into_pandas(ws, iris):
    dataset = Dataset.Tabular.from_delimited_files(path=(iris, "iris/*.csv"))
    assert isinstance(dataset, TabularDataset)
    frame = dataset.to_pandas_dataframe()
    assert list(frame.columns) == ["sepal", "petal", "species"]
    assert list(frame["species"]) == ["setosa", "setosa", "virginica"]
    registered = dataset.register(ws, "iris")
    kept = registered.keep_columns(["species"]).take(2).to_pandas_dataframe()
    assert kept.to_dict("list") == {"species": ["setosa", "setosa"]}
    dropped = Dataset.get_by_name(ws, "iris").drop_columns("petal").skip(2)
    assert dropped.to_pandas_dataframe().to_dict("list") == {
        "sepal": [6.3],
        "species": ["virginica"],
    }
    with_path = Dataset.Tabular.from_delimited_files((iris, "iris/part2.csv"), include_path=True)
    assert with_path.to_pandas_dataframe()["Path"].tolist() == ["/part2.csv"]


def test_a_delimited_file_that_fails_to_parse_names_file_line_and_column(ws, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "rows.csv").write_text("a,b\n1,2\n3,4,5\n")
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path="bad", show_progress=False)
    with pytest.raises(UserErrorException, match=r"bad/rows.csv: line 3, column 3"):
        Dataset.Tabular.from_delimited_files((datastore, "bad/rows.csv"))
    assert ws.datasets == {}


def test_parquet_files(ws, tmp_path):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    folder = tmp_path / "pq"
    folder.mkdir()
    pandas.DataFrame({"x": [1, 2, 3]}).to_parquet(folder / "x.parquet")
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path="pq", show_progress=False)
    dataset = Dataset.Tabular.from_parquet_files((datastore, "pq/x.parquet"))
    assert dataset.take(2).to_pandas_dataframe()["x"].tolist() == [1, 2]


def test_an_http_url_is_fetched_and_kept_in_the_default_datastore(ws, tmp_path):
    import functools
    import http.server
    import threading

    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "iris.csv").write_text("a,b\n1,2\n")
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "x.csv").write_text("a,b\n3,4\n")
    datastore = ws.get_default_datastore()
    datastore.upload(str(tmp_path / "seed"), "seed", show_progress=False)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=tmp_path / "web")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/iris.csv"
    try:
        with pytest.raises(UserErrorException, match="list a datastore path before"):
            Dataset.Tabular.from_delimited_files(url)
        dataset = Dataset.Tabular.from_delimited_files([(datastore, "seed/x.csv"), url])
    finally:
        server.shutdown()
    assert sorted(dataset.to_pandas_dataframe()["a"]) == [1, 3]
    assert any(f["path"].endswith("/iris.csv") for f in datastore.list_files("web/"))
