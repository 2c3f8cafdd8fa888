"""to_pandas_dataframe() gives the frame pandas.read_csv gives for the same file, read the first
time (fetched) and then from the cache: column types, missing values, headers, encodings and
separators. The files are the ones where CSV readers' inference commonly differs (dates,
`+1`, integers past int64, renamed columns, ragged rows), so a faster reader swapped in later
has to keep them."""

from __future__ import annotations

import shutil

import pytest

from mlstudio.sdk import Dataset, UserErrorException

pandas = pytest.importorskip("pandas")

FILES = {
    "numbers.csv": "id,x,label\n1,0.5,a\n2,1.5,b\n",
    "empty_strings.csv": 'a,b\nx,1\n,2\n"",3\n',
    "all_missing.csv": "a,b\n,1\n,2\n",
    "dates.csv": "day,n\n2024-01-01,1\n2024-01-02,2\n",
    "timestamps.csv": "at,n\n2024-01-01 10:00:00,1\n2024-01-02T11:00:00Z,2\n",
    "times.csv": "at,n\n10:00:00,1\n11:30:00,2\n",
    "bools.csv": "a,b,c\nTrue,1,true\nfalse,0,1\n",
    "int_missing.csv": "a,b\n1,1\n,2\nNA,3\n",
    "mixed.csv": "a,b\n1,1\nx,2\n",
    "duplicate_names.csv": "a,a,\n1,2,3\n",
    "multiline.csv": 'a,b\n"x\ny",1\nz,2\n',
    "big_ints.csv": "a,b\n99999999999999999999,18446744073709551615\n1,1\n",
    "plus_signs.csv": "a\n+1\n2\n",
    "whole_floats.csv": "a,b\n1.0,1e3\n2.0,inf\n",
    "na_spellings.csv": "a,b\nnull,1\nN/A,2\nnan,3\nx,4\n",
    "crlf_blank_lines.csv": "a,b\r\n1,2\r\n\r\n3,4\r\n",
    "bom.csv": "\ufeffa,b\n1,2\n",
    "header_only.csv": "a,b\n",
    "short_rows.csv": "a,b,c\n1,2\n3,4,5\n",
    "index_column.csv": "a,b\n1,2,3\n4,5,6\n",
    "leading_zeros.csv": "code,n\n007,1\n010,2\n",
}
LARGE_ROWS = 300_000  # several MB: arrives in many chunks


def _peer(path, **kwargs):
    return pandas.read_csv(path, **kwargs).reset_index(drop=True)  # as v1: rows numbered from 0


def _uploaded(ws, folder, target: str):
    """The default datastore, once the folder's files are uploaded under `target` in it."""
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path=target, show_progress=False)
    return datastore


@pytest.fixture
def csvs(ws, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_bytes(text.encode())
    (folder / "latin1.csv").write_bytes("name,n\ncafé,1\n".encode("latin-1"))
    (folder / "tabs.tsv").write_text("a\tb\n1\tx\n")
    with (folder / "large.csv").open("w") as out:
        out.write("id,x,when,label\n")
        for i in range(LARGE_ROWS):
            out.write(f"{i},{i * 0.25},2024-01-{i % 28 + 1:02d},c{i % 7}\n")
    datastore = _uploaded(ws, folder, "csv")
    return datastore, folder


def _cases(folder):
    cases = [(name, {}, {}) for name in [*FILES, "large.csv"]]
    cases += [
        ("latin1.csv", {"encoding": "iso88591"}, {"encoding": "latin-1"}),
        ("tabs.tsv", {"separator": "\t"}, {"sep": "\t"}),
        ("numbers.csv", {"header": False}, {"header": None}),
        ("dates.csv", {"header": False}, {"header": None}),
        ("leading_zeros.csv", {"infer_column_types": False}, {"dtype": str}),
    ]
    return [(folder / name, options, kwargs) for name, options, kwargs in cases]


def _assert_same_frames(datastore, folder, cache):
    for path, options, kwargs in _cases(folder):
        dataset = Dataset.Tabular.from_delimited_files(
            (datastore, f"csv/{path.name}"), validate=False, **options
        )
        expected = _peer(path, **kwargs)
        for read in ("fetched", "cached"):
            try:
                pandas.testing.assert_frame_equal(dataset.to_pandas_dataframe(), expected)
            except AssertionError as exc:
                raise AssertionError(f"{path.name} {options} ({read}): {exc}") from None
        assert any(cache.rglob(path.name)), f"{path.name} was not kept in the cache"


def test_the_frame_is_pandas_read_csvs(csvs, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _assert_same_frames(*csvs, tmp_path / "cache")


def test_a_row_that_fails_to_parse_is_named_when_the_frame_is_read(ws, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "rows.csv").write_text("a,b\n1,2\n3,4,5\n")
    datastore = _uploaded(ws, folder, "bad")
    dataset = Dataset.Tabular.from_delimited_files((datastore, "bad/rows.csv"), validate=False)
    with pytest.raises(UserErrorException, match=r"bad/rows.csv: .*line 3"):
        dataset.to_pandas_dataframe()


def test_uvicorn_sends_a_large_file_as_it_reads_it(server, owner, workspace, tmp_path, monkeypatch):
    """Under ASGI a file goes out in blocks read in a thread (Django would otherwise read all
    of it into memory before the first byte): same bytes, its length announced, same frame."""
    import urllib.request

    from tests.conftest import sdk_workspace

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ws = sdk_workspace(server, owner)
    folder = tmp_path / "big"
    folder.mkdir()
    with (folder / "rows.csv").open("w") as out:
        out.write("id,x\n")
        for i in range(LARGE_ROWS):
            out.write(f"{i},{i * 0.25}\n")
    datastore = _uploaded(ws, folder, "big")
    request = urllib.request.Request(
        f"{server}/api/workspaces/lab/datastores/workspaceblobstore/files/big/rows.csv",
        headers={"Authorization": f"Bearer {ws._client._token}"},
    )
    with urllib.request.urlopen(request) as answer:
        body = answer.read()
        assert int(answer.headers["Content-Length"]) == len(body)
    assert body == (folder / "rows.csv").read_bytes()
    dataset = Dataset.Tabular.from_delimited_files((datastore, "big/rows.csv"), validate=False)
    pandas.testing.assert_frame_equal(dataset.to_pandas_dataframe(), _peer(folder / "rows.csv"))


def _files_in(cache):
    return sorted(p.name for p in cache.rglob("*") if p.is_file())


def test_a_registered_version_reads_its_pinned_content_and_damage_is_refused(
    ws, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    folder = tmp_path / "pinned"
    folder.mkdir()
    (folder / "rows.csv").write_text("a,b\n1,2\n")
    datastore = _uploaded(ws, folder, "pinned")
    Dataset.Tabular.from_delimited_files((datastore, "pinned/rows.csv")).register(ws, "rows")
    (folder / "rows.csv").write_text("a,b\n9,9\n")  # the datastore's file changes afterwards
    datastore.upload(str(folder), target_path="pinned", overwrite=True, show_progress=False)
    registered = Dataset.get_by_name(ws, "rows")
    assert registered.to_pandas_dataframe().to_dict("list") == {"a": [1], "b": [2]}

    # A fake of bytes damaged on the way (nothing here corrupts a loopback transfer): the
    # manifest pins another sha256 than the bytes that arrive.
    shutil.rmtree(cache)
    damaged = [{**entry, "sha256": "0" * 64} for entry in registered._manifest()]
    monkeypatch.setattr(type(registered), "_manifest", lambda self: damaged)
    with pytest.raises(UserErrorException, match="does not have the content the dataset pinned"):
        registered.to_pandas_dataframe()
    assert _files_in(cache) == []
