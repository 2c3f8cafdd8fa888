"""Reads of the model registry. Lookups take the workspace their caller was allowed into."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Max, Prefetch, QuerySet

from mlstudio.errors import NotFound, UserError
from mlstudio.paths import clean_relative_path
from registry.models import ModelAlias, ModelVersion, RegisteredModel
from runs import blobs, snapshots
from runs.models import NUMERIC_KINDS, Metric, Run
from workspaces.models import Workspace


def _versions(workspace: Workspace) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(model__workspace=workspace)
        .select_related("model", "created_by", "run")
        .prefetch_related(Prefetch("aliases", queryset=ModelAlias.objects.order_by("alias")))
    )


def filter_pairs(filters: Iterable | None, what: str) -> list[tuple[str, str | None]]:
    """v1's tag and property filters: each 'key' (has it) or ['key', 'value'] (equals), or the
    query string's 'key' and 'key=value'."""
    pairs: list[tuple[str, str | None]] = []
    for item in filters or []:
        if isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
        elif isinstance(item, str):
            key, equals, value = item.partition("=")
            pairs.append((key, value if equals else None))
        else:
            raise UserError(
                f"{what} filter {item!r} is neither 'key' nor ['key', 'value'], e.g. "
                f"{what}=['stage', ['team', 'vision']]."
            )
    return pairs


def _matches(values: dict, pairs: list[tuple[str, str | None]]) -> bool:
    return all(k in values and (v is None or values[k] == v) for k, v in pairs)


def models_list(
    *,
    workspace: Workspace,
    name: str | None = None,
    tags: Iterable | None = None,
    properties: Iterable | None = None,
    run_id: str | None = None,
    framework: str | None = None,
    latest: bool = False,
) -> list[ModelVersion]:
    """Model versions, newest first, as v1's Model.list: `latest` keeps each name's newest."""
    versions = _versions(workspace).order_by("model__name", "-version")
    if name:
        versions = versions.filter(model__name=name)
    if run_id:
        versions = versions.filter(run_id_text=run_id)
    if framework:
        versions = versions.filter(framework=framework)
    tag_pairs, property_pairs = filter_pairs(tags, "tags"), filter_pairs(properties, "properties")
    found = [
        v
        for v in versions
        if _matches(v.tags, tag_pairs) and _matches(v.properties, property_pairs)
    ]
    if latest:
        seen: set[int] = set()
        found = [v for v in found if not (v.model_id in seen or seen.add(v.model_id))]
    return sorted(found, key=lambda v: v.created_at, reverse=True)


def registered_models_table(*, workspace: Workspace, query: str = "") -> list[dict]:
    """The Models page: one row per name with its latest version's facts and every alias."""
    models = RegisteredModel.objects.filter(workspace=workspace).annotate(
        top=Max("versions__version")
    )
    if query:
        models = models.filter(name__icontains=query)
    latest = {(v.model_id, v.version): v for v in _versions(workspace).filter(model__in=models)}
    aliases: dict[int, list[str]] = {}
    for alias in ModelAlias.objects.filter(model__in=models).select_related("version"):
        aliases.setdefault(alias.model_id, []).append(f"{alias.alias} → v{alias.version.version}")
    rows = []
    for model in models.order_by("name"):
        version = latest.get((model.pk, model.top))
        if version is not None:
            rows.append({"model": model, "latest": version, "aliases": aliases.get(model.pk, [])})
    return rows


def model_version_get(
    *,
    workspace: Workspace,
    name: str,
    version: int | str | None = None,
    alias: str | None = None,
) -> ModelVersion:
    """One version of `name`: the given number, the one `alias` points at, else the latest.

    An unknown name is NotFound naming the closest names; an unknown version or alias names
    the ones that exist.
    """
    model = RegisteredModel.objects.filter(workspace=workspace, name=name).first()
    if model is None:
        names = list(
            RegisteredModel.objects.filter(workspace=workspace).values_list("name", flat=True)
        )
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.4)
        hint = f"Similar names: {', '.join(close)}." if close else "Model.list(ws) lists them."
        raise NotFound(f"No model named {name!r} in workspace {workspace.name!r}. {hint}")
    versions = _versions(workspace).filter(model=model)
    if alias:
        return _by_alias(model, versions, alias)
    if version in (None, "", "latest"):
        return versions.order_by("-version").first()
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise UserError(f"version {version!r} is not a number; pass e.g. version=2.") from None
    found = versions.filter(version=number).first()
    if found is None:
        numbers = ", ".join(
            str(n) for n in versions.order_by("version").values_list("version", flat=True)
        )
        raise NotFound(f"Model {name!r} has no version {number}; its versions are {numbers}.")
    return found


def _by_alias(model: RegisteredModel, versions: QuerySet, alias: str) -> ModelVersion:
    found = versions.filter(aliases__alias=alias).first()
    if found is None:
        known = ", ".join(model.aliases.values_list("alias", flat=True)) or "none yet"
        raise NotFound(
            f"Model {model.name!r} has no alias {alias!r}; its aliases: {known}. "
            "model.set_alias(name) sets one."
        )
    return found


def model_versions_of_run(*, run: Run) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(run_id_text=run.pk)
        .select_related("model")
        .order_by("model__name", "-version")
    )


def model_versions_of(*, model: RegisteredModel) -> QuerySet[ModelVersion]:
    return (
        model.versions.select_related("created_by").prefetch_related("aliases").order_by("-version")
    )


def model_run_metrics(*, version: ModelVersion) -> list[tuple[str, float | None]]:
    """The lineage run's numeric metrics as (name, last value), or [] once the run is gone."""
    if version.run_id is None:
        return []
    metrics = Metric.objects.filter(run_id=version.run_id, kind__in=NUMERIC_KINDS).order_by("name")
    return list(metrics.values_list("name", "last_value"))


def model_file_open(*, version: ModelVersion, path: str) -> tuple[File, dict]:
    """An open handle on one file of the version; the path is only looked up in its manifest."""
    clean = clean_relative_path(path, what="file path")
    entry = next((e for e in version.manifest if e["path"] == clean), None)
    if entry is None:
        listing = ", ".join(e["path"] for e in version.manifest[:10])
        raise NotFound(f"Model {version.v1_id} has no file {clean!r}; its files: {listing}.")
    return default_storage.open(blobs.blob_name(sha256=entry["sha256"]), "rb"), entry


def model_zip_build(*, version: ModelVersion) -> BinaryIO:
    return snapshots.manifest_zip_build(manifest=version.manifest, created_at=version.created_at)
