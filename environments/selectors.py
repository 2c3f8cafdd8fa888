"""Reads for environments. Curated environments (no workspace) are visible in every workspace."""

from __future__ import annotations

from django.db.models import OuterRef, Q, QuerySet, Subquery

from environments.models import Environment, EnvironmentVersion
from mlstudio.errors import NotFound
from workspaces.models import Workspace


def environments_visible(*, workspace: Workspace) -> QuerySet[Environment]:
    return Environment.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True))


def environments_latest(*, workspace: Workspace) -> dict[str, EnvironmentVersion]:
    """Name → latest version, the workspace's own and the curated ones, sorted by name."""
    newest = EnvironmentVersion.objects.filter(environment=OuterRef("environment")).order_by(
        "-number"
    )
    versions = (
        EnvironmentVersion.objects.filter(
            environment__in=environments_visible(workspace=workspace),
            pk=Subquery(newest.values("pk")[:1]),
        )
        .select_related("environment")
        .order_by("environment__name")
    )
    return {v.environment.name: v for v in versions}


CURATED_ALIASES = (
    ("pytorch", "MLStudio-PyTorch-CPU"),
    ("sklearn", "MLStudio-SKLearn"),
    ("scikit", "MLStudio-SKLearn"),
    ("minimal", "MLStudio-Minimal"),
    ("tutorial", "MLStudio-SKLearn"),  # v1's tutorial image held scikit-learn and friends
)


def _curated_alias(name: str) -> str | None:
    """What an Azure ML curated name stands for here, so a v1 notebook's
    Environment.get(ws, "AzureML-Minimal") ports unchanged."""
    lowered = name.lower()
    if not lowered.startswith("azureml-"):
        return None
    for word, curated in CURATED_ALIASES:
        if word in lowered:
            return curated
    return None


def environment_get(*, workspace: Workspace, name: str) -> Environment:
    visible = environments_visible(workspace=workspace)
    environment = visible.filter(name=name).first()
    if environment is None and (alias := _curated_alias(name)):
        environment = visible.filter(name=alias, workspace__isnull=True).first()
    if environment is None:
        names = sorted(environments_visible(workspace=workspace).values_list("name", flat=True))
        raise NotFound(
            f"No environment {name!r} in workspace {workspace.name!r}. "
            f"Available: {', '.join(names) or 'none yet'}."
        )
    return environment


def environment_versions(*, workspace: Workspace, name: str) -> QuerySet[EnvironmentVersion]:
    """The versions of one environment, newest first."""
    environment = environment_get(workspace=workspace, name=name)
    return environment.versions.select_related("environment", "created_by").order_by("-number")


def environment_version_get(
    *, workspace: Workspace, name: str, version: str | None = None
) -> EnvironmentVersion:
    """A version by name and number; the latest when `version` is None (or "latest")."""
    versions = environment_versions(workspace=workspace, name=name)
    if version is None or str(version).lower() == "latest":
        found = versions.first()
    else:
        number = str(version).strip()
        found = versions.filter(number=int(number)).first() if number.isdigit() else None
    if found is None:
        numbers = ", ".join(v.version for v in versions.reverse()) or "none"
        raise NotFound(
            f"Environment {name!r} has no version {version!r}; its versions are: {numbers}."
        )
    return found


def environment_version_by_pk(*, pk: int) -> EnvironmentVersion:
    """For tasks, which receive ids and re-fetch."""
    found = EnvironmentVersion.objects.select_related("environment").filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No environment version with id {pk}.")
    return found
