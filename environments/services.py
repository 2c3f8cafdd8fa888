"""Writes for environments: registering versions and recording their builds. The API, the SDK,
the studio form and run submission all register through `environment_register`."""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction
from django.utils import timezone

from environments import crypto, selectors
from environments import spec as specs
from environments.models import BuildStatus, Environment, EnvironmentVersion
from mlstudio.errors import Conflict, UserError
from workspaces.models import Workspace

DETAIL_LIMIT = 8000


def environment_register(
    *, workspace: Workspace | None, spec: dict, user
) -> tuple[EnvironmentVersion, bool]:
    """Store `spec` as the environment's next version, or return the latest version when it is
    identical (same normalized spec, environment variables and registry password).

    The second value says whether a version was created. A spec that comes without a
    registry password keeps the latest version's password while the registry address and
    username are unchanged (the SDK never gets the password back, so an edited copy of a
    fetched environment would otherwise lose it); send password "" to drop it. Bad input
    raises UserError before anything is stored. `workspace=None` registers a curated one.
    """
    checked = specs.normalize(spec, curated=workspace is None)
    name = checked.spec["name"]
    for _ in range(5):
        try:
            with transaction.atomic():
                environment = _locked_environment(workspace, name)
                latest = environment.versions.order_by("-number").first()
                password = _effective_password(checked, latest)
                digest = definition_digest(checked.spec, password)
                if latest is not None and latest.spec_digest == digest:
                    return latest, False
                version = EnvironmentVersion.objects.create(
                    environment=environment,
                    number=(latest.number if latest else 0) + 1,
                    spec=checked.spec,
                    spec_digest=digest,
                    content_hash=specs.content_hash(checked.spec),
                    registry_password_encrypted=(
                        crypto.password_encrypt(password) if password else ""
                    ),
                    created_by=user,
                )
                return version, True
        except IntegrityError:
            continue  # a concurrent registration took the name or the number; look again
    raise Conflict(f"Too many simultaneous registrations of environment {name!r}; try again.")


def environment_check(*, spec: dict) -> None:
    """Refuse a spec that could not be registered, storing nothing (a submit asks this before
    it uploads the source folder)."""
    specs.normalize(spec)


def environment_resolve(*, workspace: Workspace, spec: dict, user) -> EnvironmentVersion:
    """The version a run's `environment` stands for.

    One that names a version (as a fetched or registered SDK Environment does) is that
    version while its definition still matches; anything else is registered, as azureml
    registered an unregistered environment at submit.
    """
    if not isinstance(spec, dict):
        raise UserError("`environment` must be an Environment or its JSON spec.")
    if spec.get("version"):
        found = selectors.environment_version_get(
            workspace=workspace, name=str(spec.get("name")), version=str(spec["version"])
        )
        checked = specs.normalize(spec, curated=found.environment.is_curated)
        if (
            definition_digest(checked.spec, _effective_password(checked, found))
            == found.spec_digest
        ):
            return found
        if found.environment.is_curated:
            raise UserError(
                f"Curated environment {found.name!r} cannot be changed. Register your changed "
                "copy under a name of your own (env.name = 'my-env'), then submit with it."
            )
    return environment_register(workspace=workspace, spec=spec, user=user)[0]


def environment_build_mark(
    *, version: EnvironmentVersion, status: BuildStatus, detail: str = ""
) -> EnvironmentVersion:
    """Record a build's progress on the version; only the build fields ever change."""
    fields = {"build_status": status, "build_detail": detail[-DETAIL_LIMIT:]}
    if status == BuildStatus.SUCCEEDED:
        fields["built_at"] = timezone.now()
    EnvironmentVersion.objects.filter(pk=version.pk).update(**fields)
    for key, value in fields.items():
        setattr(version, key, value)
    return version


def environment_registry_password(*, version: EnvironmentVersion) -> str | None:
    """The decrypted registry password, for the builder only; loud when it cannot be read."""
    if not version.registry_password_encrypted:
        return None
    return crypto.password_decrypt(version.registry_password_encrypted, what=version.label)


def _locked_environment(workspace: Workspace | None, name: str) -> Environment:
    environment, _ = Environment.objects.get_or_create(workspace=workspace, name=name)
    # Registrations of one environment take turns, so two can't both create version n+1.
    return Environment.objects.select_for_update().get(pk=environment.pk)


def _effective_password(checked: specs.Normalized, base: EnvironmentVersion | None) -> str:
    if checked.password is not None:
        return checked.password
    registry = checked.spec["docker"]["base_image_registry"]
    if (
        base is not None
        and base.password_set
        and registry["username"]
        and base.spec["docker"]["base_image_registry"] == registry
    ):
        return crypto.password_decrypt(base.registry_password_encrypted, what=base.label)
    return ""


def definition_digest(spec: dict, password: str) -> str:
    """What makes two registrations the same version: the whole spec and the password."""
    body = specs.canonical_json(spec) + "\n" + crypto.password_fingerprint(password)
    return hashlib.sha256(body.encode()).hexdigest()
