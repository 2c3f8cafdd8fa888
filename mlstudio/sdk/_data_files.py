"""Local files for datastores and datasets: hash a folder or a list of files into manifest
entries (hashes cached between calls, as for snapshots), and fetch files, each checked."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from mlstudio.sdk._http import Client
from mlstudio.sdk._snapshot import CHUNK_SIZE, ManifestEntry, _entry, _Found, _HashCache
from mlstudio.sdk.exceptions import UserErrorException


def clean_target(target_path) -> str:
    """'' or a relative folder; `..` and absolute paths are refused before anything is sent."""
    if target_path in (None, "", ".", "/"):
        return ""
    text = str(target_path).replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UserErrorException(
            f"target_path {target_path!r} is absolute; give a folder relative to the "
            "datastore's root, e.g. 'mnist/'."
        )
    parts = [p for p in PurePosixPath(text).parts if p != "."]
    if ".." in parts:
        raise UserErrorException(
            f"target_path {target_path!r} contains '..'; give a folder inside the datastore."
        )
    return "/".join(parts)


def folder_entries(src_dir) -> list[ManifestEntry]:
    base = Path(os.path.realpath(Path(src_dir).expanduser()))
    if not base.is_dir():
        raise UserErrorException(f"src_dir {src_dir!r} is not a folder on this machine.")
    found = []
    for folder, dirs, names in os.walk(base):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and Path(os.path.realpath(path)).is_relative_to(base):
                found.append(_Found(path.relative_to(base).as_posix(), path, path.stat()))
    return _hashed(base, found)


def files_entries(files, relative_root=None) -> list[ManifestEntry]:
    paths = [Path(os.path.abspath(Path(f).expanduser())) for f in files]
    for path in paths:
        if not path.is_file():
            raise UserErrorException(f"{path} is not a file on this machine; list files only.")
    root = Path(os.path.abspath(relative_root)) if relative_root else None
    if root is None:
        root = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path.cwd()
    found = []
    for path in paths:
        if not path.is_relative_to(root):
            raise UserErrorException(
                f"{path} is not under relative_root {str(root)!r}; pass a relative_root that "
                "holds every file."
            )
        found.append(_Found(path.relative_to(root).as_posix(), path, path.stat()))
    return _hashed(root, found)


def _hashed(root: Path, found: list[_Found]) -> list[ManifestEntry]:
    cache = _HashCache(root)
    entries = [_entry(item, cache) for item in sorted(found, key=lambda f: f.path)]
    cache.save()
    return entries


def fetch(client: Client, url: str, entry: dict, target: Path, progress=None,
          damaged: str = "") -> None:  # fmt: skip
    """One file into `target`, replaced by a rename after its sha256 matched (when known)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        client.open("GET", url) as answer,
        tempfile.NamedTemporaryFile(dir=target.parent, prefix=".part-", delete=False) as out,
    ):
        digest = hashlib.sha256()
        while chunk := answer.read(CHUNK_SIZE):
            digest.update(chunk)
            out.write(chunk)
            if progress is not None:
                progress(len(chunk))
    if entry.get("sha256") and digest.hexdigest() != entry["sha256"]:
        os.unlink(out.name)
        raise UserErrorException(
            damaged
            or f"{entry['path']} does not have the content the dataset pinned (sha256 mismatch): "
            "the file changed in its local datastore, or arrived damaged. Register a new "
            "version, or download again."
        )
    os.chmod(out.name, entry.get("mode", 0o644))
    os.replace(out.name, target)


def confined(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise UserErrorException(f"The studio sent a file path outside the folder: {relative!r}.")
    return target


def quoted(path: str) -> str:
    return quote(path)


def digest_of(entries: list[dict]) -> str:
    canonical = "\n".join(f"{e['path']}\0{e['sha256']}" for e in entries)
    return hashlib.sha256(canonical.encode()).hexdigest()


def cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    home = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return home / "mlstudio"


def apply_file_transforms(entries: list[dict], transforms: list) -> list[dict]:
    """take/skip on a file dataset count files, in path order."""
    for step in transforms or []:
        if step[0] == "take":
            entries = entries[: step[1]]
        elif step[0] == "skip":
            entries = entries[step[1] :]
    return entries


def copy_local(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)
