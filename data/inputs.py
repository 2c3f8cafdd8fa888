"""Datasets as run inputs. At submit, each input is pinned: a registered version by its id,
an unregistered definition by the manifest it matches then. At Preparing, each becomes a local
folder: `mount` links the store's files (zero copy, read-only), `download` copies them; the
run's arguments name that folder in place of `DatasetConsumptionConfig:<name>`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from django.core.files.storage import default_storage

from data import datasets, outputs, services
from data.models import DatasetUse, DatasetVersion, Datastore
from mlstudio.errors import UserError
from mlstudio.paths import clean_relative_path, confined
from runs.blobs import blob_name, copy_hashed
from workspaces.models import Workspace

MODES = ("direct", "mount", "download", "upload")
PLACEHOLDER = "DatasetConsumptionConfig:"
FOLDER = "datasets"


def _input_clean(raw: object) -> dict:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise UserError("Each dataset input needs a name: dataset.as_named_input('name').")
    mode = raw.get("mode") or "direct"
    if mode not in MODES:
        raise UserError(f"Dataset input {raw['name']!r}: mode {mode!r} is not one of {MODES}.")
    where = raw.get("path_on_compute")
    where = clean_relative_path(str(where).lstrip("/"), what="path_on_compute") if where else ""
    name = clean_relative_path(raw["name"], what="input name")
    return {"name": name, "mode": mode, "path_on_compute": where}


def inputs_resolve(*, workspace: Workspace, raw: object) -> list[dict]:
    """The run's dataset inputs, each pinned now; already pinned ones are kept as they are."""
    if not raw:
        return []
    if not isinstance(raw, list):
        raise UserError("`datasets` must be a list of inputs.")
    out, names = [], set()
    for item in raw:
        if isinstance(item, dict) and item.get("pinned"):
            out.append(item)
            continue
        entry = _input_clean(item)
        if entry["name"] in names:
            raise UserError(f"Two inputs are named {entry['name']!r}; name each once.")
        names.add(entry["name"])
        if entry["mode"] == "upload":
            out.append(outputs.output_clean(workspace=workspace, raw=item, name=entry["name"]))
            continue
        dataset = item.get("dataset") or {}
        if dataset.get("id"):
            version = datasets.dataset_version_by_id(workspace=workspace, uid=dataset["id"])
            entry.update(id=str(version.uid), dataset_name=version.dataset.name,
                         version=version.version)  # fmt: skip
        else:
            definition = datasets.definition_clean(dataset.get("definition"))
            entry.update(definition=definition, manifest=datasets.definition_resolve(
                workspace=workspace, definition=definition))  # fmt: skip
        out.append({**entry, "pinned": True})
    return out


def _version_of(workspace: Workspace, item: dict) -> DatasetVersion | None:
    if not item.get("id"):
        return None
    found = DatasetVersion.objects.filter(dataset__workspace=workspace, uid=item["id"]).first()
    if found is None:
        raise UserError(
            f"Input {item['name']!r}: dataset {item['dataset_name']}:{item['version']} was "
            "deleted after the run was submitted; register it again and resubmit."
        )
    return found


def _place(source: Path, target: Path, *, link: bool) -> None:
    if link:
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # another file system: copy instead
    with source.open("rb") as handle, target.open("wb") as out:
        copy_hashed(handle, out)


def _source(workspace: Workspace, entry: dict, stores: dict) -> Path:
    name = entry["datastore"]
    if name not in stores:
        stores[name] = services.datastore_get(workspace=workspace, name=name)
    datastore = stores[name]
    if datastore.kind == Datastore.Kind.LOCAL:
        path = Path(datastore.local_path) / entry["datastore_path"]
        if not path.is_file():
            import socket

            raise UserError(
                f"Node {socket.gethostname()} cannot see {path} of local datastore {name!r}; "
                "mount the folder at the same path on every worker node."
            )
        return path
    return Path(default_storage.path(blob_name(sha256=entry["sha256"])))


def _materialize(workspace, manifest, folder: Path, *, link: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stores: dict = {}
    for entry in manifest:
        target = confined(folder, entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        source = _source(workspace, entry, stores)
        _place(source, target, link=link and entry["datastore"] in _blob_stores(stores))
        if link:
            # A link shares the blob's inode: nobody may write it. The folders are the
            # studio's (made after the working folder was handed to the run user), so the
            # run user cannot unlink or replace a file in them either.
            os.chmod(target, 0o444)


def _blob_stores(stores: dict) -> set[str]:
    return {n for n, d in stores.items() if d.kind == Datastore.Kind.BLOB}


def inputs_plan(*, workspace: Workspace, inputs: list[dict], workdir: Path) -> dict[str, dict]:
    """Where each input will be (a folder under the working folder) and what the script's
    Run.input_datasets gets for it; a version deleted since the submit is refused here."""
    placed = {}
    for item in inputs:
        if item["mode"] == "upload":
            folder = confined(workdir, f"{FOLDER}/{item['name']}")
            placed[item["name"]] = outputs.output_plan(item, folder)
            continue
        version = _version_of(workspace, item)
        manifest = version.manifest if version else item["manifest"]
        folder = confined(workdir, item["path_on_compute"] or f"{FOLDER}/{item['name']}")
        label = f"{item['dataset_name']}:{item['version']}" if version else "unregistered"
        placed[item["name"]] = {
            "path": str(folder), "mode": item["mode"], "kind": _kind(version, item),
            "label": label, "dataset": _registered(version, item, manifest),
        }  # fmt: skip
    return placed


def is_linked(info: dict) -> bool:
    """A planned input whose folder links the store's files (mount and direct), when linking
    is safe: not a download (a copy) nor an output folder."""
    return info["mode"] not in ("download", "upload")


def inputs_materialize(
    *, workspace: Workspace, placed: dict[str, dict], zero_copy: bool, say: Callable[[str], None]
) -> None:
    """Make each planned folder: `mount` (and a direct input) links the store's files,
    read-only, when `zero_copy` (the script runs as another user, who cannot write them);
    `download` copies them, checking each against its sha256."""
    for name, info in placed.items():
        if info["mode"] == "upload":
            continue
        folder = Path(info["path"])
        if folder.exists():
            shutil.rmtree(folder)
        link = zero_copy and is_linked(info)
        manifest = info["dataset"]["files"]
        _materialize(workspace, manifest, folder, link=link)
        how = "mounted read-only (linked, no copy)" if link else "downloaded (copied)"
        say(f"Dataset input {name!r} ({info['label']}, {len(manifest)} files): {how} at {folder}")


def _kind(version, item) -> str:
    return version.kind if version else item["definition"]["kind"]


def _registered(version, item, manifest) -> dict:
    if version is None:
        return {"definition": item["definition"], "files": manifest}
    return {"id": str(version.uid), "name": version.dataset.name, "version": version.version,
            "kind": version.kind, "definition": version.definition, "files": manifest,
            "description": version.description, "tags": version.tags}  # fmt: skip


def argv_with_inputs(argv: list[str], placed: dict[str, dict]) -> list[str]:
    """`DatasetConsumptionConfig:<name>` in the command line becomes the input's folder."""
    out = []
    for arg in argv:
        for name, info in placed.items():
            arg = arg.replace(info.get("placeholder") or f"{PLACEHOLDER}{name}", info["path"])
        out.append(arg)
    return out


def inputs_record(*, workspace: Workspace, run_id: str, experiment_name: str, inputs) -> None:
    """The run read these versions: a dataset's page lists the run, the run page the version."""
    for item in inputs:
        if item.get("id"):
            version = DatasetVersion.objects.filter(uid=item["id"]).first()
            if version is not None:
                DatasetUse.objects.get_or_create(
                    version=version, run_id=run_id, role=DatasetUse.Role.INPUT,
                    input_name=item["name"],
                    defaults={"experiment_name": experiment_name, "mode": item["mode"]},
                )  # fmt: skip


def datasets_of_run(*, run_id: str) -> list[dict]:
    uses = DatasetUse.objects.select_related("version__dataset").filter(run_id=run_id)
    return [
        {"name": u.version.dataset.name, "version": u.version.version, "id": str(u.version.uid),
         "role": u.role, "input_name": u.input_name, "mode": u.mode}
        for u in uses
    ]  # fmt: skip
