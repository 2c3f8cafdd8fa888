"""Writes of the model registry. Each function checks everything before it stores anything, so a
refused registration leaves no model, version or blob behind.

Two ways in, one version: model_register names blobs the workspace already holds (uploaded by
the SDK's Model.register through model_blobs_missing and model_blob_store), and
model_register_from_run makes a run's files blobs by hard link (no second copy) first.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import PurePosixPath
from typing import TypedDict, Unpack

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from data.inputs import datasets_of_run
from mlstudio.errors import Conflict, NotFound, UserError
from mlstudio.names import asset_name_check
from mlstudio.paths import clean_relative_path
from registry.models import ALIAS_RULE, ModelAlias, ModelVersion, RegisteredModel
from runs import blobs, snapshots, store
from runs.blobs import blobs_purge
from runs.definition import RunDefinition
from runs.models import Blob, Run
from runs.submission import string_map
from workspaces.models import Workspace

# Logs are appended in place while a run goes on, so they are copied, never linked.
APPEND_ONLY_FOLDERS = ("user_logs", "system_logs")
MAX_TEXT = 5000


def _check_name(name: object) -> str:
    return asset_name_check(name, what="Model", example="sklearn-mnist")


def _check_framework(framework: str, framework_version: str) -> None:
    if framework_version and not framework:
        raise UserError(
            "model_framework_version needs model_framework: name the framework too "
            "(e.g. model_framework=Model.Framework.SCIKITLEARN)."
        )
    if len(framework) > 100 or len(framework_version) > 100:
        raise UserError("model_framework and model_framework_version take at most 100 characters.")


def _text(value: str | None, what: str) -> str:
    value = value or ""
    if len(value) > MAX_TEXT:
        raise UserError(f"The {what} is {len(value)} characters; keep it to {MAX_TEXT}.")
    return value


def _blobs_check(workspace: Workspace, entries: list[dict]) -> None:
    wanted = {e["sha256"] for e in entries}
    present = set(
        Blob.objects.filter(workspace=workspace, sha256__in=sorted(wanted)).values_list(
            "sha256", flat=True
        )
    )
    missing = sorted(wanted - present)
    if missing:
        raise UserError(
            f"{len(missing)} file(s) of the model were not uploaded (first: {missing[0]}). "
            "Upload them to /model-blobs/<sha256> first; Model.register does this for you."
        )


def _root_check(entries: list[dict], root: str) -> str:
    root = clean_relative_path(root, what="model root")
    if "/" in root:
        raise UserError(f"The model root {root!r} must be one file or folder name, not a path.")
    if not entries:
        raise UserError("The model has no files; register a file or a folder that holds some.")
    outside = [
        e["path"] for e in entries if e["path"] != root and not e["path"].startswith(root + "/")
    ]
    if outside:
        raise UserError(
            f"{outside[0]!r} is not under the model root {root!r}; every file path must start "
            "with the root."
        )
    return root


def model_register(
    *,
    workspace: Workspace,
    user,
    name: str,
    root: str,
    files: list[dict],
    run: Run | None = None,
    source_path: str = "",
    tags: dict | None = None,
    properties: dict | None = None,
    description: str | None = None,
    framework: str = "",
    framework_version: str = "",
    datasets: list | None = None,
) -> ModelVersion:
    """Register version n+1 of `name` (1 for a new name) from blobs the workspace holds.

    `files` is a manifest whose paths all start with `root`; `run` records the lineage.
    """
    _check_name(name)
    _check_framework(framework or "", framework_version or "")
    entries = snapshots.manifest_entries_clean(files)
    root = _root_check(entries, root)
    tags = string_map(tags, "tags")
    properties = string_map(properties, "properties")
    description = _text(description, "description")
    _blobs_check(workspace, entries)
    with transaction.atomic():
        model, _ = RegisteredModel.objects.get_or_create(workspace=workspace, name=name)
        locked = RegisteredModel.objects.select_for_update().get(pk=model.pk)
        latest = locked.versions.aggregate(top=Max("version"))["top"] or 0
        return ModelVersion.objects.create(
            model=locked,
            version=latest + 1,
            description=description,
            tags=tags,
            properties=properties,
            framework=framework or "",
            framework_version=framework_version or "",
            root=root,
            manifest=entries,
            file_count=len(entries),
            total_size=sum(e["size"] for e in entries),
            created_by=user if getattr(user, "is_authenticated", False) else None,
            source_path=source_path,
            **_lineage(run, datasets),
        )


def _lineage(run: Run | None, datasets: list | None) -> dict:
    if run is None:
        return {"lineage": {"datasets": list(datasets or [])}}
    environment = RunDefinition.of(run.definition).environment
    return {
        "run": run,
        "run_id_text": run.pk,
        "experiment_name": run.experiment.name,
        "lineage": {
            "snapshot_id": str(run.snapshot_id) if run.snapshot_id else None,
            "environment": {"name": environment.name, "version": environment.version}
            if environment
            else None,
            # The datasets the caller names, and those the run read (data.inputs).
            "datasets": [*(datasets or []), *datasets_of_run(run_id=run.pk)],
        },
    }


class VersionDetails(TypedDict, total=False):
    """What model_register takes about a version besides its files, run and path."""

    tags: dict | None
    properties: dict | None
    description: str | None
    framework: str
    framework_version: str
    datasets: list | None


def model_register_from_run(
    *, run: Run, user, name: str, model_path: str | None = None, **details: Unpack[VersionDetails]
) -> ModelVersion:
    """`run.register_model(...)`: a version from a file or folder among the run's files.

    The files become blobs by hard link, so a 1 GB output costs no second gigabyte, and the
    run's later deletion leaves the model's bytes in place.
    """
    _check_name(name)
    _check_framework(details.get("framework") or "", details.get("framework_version") or "")
    path = clean_relative_path((model_path or name).rstrip("/"), what="model_path")
    chosen = _run_files_under(run, path)
    root = PurePosixPath(path).name
    prefix = str(PurePosixPath(path).parent)
    entries = []
    for relative in chosen:
        real = store.run_file(run.pk, relative)
        blob = _run_file_blob(run, relative, real)
        inside = relative if prefix == "." else relative[len(prefix) + 1 :]
        mode = real.stat().st_mode & 0o777
        entries.append({"path": inside, "size": blob.size, "sha256": blob.sha256, "mode": mode})
    return model_register(
        workspace=run.experiment.workspace, user=user, name=name, root=root, files=entries,
        run=run, source_path=path, **details,
    )  # fmt: skip


def _run_files_under(run: Run, path: str) -> list[str]:
    """The run files that `path` names: itself, or everything in the folder it names."""
    names = [f["name"] for f in store.list_files(run.pk) if not _partial(f["name"])]
    if path in names:
        return [path]
    inside = [n for n in names if n.startswith(path + "/")]
    if inside:
        return inside
    folders = {str(PurePosixPath(n).parent) + "/" for n in names if "/" in n}
    close = difflib.get_close_matches(path, [*names, *folders], n=5, cutoff=0.3)
    listing = ", ".join(close or sorted(names)[:5]) or "none (the run has no files yet)"
    raise NotFound(
        f"model_path {path!r} is not among the files of run {run.pk}; the closest are: "
        f"{listing}. Pass one of them (a folder ends with '/'), or upload the file first "
        "with run.upload_file()."
    )


def _partial(name: str) -> bool:
    return PurePosixPath(name).name.endswith(".partial") and name.split("/")[-1].startswith(".")


def _run_file_blob(run: Run, relative: str, real) -> Blob:
    workspace = run.experiment.workspace
    if relative.split("/")[0] in APPEND_ONLY_FOLDERS:
        with real.open("rb") as body:
            sha256 = hashlib.file_digest(body, "sha256").hexdigest()
            body.seek(0)
            blob, _ = blobs.blob_store(
                workspace=workspace, sha256=sha256, body=body, max_bytes=_max_bytes()
            )
        return blob
    return blobs.blob_link(workspace=workspace, path=real)


def _max_bytes() -> int:
    return settings.MLSTUDIO_MODEL_MAX_BYTES


# --- uploads (Model.register) ---------------------------------------------------------------


def model_blobs_missing(*, workspace: Workspace, files: list[dict]) -> list[str]:
    """The sha256s of `files` the workspace lacks, sorted; checks the manifest, stores nothing."""
    entries = snapshots.manifest_entries_clean(files)
    total = sum(e["size"] for e in entries)
    if total > _max_bytes():
        raise UserError(
            f"The model is {total:,} bytes, over the limit of {_max_bytes():,}. Register a "
            "smaller folder (child_paths picks files), or raise MLSTUDIO_MODEL_MAX_BYTES."
        )
    wanted = {e["sha256"] for e in entries}
    present = set(
        Blob.objects.filter(workspace=workspace, sha256__in=sorted(wanted)).values_list(
            "sha256", flat=True
        )
    )
    return sorted(wanted - present)


def model_blob_store(
    *, workspace: Workspace, sha256: str, body, declared_size: int | None = None
) -> tuple[Blob, bool]:
    """One uploaded file body of a model, under its sha256 (as snapshot blobs, larger limit)."""
    return blobs.blob_store(
        workspace=workspace,
        sha256=sha256,
        body=body,
        declared_size=declared_size,
        max_bytes=_max_bytes(),
        too_big=(
            f"The file is over {_max_bytes():,} bytes, the most a model may hold; raise "
            "MLSTUDIO_MODEL_MAX_BYTES to register it."
        ),
    )


# --- changes ---------------------------------------------------------------------------------


def model_version_update(
    *,
    version: ModelVersion,
    description: str | None = None,
    add_tags: dict | None = None,
    remove_tags: list[str] | None = None,
    add_properties: dict | None = None,
) -> ModelVersion:
    """Change what may change: description, tags; add properties (never change one)."""
    tags = {**version.tags, **string_map(add_tags, "tags")}
    for key in remove_tags or []:
        tags.pop(str(key), None)
    added = string_map(add_properties, "properties")
    changed = {k: v for k, v in added.items() if version.properties.get(k, v) != v}
    if changed:
        key = next(iter(changed))
        raise Conflict(
            f"Property {key!r} of model {version.v1_id} is already "
            f"{version.properties[key]!r}; properties never change once set. Use a tag "
            "(add_tags) for a value that changes, or a new property name."
        )
    version.tags = tags
    version.properties = {**version.properties, **added}
    if description is not None:
        version.description = _text(description, "description")
    version.save(update_fields=["tags", "properties", "description"])
    return version


def model_alias_set(*, version: ModelVersion, alias: str) -> ModelAlias:
    """Point `alias` of the version's model at this version, moving it from another one."""
    if not isinstance(alias, str) or not re.fullmatch(ALIAS_RULE, alias):
        raise UserError(
            f"Alias {alias!r} is not allowed: use letters, digits, '_' and '-', starting "
            "with a letter, at most 64 characters (e.g. 'champion')."
        )
    if alias == "latest" or alias.isdigit():
        raise UserError(f"{alias!r} already means a version; choose another alias.")
    with transaction.atomic():
        found, _ = ModelAlias.objects.update_or_create(
            model=version.model, alias=alias, defaults={"version": version}
        )
    return found


def model_alias_delete(*, model: RegisteredModel, alias: str) -> None:
    deleted, _ = ModelAlias.objects.filter(model=model, alias=alias).delete()
    if not deleted:
        raise NotFound(f"Model {model.name!r} has no alias {alias!r}.")


def model_version_delete(*, version: ModelVersion) -> None:
    """Delete one version (its aliases go with it; the name goes with its last version), then
    forget the blobs nothing else uses. Access (owners only) is checked by the caller."""
    model_versions_delete(versions=[version])


def model_versions_delete(*, versions: list[ModelVersion]) -> None:
    """Delete versions, and each name left without one; then purge only the blobs no other
    version, run or snapshot uses (blobs_purge asks every app through blobs_in_use). The API,
    the pages and the admin all delete through here."""
    if not versions:
        return
    shas = {e["sha256"] for v in versions for e in v.manifest}
    workspace_ids = {v.model.workspace_id for v in versions}
    try:
        with transaction.atomic():
            models = {v.model_id: v.model for v in versions}
            ModelVersion.objects.filter(pk__in=[v.pk for v in versions]).delete()
            for model in models.values():
                if not model.versions.exists():
                    model.delete()
    except IntegrityError:
        raise Conflict(f"Model {versions[0].v1_id} changed meanwhile; try again.") from None
    for workspace_id in workspace_ids:
        transaction.on_commit(lambda ws=workspace_id: blobs_purge(workspace_id=ws, candidates=shas))


def blobs_used_by_models(sender, workspace_id: int, candidates: frozenset, **kwargs) -> set[str]:
    """Receiver of runs.signals.blobs_in_use: the candidates a model version still uses."""
    used: set[str] = set()
    manifests = ModelVersion.objects.filter(model__workspace_id=workspace_id).values_list(
        "manifest", flat=True
    )
    for manifest in manifests.iterator():
        used.update(e["sha256"] for e in manifest if e["sha256"] in candidates)
    return used
