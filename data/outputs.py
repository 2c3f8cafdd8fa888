"""OutputFileDatasetConfig: a folder the run writes, given at Preparing, uploaded when the run
ends to its datastore path (`{run-id}` and `{output-name}` filled in) by hard link into the
blob store (no copy), and registered as a dataset version when asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from data import datasets, services
from data.models import DEFAULT_DATASTORE, DatasetUse, DatasetVersion, Datastore
from mlstudio.errors import UserError
from mlstudio.paths import regular_files
from runs.blobs import blob_link
from workspaces.models import Workspace

PLACEHOLDER = "OutputFileDatasetConfig:"
DEFAULT_PATH = "dataset/{run-id}/{output-name}"


def _path(template: str, run_id: str, name: str) -> str:
    return template.replace("{run-id}", run_id).replace("{output-name}", name)


def output_clean(*, workspace: Workspace, raw: dict, name: str) -> dict:
    destination = raw.get("destination") or {"datastore": DEFAULT_DATASTORE, "path": DEFAULT_PATH}
    datastore = services.datastore_get(workspace=workspace, name=str(destination.get("datastore")))
    if datastore.kind != Datastore.Kind.BLOB:
        raise UserError(
            f"Output {name!r}: {datastore.name!r} is a local datastore, read in place; write "
            f"outputs to {DEFAULT_DATASTORE!r}."
        )
    template = str(destination.get("path") or DEFAULT_PATH)
    services.target_path_clean(_path(template, "run", name))  # no '..', not absolute
    register = raw.get("register") or None
    if register:
        datasets._name_check(register.get("name"))
    return {"name": name, "mode": "upload", "pinned": True, "register": register,
            "destination": {"datastore": datastore.name, "path": template}}  # fmt: skip


def output_plan(item: dict, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)  # before the working folder goes to the run user
    return {"path": str(folder), "mode": "upload", "kind": "file", "label": "output",
            "placeholder": f"{PLACEHOLDER}{item['name']}", "dataset": {"files": []},
            "output": item}  # fmt: skip


def _entries(workspace: Workspace, folder: Path) -> list[dict]:
    entries = []
    for path in regular_files(folder):
        blob = blob_link(workspace=workspace, path=path)
        entries.append({"path": path.relative_to(folder).as_posix(), "size": blob.size,
                        "sha256": blob.sha256, "mode": 0o644})  # fmt: skip
    return entries


def outputs_upload(
    *, workspace: Workspace, placed: dict, run_id: str, experiment_name: str, user,
    completed: bool, say: Callable[[str], None],
) -> None:  # fmt: skip
    """Upload each output folder to its datastore path; register it if the run completed."""
    for name, info in placed.items():
        if info["mode"] != "upload":
            continue
        item = info["output"]
        target = _path(item["destination"]["path"], run_id, name)
        datastore = services.datastore_get(
            workspace=workspace, name=item["destination"]["datastore"]
        )
        entries = _entries(workspace, Path(info["path"]))
        services.datastore_files_commit(datastore=datastore, files=entries, target_path=target,
                                        overwrite=True)  # fmt: skip
        say(f"Output {name!r}: {len(entries)} file(s) uploaded to {datastore.name}/{target}")
        register = item.get("register")
        if not (register and completed and entries):
            continue
        version = datasets.dataset_register(
            workspace=workspace, user=user, name=register["name"],
            definition={"kind": "file", "paths": [{"datastore": datastore.name, "path": target}]},
            description=register.get("description"), tags=register.get("tags"),
            create_new_version=True,
        )  # fmt: skip
        _record(version, run_id, experiment_name, name)
        say(f"Output {name!r} registered as dataset {version.dataset.name}:{version.version}")


def _record(version: DatasetVersion, run_id: str, experiment_name: str, name: str) -> None:
    DatasetUse.objects.get_or_create(
        version=version, run_id=run_id, role=DatasetUse.Role.OUTPUT, input_name=name,
        defaults={"experiment_name": experiment_name, "mode": "upload"},
    )  # fmt: skip
