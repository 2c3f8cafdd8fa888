"""Many small blobs in one request, so a 10,000-file upload is a few requests, not 10,000.

Wire format of POST workspaces/{ws}/blob-batches (Content-Type: application/octet-stream):
one line of JSON, {"blobs": [{"sha256": "<hex>", "size": <bytes>}, ...]}, a newline, then the
bodies one after another in that order. Each body is hashed on its way in and stored only when
it matches its sha256 (runs.blobs.blob_store), so a batch cut short keeps the whole blobs it
carried and nothing partial.
"""

from __future__ import annotations

import json
from typing import BinaryIO

from django.conf import settings
from django.db import transaction

from mlstudio.errors import UserError
from runs import blobs
from workspaces.models import Workspace

MAX_INDEX_BYTES = 2 * 1024 * 1024
MAX_BLOBS = 10_000


class _Part:
    """A reader of the next `size` bytes of the request body."""

    def __init__(self, body: BinaryIO, size: int):
        self.body, self.left = body, size

    def read(self, amount: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        want = self.left if amount is None or amount < 0 else min(amount, self.left)
        chunk = self.body.read(want)
        self.left -= len(chunk)
        return chunk


def blobs_missing(*, workspace: Workspace, shas: list[object]) -> list[str]:
    """The sha256s among `shas` the workspace has not uploaded, unique and sorted."""
    wanted = set()
    for sha in shas:
        if not isinstance(sha, str) or not blobs.SHA256.fullmatch(sha):
            raise UserError(
                f"{sha!r} is not a sha256; send 64 lowercase hex characters for each body."
            )
        wanted.add(sha)
    if len(wanted) > 100_000:
        raise UserError("Ask about at most 100,000 sha256s at a time; split the list.")
    return sorted(wanted - blobs.blobs_present(workspace, wanted))


def _index(body: BinaryIO) -> list[dict]:
    line = body.readline(MAX_INDEX_BYTES + 1)
    if not line.endswith(b"\n"):
        raise UserError(
            "The batch has no index line: start the body with one line of JSON "
            '{"blobs": [{"sha256": ..., "size": ...}, ...]} and a newline, then the bodies.'
        )
    try:
        items = json.loads(line)["blobs"]
    except (ValueError, KeyError, TypeError):
        raise UserError(
            'The batch index is not {"blobs": [{"sha256": ..., "size": ...}, ...]}.'
        ) from None
    if not isinstance(items, list) or len(items) > MAX_BLOBS:
        raise UserError(f"The batch index must list at most {MAX_BLOBS:,} blobs.")
    for item in items:
        size = item.get("size") if isinstance(item, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UserError(f"Batch entry {item!r} needs a size in bytes.")
    return items


def blobs_store_batch(*, workspace: Workspace, body: BinaryIO) -> dict:
    """Store every blob of a batch body; return how many were stored and their bytes."""
    items = _index(body)
    limit = settings.MLSTUDIO_DATA_FILE_MAX_BYTES
    with transaction.atomic():  # one commit for the batch's rows, not one per blob
        return _store_all(workspace, body, items, limit)


def _store_all(workspace: Workspace, body: BinaryIO, items: list[dict], limit: int) -> dict:
    stored = new = size = 0
    for item in items:
        if item["size"] > limit:
            raise UserError(
                f"Blob {item.get('sha256')!r} is {blobs.human_size(item['size'])}, over "
                f"MLSTUDIO_DATA_FILE_MAX_BYTES ({blobs.human_size(limit)})."
            )
        part = _Part(body, item["size"])
        blob, created = blobs.blob_store(
            workspace=workspace,
            sha256=str(item.get("sha256")),
            body=part,
            declared_size=item["size"],
            max_bytes=max(limit, 1),
        )
        if part.left:
            raise UserError(
                f"The batch ended inside blob {blob.sha256}; {stored} whole blob(s) were kept. "
                "Send the rest again."
            )
        stored += 1
        new += created
        size += blob.size
    return {"stored": stored, "new": new, "bytes": size}
