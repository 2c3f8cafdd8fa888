"""Snapshots on the SDK side: what goes into the manifest, and what travels on upload."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
import time

import pytest

from mlstudio.sdk import _snapshot
from mlstudio.sdk._http import Client
from mlstudio.sdk._snapshot import build_manifest, human_size, put_blob, upload_snapshot
from mlstudio.sdk.exceptions import AuthenticationException, UserErrorException


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path, data: bytes | str = b"x", *, age: float | None = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if age is not None:
        past = time.time() - age
        os.utime(path, (past, past))
    return path


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    """Every test gets its own hash cache, never the user's ~/.cache."""
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    return folder


@pytest.fixture
def hash_counter(monkeypatch):
    """Counts the files `build_manifest` actually reads, by path."""
    hashed: list[str] = []
    real = _snapshot._hash_file

    def counting(item):
        hashed.append(item.path)
        return real(item)

    monkeypatch.setattr(_snapshot, "_hash_file", counting)
    return hashed


def test_it_records_each_file_sorted_with_size_hash_and_mode(source):
    write(source / "train.py", "print('hi')\n")
    write(source / "lib" / "util.py", b"")
    os.chmod(source / "train.py", 0o700)
    os.chmod(source / "lib" / "util.py", 0o640)
    manifest = build_manifest(source)
    assert manifest.files() == [
        {"path": "lib/util.py", "size": 0, "sha256": sha(b""), "mode": 0o640},
        {"path": "train.py", "size": 12, "sha256": sha(b"print('hi')\n"), "mode": 0o700},
    ]
    assert (manifest.file_count, manifest.total_size, manifest.ignored_count) == (2, 12, 0)
    assert manifest.entries[1].local_path == source / "train.py"


def test_it_skips_git_and_applies_amlignore_without_entering_ignored_folders(source, monkeypatch):
    write(source / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(source / "sub" / ".git", "gitdir: ../.git/modules/sub\n")
    write(source / ".amlignore", "outputs/\n*.ckpt\n!keep.ckpt\n")
    write(source / "outputs" / "deep" / "model.pt")
    write(source / "a.ckpt")
    write(source / "keep.ckpt")
    write(source / "sub" / "train.py")
    scanned: list[str] = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: scanned.append(str(p)) or real_scandir(p))

    manifest = build_manifest(source)

    assert [e.path for e in manifest.entries] == [".amlignore", "keep.ckpt", "sub/train.py"]
    assert manifest.ignored_count == 2  # the outputs folder and a.ckpt
    assert manifest.ignore_source == source / ".amlignore"
    assert not any("outputs" in path or ".git" in path for path in scanned)


def test_it_uses_the_gitignore_when_there_is_no_amlignore(source):
    write(source / ".gitignore", "__pycache__/\n")
    write(source / "__pycache__" / "x.pyc")
    write(source / "x.py")
    manifest = build_manifest(source)
    assert [e.path for e in manifest.entries] == [".gitignore", "x.py"]
    assert manifest.ignore_source == source / ".gitignore"


def test_it_records_a_symlink_inside_the_folder_as_its_target_content(source):
    write(source / "data" / "real.csv", "a,b\n")
    (source / "latest.csv").symlink_to("data/real.csv")
    (source / "alias").symlink_to("data")
    manifest = build_manifest(source)
    by_path = {e.path: e for e in manifest.entries}
    assert sorted(by_path) == ["alias/real.csv", "data/real.csv", "latest.csv"]
    assert by_path["latest.csv"].sha256 == sha(b"a,b\n")
    assert by_path["latest.csv"].size == 4


def test_it_refuses_a_symlink_leading_outside_the_folder(source, tmp_path):
    outside = write(tmp_path / "secrets.txt", "nope")
    (source / "creds.txt").symlink_to(outside)
    with pytest.raises(UserErrorException) as caught:
        build_manifest(source)
    message = str(caught.value)
    assert "creds.txt" in message
    assert "points outside the source directory" in message
    assert "copy the file in or add it to .amlignore" in message


def test_it_accepts_an_outside_symlink_listed_in_amlignore(source, tmp_path):
    (tmp_path / "datasets").mkdir()
    (source / "data").symlink_to(tmp_path / "datasets")
    write(source / ".amlignore", "data/\n")
    manifest = build_manifest(source)
    assert [e.path for e in manifest.entries] == [".amlignore"]
    assert manifest.ignored_count == 1


def test_it_refuses_a_symlink_loop(source):
    write(source / "pkg" / "mod.py")
    (source / "pkg" / "again").symlink_to("..")
    with pytest.raises(UserErrorException, match="pkg/again"):
        build_manifest(source)


def test_it_skips_special_files_and_dangling_links(source):
    os.mkfifo(source / "pipe")
    (source / "gone").symlink_to("missing.txt")
    write(source / "x.py")
    assert [e.path for e in build_manifest(source).entries] == ["x.py"]


def test_it_refuses_a_name_the_studio_cannot_store(source):
    write(source / "back\\slash.txt")
    with pytest.raises(UserErrorException, match=r"backslash.*\.amlignore"):
        build_manifest(source)


def test_it_refuses_a_source_directory_that_is_not_a_folder(tmp_path):
    with pytest.raises(UserErrorException, match="is not a folder"):
        build_manifest(tmp_path / "nowhere")


def test_it_names_the_five_largest_files_when_the_snapshot_is_too_big(source, hash_counter):
    for index, size in enumerate([10, 5000, 3 * 1024 * 1024, 20, 700, 2048, 1]):
        write(source / f"f{index}.bin", b"\0" * size)
    write(source / ".gitignore", "*.log\n")
    with pytest.raises(UserErrorException) as caught:
        build_manifest(source, max_bytes=1024 * 1024)
    message = str(caught.value)
    assert "the studio takes at most 2,000 files and 1.0 MiB" in message
    assert (
        "Largest files: f2.bin (3.0 MiB), f1.bin (4.9 KiB), f5.bin (2.0 KiB), f4.bin (700 B), "
        "f3.bin (20 B)." in message
    )
    assert ".amlignore" in message
    assert "it replaces .gitignore" in message
    assert message.endswith("For example, these lines:\n    /f2.bin")  # 3 MiB of 2 too many
    assert hash_counter == []  # refused before reading a single file


def test_it_names_the_busiest_folders_when_there_are_too_many_files(source):
    for index in range(6):
        write(source / "venv" / f"m{index}.py")
    write(source / "train.py")
    with pytest.raises(UserErrorException) as caught:
        build_manifest(source, max_files=5)
    assert "would hold 7 files" in str(caught.value)
    assert "Folders with the most files: venv/ (6)." in str(caught.value)
    assert str(caught.value).endswith("For example, these lines:\n    /venv/")


def test_human_sizes_use_binary_units():
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 300 * 1024**2, 5 * 1024**4)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "300.0 MiB",
        "5.0 TiB",
    ]


def test_it_does_not_rehash_unchanged_files_on_resubmit(source, hash_counter):
    write(source / "same.py", "one", age=100)
    write(source / "edited.py", "aaa", age=100)
    first = build_manifest(source)
    assert sorted(hash_counter) == ["edited.py", "same.py"]

    hash_counter.clear()
    write(source / "edited.py", "bbb", age=50)  # same size and inode, new mtime
    second = build_manifest(source)

    assert hash_counter == ["edited.py"]
    by_path = {e.path: e.sha256 for e in second.entries}
    assert by_path == {"edited.py": sha(b"bbb"), "same.py": first.entries[1].sha256}


def test_it_does_not_trust_the_cache_for_a_file_written_just_now(source, hash_counter):
    # Another write in the same mtime tick would not change the key, so such a file is not
    # cached at all.
    write(source / "fresh.py", "new")
    build_manifest(source)
    build_manifest(source)
    assert hash_counter == ["fresh.py", "fresh.py"]


def test_it_keeps_the_cache_under_xdg_cache_home(source, cache_home):
    write(source / "a.py", "a", age=100)
    build_manifest(source)
    name = hashlib.sha256(os.fsencode(source.resolve())).hexdigest()
    cached = json.loads((cache_home / "mlstudio" / "hashes" / f"{name}.json").read_text())
    assert cached["files"]["a.py"]["sha256"] == sha(b"a")


def test_it_hashes_everything_when_the_cache_is_unusable(source, cache_home, hash_counter):
    write(source / "a.py", "a", age=100)
    cache_home.write_text("a file where a folder should be")
    assert build_manifest(source).entries[0].sha256 == sha(b"a")
    cache_home.unlink()
    folder = cache_home / "mlstudio" / "hashes"
    folder.mkdir(parents=True)
    name = hashlib.sha256(os.fsencode(source.resolve())).hexdigest()
    (folder / f"{name}.json").write_text('{"files": {"a.py": "not a dict"')
    assert build_manifest(source).entries[0].sha256 == sha(b"a")
    assert hash_counter == ["a.py", "a.py"]


class _QuietServer(http.server.ThreadingHTTPServer):
    """Handler threads are daemons, so a request a test abandons half-sent cannot hang the
    shutdown; and that abandoned request's broken socket is expected, not worth a traceback."""

    def handle_error(self, request, client_address):
        pass


class FakeStudio:
    """A FAKE of the studio's snapshot and blob endpoints, on 127.0.0.1, recording requests.

    It speaks the agreed contract (negotiate, PUT one blob or POST a batch of them, create
    snapshot); tests/data and tests/sdk/test_runs_e2e.py run the SDK against the real studio.
    """

    token = "fake-token"

    def __init__(self):
        self.blobs: dict[str, bytes] = {}
        self.requests: list[dict] = []
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeStudio:
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def client(self, token: str | None = None) -> Client:
        return Client(self.url, token or self.token)

    def puts(self) -> list[dict]:
        """Each body sent, one PUT or one part of a batch: {"sha256", "body"}."""
        sent = []
        for request in self.requests:
            if request["method"] == "PUT":
                sent.append({"sha256": request["path"].rsplit("/", 1)[1], "body": request["body"]})
            elif request["path"].endswith("/blob-batches"):
                sent.extend({"sha256": s, "body": b} for s, b in _batch_parts(request["body"]))
        return sent

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        prefix = "/api/workspaces/lab/"
        if method == "POST" and path == prefix + "snapshots/negotiate":
            wanted = {f["sha256"] for f in json.loads(body)["files"]}
            return 200, {"missing": sorted(wanted - set(self.blobs))}
        if method == "PUT" and path.startswith(prefix + "blobs/"):
            digest = path.rsplit("/", 1)[1]
            if sha(body) != digest:
                return 400, {"detail": "the body does not match its sha256"}
            self.blobs[digest] = body
            return 201, {"sha256": digest}
        if method == "POST" and path == prefix + "blob-batches":
            for digest, part in _batch_parts(body):
                if sha(part) != digest:
                    return 400, {"detail": "a body does not match its sha256"}
                self.blobs[digest] = part
            return 201, {"stored": len(self.blobs)}
        if method == "POST" and path == prefix + "snapshots":
            files = json.loads(body)["files"]
            return 201, {
                "id": "snap-1",
                "file_count": len(files),
                "total_size": sum(f["size"] for f in files),
                "digest": sha(json.dumps(files, sort_keys=True).encode()),
            }
        return 404, {"detail": "Not found"}

    def _handler(self):
        studio = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                studio.requests.append(
                    {"method": self.command, "path": self.path, "headers": self.headers,
                     "body": body}
                )  # fmt: skip
                if self.headers.get("Authorization") != f"Bearer {studio.token}":
                    status, payload = 401, {"detail": "Invalid token"}
                else:
                    status, payload = studio.answer(self.command, self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = _serve

            def log_message(self, *args):
                pass

        return Handler


def _batch_parts(body: bytes) -> list[tuple[str, bytes]]:
    """The blob-batches body: one JSON index line, then the bodies in its order."""
    line, _, rest = body.partition(b"\n")
    parts, offset = [], 0
    for item in json.loads(line)["blobs"]:
        parts.append((item["sha256"], rest[offset : offset + item["size"]]))
        offset += item["size"]
    return parts


@pytest.fixture
def studio():
    with FakeStudio() as fake:
        yield fake


def test_it_uploads_each_missing_body_once_then_creates_the_snapshot(source, studio):
    write(source / "train.py", "print(1)\n")
    write(source / "copy.py", "print(1)\n")
    write(source / "empty.txt", b"")
    git = {"commit": "abc", "dirty": False}

    result = upload_snapshot(studio.client(), "lab", source, git=git)

    negotiate, batch, create = studio.requests
    assert negotiate["path"] == "/api/workspaces/lab/snapshots/negotiate"
    files = json.loads(negotiate["body"])["files"]
    assert [f["path"] for f in files] == ["copy.py", "empty.txt", "train.py"]
    assert all(set(f) == {"path", "size", "sha256", "mode"} for f in files)
    assert batch["path"] == "/api/workspaces/lab/blob-batches"  # both bodies, one request
    assert sorted(p["sha256"] for p in studio.puts()) == sorted({sha(b"print(1)\n"), sha(b"")})
    assert batch["headers"]["Content-Type"] == "application/octet-stream"
    assert batch["headers"]["Content-Length"] == str(len(batch["body"]))
    assert batch["headers"]["Authorization"] == f"Bearer {studio.token}"
    assert all(sha(p["body"]) == p["sha256"] for p in studio.puts())
    assert json.loads(create["body"]) == {"files": files, "git": git}
    assert result["id"] == "snap-1"
    assert (result["file_count"], result["total_size"]) == (3, 18)
    assert (result["uploaded_files"], result["uploaded_bytes"]) == (2, 9)


def test_it_uploads_only_what_changed_on_resubmit(source, studio):
    write(source / "train.py", "v1")
    write(source / "data.csv", "1,2,3\n" * 1000)
    upload_snapshot(studio.client(), "lab", source)
    studio.requests.clear()

    write(source / "train.py", "v2")
    result = upload_snapshot(studio.client(), "lab", source)

    assert [p["body"] for p in studio.puts()] == [b"v2"]
    assert (result["uploaded_files"], result["uploaded_bytes"]) == (1, 2)
    assert json.loads(studio.requests[-1]["body"])["git"] == {}


def test_it_streams_a_large_body_in_chunks(source, studio, monkeypatch):
    monkeypatch.setattr(_snapshot, "CHUNK_SIZE", 64 * 1024)
    chunks: list[int] = []
    real_body = _snapshot._body

    def spying_body(handle, entry):
        for chunk in real_body(handle, entry):
            chunks.append(len(chunk))
            yield chunk

    monkeypatch.setattr(_snapshot, "_body", spying_body)
    data = os.urandom(300 * 1024 + 7)
    write(source / "weights.bin", data)

    upload_snapshot(studio.client(), "lab", source)

    assert studio.blobs[sha(data)] == data
    assert chunks == [64 * 1024] * 4 + [44 * 1024 + 7]


def test_it_refuses_to_finish_a_body_that_changed_since_the_manifest(source, studio):
    write(source / "train.py", "before")
    entry = build_manifest(source).entries[0]
    write(source / "train.py", "after!")  # same size, other bytes
    with pytest.raises(UserErrorException, match=r"train\.py changed while it was being uploaded"):
        put_blob(studio.client(), "lab", entry)
    assert studio.blobs == {}


def test_it_reports_a_refused_token(source, studio):
    write(source / "train.py")
    with pytest.raises(AuthenticationException, match="Invalid token"):
        upload_snapshot(studio.client("wrong"), "lab", source)
