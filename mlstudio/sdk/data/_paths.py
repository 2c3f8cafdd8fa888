"""The `path` argument of the dataset factories: (datastore, 'dir/'), a list of them, a
DataPath, or an http(s) URL (fetched here and uploaded to the default datastore)."""

from __future__ import annotations

import hashlib
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from mlstudio.sdk.data.datapath import DataPath
from mlstudio.sdk.exceptions import UserErrorException


def _one(item, workspaces: list) -> dict:
    if isinstance(item, DataPath):
        datastore, path = item.datastore, item.path_on_datastore
    elif isinstance(item, tuple) and len(item) == 2:
        datastore, path = item
    elif isinstance(item, str) and item.startswith(("http://", "https://")):
        return _from_url(item, workspaces)
    else:
        raise UserErrorException(
            f"Path {item!r} is not (datastore, 'path'), datastore.path('path'), a DataPath or an "
            "http(s) URL."
        )
    if not hasattr(datastore, "workspace"):
        raise UserErrorException(f"{datastore!r} is not a Datastore; use Datastore(ws, name).")
    workspaces.append(datastore.workspace)
    return {"datastore": datastore.name, "path": str(path or "/")}


def _from_url(url: str, workspaces: list) -> dict:
    if not workspaces:
        raise UserErrorException(
            f"{url}: list a datastore path before an http(s) URL, so the SDK knows which "
            "workspace to upload it to."
        )
    from mlstudio.sdk.datastore import Datastore

    datastore = Datastore(workspaces[0])
    parsed = urllib.parse.urlparse(url)
    name = Path(parsed.path).name or "index"
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / name
        try:
            with urllib.request.urlopen(url, timeout=60) as answer, local.open("wb") as out:  # noqa: S310
                while chunk := answer.read(1024 * 1024):
                    out.write(chunk)
        except OSError as exc:
            raise UserErrorException(f"Cannot fetch {url}: {exc}. Is the host reachable?") from None
        target = f"web/{parsed.hostname}/{key}"
        datastore.upload_files([str(local)], relative_root=folder, target_path=target,
                               overwrite=True, show_progress=False)  # fmt: skip
    return {"datastore": datastore.name, "path": f"{target}/{name}"}


def paths_of(path) -> tuple[list[dict], object]:
    """The definition's paths and the workspace they belong to."""
    items = path if isinstance(path, list) else [path]
    workspaces: list = []
    # URLs last, so they find the workspace of a datastore path given beside them.
    ordered = sorted(items, key=lambda i: isinstance(i, str))
    paths = [_one(item, workspaces) for item in ordered]
    if not workspaces:
        raise UserErrorException("Give at least one datastore path: (datastore, 'folder/').")
    return paths, workspaces[0]
