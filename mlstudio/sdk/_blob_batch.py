"""Send file bodies the studio lacks, many small ones per request.

1. POST workspaces/{ws}/blob-batches/missing {"sha256": [...]} -> {"missing": [...]}
2. POST workspaces/{ws}/blob-batches: one JSON line {"blobs": [{"sha256", "size"}, ...]}, a
   newline, then the bodies in that order (each checked against its sha256 as it is read).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from mlstudio.sdk import _snapshot
from mlstudio.sdk._http import Client, segment
from mlstudio.sdk._snapshot import ManifestEntry, _distinct, _missing, _unreadable

BATCH_BYTES = 64 * 1024 * 1024
BATCH_FILES = 2000


def missing_of(client: Client, workspace: str, entries: list[ManifestEntry]) -> set[str]:
    shas = sorted({e.sha256 for e in entries})
    found: set[str] = set()
    for start in range(0, len(shas), 50_000):
        answer = client.post(
            f"workspaces/{segment(workspace)}/blob-batches/missing",
            {"sha256": shas[start : start + 50_000]},
        )
        found |= _missing(answer)
    return found


def _batches(entries: list[ManifestEntry]) -> Iterator[list[ManifestEntry]]:
    batch: list[ManifestEntry] = []
    size = 0
    for entry in entries:
        if batch and (size + entry.size > BATCH_BYTES or len(batch) >= BATCH_FILES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch


def _stream(index: bytes, batch: list[ManifestEntry], progress) -> Iterator[bytes]:
    yield index
    for entry in batch:
        try:
            handle = open(entry.local_path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise _unreadable(entry.path, exc) from None
        with handle:
            for chunk in _snapshot._body(handle, entry):
                yield chunk
                if progress is not None:
                    progress(len(chunk))


def send_blobs(
    client: Client,
    workspace: str,
    entries: list[ManifestEntry],
    *,
    missing: set[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Upload each distinct body among `entries` the studio lacks (asked first unless
    `missing` is given); returns the files and bytes sent."""
    if missing is None:
        missing = missing_of(client, workspace, entries)
    to_send = [e for e in _distinct(tuple(entries)) if e.sha256 in missing]
    for batch in _batches(to_send):
        index = (
            json.dumps({"blobs": [{"sha256": e.sha256, "size": e.size} for e in batch]}) + "\n"
        ).encode()
        length = len(index) + sum(e.size for e in batch)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        with client.open(
            "POST",
            f"workspaces/{segment(workspace)}/blob-batches",
            data=_stream(index, batch, progress),
            headers=headers,
        ) as answer:
            answer.read()
    return {"uploaded_files": len(to_send), "uploaded_bytes": sum(e.size for e in to_send)}
