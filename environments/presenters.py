"""Environment versions as the API and the SDK see them. The registry password is never part
of any of these shapes: only `password_set` says whether one is stored."""

from __future__ import annotations

import copy

from environments import builders
from environments import spec as specs
from environments.models import EnvironmentVersion


def public_spec(version: EnvironmentVersion) -> dict:
    """The version's spec in the shape the SDK sends, with `version` filled in."""
    spec = copy.deepcopy(version.spec)
    spec["docker"]["base_image_registry"]["password_set"] = version.password_set
    return {"name": spec.pop("name"), "version": version.version, **spec}


def version_summary(version: EnvironmentVersion) -> dict:
    return {
        "name": version.environment.name,
        "version": version.version,
        "kind": version.kind,
        "curated": version.environment.is_curated,
        "build_status": version.build_status,
        "built_at": version.built_at,
        "content_hash": version.content_hash,
        "created_at": version.created_at,
        "created_by": version.created_by.get_username() if version.created_by else None,
    }


def version_details(version: EnvironmentVersion) -> dict:
    return {
        **version_summary(version),
        "spec": public_spec(version),
        "dockerfile": specs.dockerfile_for(version.spec),
        # the tag its image has once built (a docker environment, or any on a docker target)
        "image": builders.image_tag(version),
        "image_python": specs.image_python(version.spec),
        "build_detail": version.build_detail,
    }
