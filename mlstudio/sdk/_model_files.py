"""Moving a model's files: hash a local file or folder, send only the bodies the studio lacks
(with a progress bar), and download a version's files, each checked against its sha256.

The wire contract, as for snapshots (see _snapshot.py):
1. POST workspaces/{ws}/model-blobs/negotiate {"files": [entry, ...]} -> {"missing": [...]}
2. PUT workspaces/{ws}/model-blobs/{sha256} with the raw bytes, once per missing sha256
3. POST workspaces/{ws}/models {"model_name", "root", "files", ...} -> the version
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlstudio.sdk._blob_batch import send_blobs
from mlstudio.sdk._data_files import fetch
from mlstudio.sdk._http import Client, segment
from mlstudio.sdk._snapshot import (
    ManifestEntry,
    _distinct,
    _entry,
    _Found,
    _HashCache,
    _missing,
    human_size,
)
from mlstudio.sdk.exceptions import UserErrorException

PROGRESS_EVERY_SECONDS = 0.2


def local_manifest(
    model_path: str | os.PathLike, root: str, child_paths: list[str] | None = None
) -> tuple[Path, list[ManifestEntry]]:
    """The files under `model_path` as entries named `root/...` (`root` alone for a file).

    A folder is walked in full, or only its `child_paths`; links leading out of it and .git
    folders are left out. Hashes are cached between calls, as for snapshots.
    """
    source = Path(model_path).expanduser()
    if not source.exists():
        raise UserErrorException(
            f"model_path {str(model_path)!r} does not exist here ({Path.cwd()}); pass the path "
            "of the model's file or folder on this machine."
        )
    base = Path(os.path.realpath(source))
    if base.is_file():
        found = [_Found(root, base, base.stat())]
        cache_root = base.parent
    else:
        found = [
            _Found(f"{root}/{relative}", base / relative, (base / relative).stat())
            for relative in _folder_files(base, child_paths)
        ]
        cache_root = base
    if not found:
        raise UserErrorException(f"The folder {model_path} holds no files; nothing to register.")
    cache = _HashCache(cache_root)
    entries = [_entry(item, cache) for item in sorted(found, key=lambda f: f.path)]
    cache.save()
    return base, entries


def _folder_files(base: Path, child_paths: list[str] | None) -> list[str]:
    if child_paths:
        chosen = [Path(p).as_posix().strip("/") for p in child_paths]
        absent = [p for p in chosen if not (base / p).is_file()]
        if absent:
            raise UserErrorException(
                f"child_paths {absent[:5]} are not files in {base}; list paths relative to "
                "model_path."
            )
        return chosen
    files = []
    for folder, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != ".git" and _inside(base, Path(folder) / d))
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and _inside(base, path):
                files.append(path.relative_to(base).as_posix())
    return files


def _inside(base: Path, path: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(base)


class Progress:
    """A one-line progress bar on stdout: bytes sent of the total, redrawn a few times a
    second and once at the end."""

    def __init__(self, label: str, total: int, *, stream=None):
        self.label, self.total, self.done = label, total, 0
        self.stream = stream or sys.stdout
        self.shown_at = 0.0
        self.shown = -1

    def __call__(self, sent: int) -> None:
        self.done += sent
        now = time.monotonic()
        if now - self.shown_at >= PROGRESS_EVERY_SECONDS or self.done >= self.total:
            self.shown_at = now
            self._draw()

    def _draw(self) -> None:
        if self.shown == self.done:
            return
        self.shown = self.done
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(share * 30)
        self.stream.write(
            f"\r{self.label} [{bar:<30}] {share:4.0%} "
            f"{human_size(self.done)} / {human_size(self.total)}"
        )
        self.stream.flush()

    def close(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()


def upload_missing(client: Client, workspace: str, entries: list[ManifestEntry]) -> dict[str, int]:
    """Negotiate, then PUT each body the studio lacks once; returns files and bytes sent."""
    files = [e.as_dict() for e in entries]
    answer = client.post(f"workspaces/{segment(workspace)}/model-blobs/negotiate", {"files": files})
    missing = _missing(answer)
    to_send = [e for e in _distinct(tuple(entries)) if e.sha256 in missing]
    total = sum(e.size for e in to_send)
    progress = Progress("Uploading model files", total) if to_send else None
    # Many small bodies per request (blob-batches), not one request per file.
    sent = send_blobs(client, workspace, to_send, missing=missing, progress=progress)
    if progress is not None:
        progress.close()
    return sent


def download_files(client: Client, path: str, files: list[dict], target_dir: Path) -> None:
    """Write each file of a version under `target_dir`, replacing what is there by a rename
    after its sha256 has been checked, so a failed download never leaves half a file."""
    for entry in files:
        target = _confined(target_dir, entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        url = f"{path}/files/{quote(entry['path'])}"
        damaged = f"{entry['path']} arrived damaged (its sha256 does not match); download again."
        fetch(client, url, entry, target, damaged=damaged)


def _confined(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise UserErrorException(f"The studio sent a file path outside the model: {relative!r}.")
    return target


def as_text_map(values: Any, what: str) -> dict[str, str] | None:
    if values is None:
        return None
    if not isinstance(values, dict):
        raise UserErrorException(f"{what} must be a dict of names to values, not {values!r}.")
    return {str(k): "" if v is None else str(v) for k, v in values.items()}
