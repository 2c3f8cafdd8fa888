"""Uploading files and zips to the snapshot API as the SDK and the submit page do."""

import hashlib
import io
import json
import stat
import zipfile
from pathlib import Path

API = "/api/workspaces/lab"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry(path: str, data: bytes, mode: int = 0o644) -> dict:
    return {"path": path, "size": len(data), "sha256": sha(data), "mode": mode}


def stored_files(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())


def post_json(client, url: str, body: dict):
    return client.post(url, json.dumps(body), content_type="application/json")


def put_blob(client, data: bytes, sha256: str | None = None, ws: str = "lab"):
    url = f"/api/workspaces/{ws}/blobs/{sha256 or sha(data)}"
    return client.put(url, data, content_type="application/octet-stream")


def upload(client, files: dict[str, bytes], modes: dict[str, int] | None = None) -> dict:
    """What the SDK does: negotiate, upload what is missing, create the snapshot."""
    manifest = [entry(p, d, (modes or {}).get(p, 0o644)) for p, d in files.items()]
    missing = post_json(client, f"{API}/snapshots/negotiate", {"files": manifest}).json()
    by_sha = {sha(d): d for d in files.values()}
    for sha256 in missing["missing"]:
        assert put_blob(client, by_sha[sha256]).status_code == 201
    response = post_json(client, f"{API}/snapshots", {"files": manifest})
    assert response.status_code == 201, response.json()
    return response.json()


def make_zip(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | (modes or {}).get(path, 0o644)) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def zip_with_entry(name: str, kind: int, data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.py", b"print('hi')\n")
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (kind | 0o644) << 16
        archive.writestr(info, data)
    return buffer.getvalue()


def post_zip(client, data: bytes):
    return client.post(f"{API}/snapshots/zip", data, content_type="application/zip")


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


# --- negotiation and blobs -----------------------------------------------------------------
