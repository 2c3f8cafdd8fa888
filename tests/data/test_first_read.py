"""A first read of a tabular dataset parses each file while it downloads into the cache. Only
a file whose sha256 matched is kept; damage, a file gone from the studio or a stopped read
leave no part file and no download thread behind."""

from __future__ import annotations

import threading

import pytest

from mlstudio.sdk import Dataset, UserErrorException
from mlstudio.sdk import _data_files as files
from mlstudio.sdk.exceptions import NotFoundException

pandas = pytest.importorskip("pandas")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def _dataset(ws, tmp_path, text: str):
    folder = tmp_path / "first"
    folder.mkdir()
    (folder / "rows.csv").write_text(text)
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path="first", show_progress=False)
    return Dataset.Tabular.from_delimited_files((datastore, "first/rows.csv"), validate=False)


def _with_manifest(monkeypatch, dataset, change: dict, sent: bool = True) -> None:
    """A fake of a manifest that no longer fits the studio's file (damage on the way, or the
    file gone since the manifest was resolved): the real one, with `change` applied. With
    sent=False the bytes the studio sent along are dropped, so the file is fetched by GET."""
    real = type(dataset)._resolved

    def changed(self):
        entries, answer = real(self)
        if answer is not None and not sent:
            answer.close()
            answer = None
        return [{**entry, **change} for entry in entries], answer

    monkeypatch.setattr(type(dataset), "_resolved", changed)


def _left_behind(cache) -> list[str]:
    """The files in the cache (but the memo of what a definition resolved to) and download
    threads still running."""
    parts = [p.name for p in cache.rglob("*") if p.is_file() and p.parent.name != "resolved"]
    threads = [t.name for t in threading.enumerate() if t.name == "mlstudio-fetch"]
    return parts + threads


def test_it_reads_the_frame_and_then_reads_it_from_the_cache(ws, tmp_path, cache):
    dataset = _dataset(ws, tmp_path, "a,b\n1,x\n2,y\n")
    assert dataset.to_pandas_dataframe().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    assert sorted(_left_behind(cache)) == [".complete", "rows.csv"]
    assert dataset.to_pandas_dataframe().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_damaged_bytes_are_refused_as_damage_even_when_they_also_fail_to_parse(
    ws, tmp_path, cache, monkeypatch
):
    dataset = _dataset(ws, tmp_path, "a,b\n1,2\n3,4,5\n")
    _with_manifest(monkeypatch, dataset, {"sha256": "0" * 64})
    with pytest.raises(UserErrorException, match="does not have the content the dataset pinned"):
        dataset.to_pandas_dataframe()
    assert _left_behind(cache) == []


def test_a_row_that_fails_to_parse_leaves_nothing_half_written(ws, tmp_path, cache):
    dataset = _dataset(ws, tmp_path, "a,b\n1,2\n3,4,5\n")
    for _ in range(2):  # not cached as complete: the second read fails the same way
        with pytest.raises(UserErrorException, match=r"first/rows.csv: .*line 3"):
            dataset.to_pandas_dataframe()
    assert [name for name in _left_behind(cache) if name != "rows.csv"] == []


def test_a_file_gone_from_the_studio_is_not_found_and_nothing_is_cached(
    ws, tmp_path, cache, monkeypatch
):
    dataset = _dataset(ws, tmp_path, "a,b\n1,2\n")
    _with_manifest(monkeypatch, dataset, {"datastore_path": "first/gone.csv"}, sent=False)
    with pytest.raises(NotFoundException, match=r"first/gone\.csv"):
        dataset.to_pandas_dataframe()
    assert _left_behind(cache) == []


def test_a_read_stopped_midway_stops_the_download_and_keeps_nothing(ws, tmp_path, cache):
    dataset = _dataset(ws, tmp_path, "a,b\n" + "1,2\n" * 500_000)
    entry = dataset._manifest()[0]
    target = cache / "stopped" / "rows.csv"
    url = dataset._file_url(entry)
    with pytest.raises(KeyboardInterrupt), files.streamed(ws._client, url, entry, target) as source:
        assert source.read(4) == b"a,b\n"
        raise KeyboardInterrupt
    assert _left_behind(cache) == []


def _requests(monkeypatch, ws) -> list[str]:
    """What the SDK asks the studio, in order (a spy: the requests still go out)."""
    asked = []
    real = ws._client.open

    def spied(method, path, **kwargs):
        asked.append(f"{method} {path.rsplit('/datasets/', 1)[-1]}")
        return real(method, path, **kwargs)

    monkeypatch.setattr(ws._client, "open", spied)
    return asked


def test_a_first_read_of_one_file_is_one_request_and_so_is_a_cached_read(
    ws, tmp_path, cache, monkeypatch
):
    dataset = _dataset(ws, tmp_path, "a,b\n1,x\n2,y\n")
    asked = _requests(monkeypatch, ws)
    for _ in range(2):
        assert dataset.to_pandas_dataframe().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    assert asked == ["POST resolve/content"] * 2


def test_a_cached_read_gets_the_datastores_new_content_after_an_overwrite(ws, tmp_path, cache):
    dataset = _dataset(ws, tmp_path, "a,b\n1,2\n")
    assert dataset.to_pandas_dataframe().to_dict("list") == {"a": [1], "b": [2]}
    (tmp_path / "first" / "rows.csv").write_text("a,b\n9,9\n")
    ws.get_default_datastore().upload(str(tmp_path / "first"), target_path="first",
                                      overwrite=True, show_progress=False)  # fmt: skip
    assert dataset.to_pandas_dataframe().to_dict("list") == {"a": [9], "b": [9]}
