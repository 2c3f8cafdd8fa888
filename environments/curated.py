"""The curated environments every workspace sees, under the reserved `MLStudio-` prefix.

Registered by migration 0002 and kept after every `migrate` or `flush` (post_migrate): a
changed definition here becomes the curated environment's next version.
"""

from __future__ import annotations

CURATED = [
    {
        "name": "MLStudio-Minimal",
        "python": {"user_managed_dependencies": True, "interpreter_path": None},
    },
    {
        "name": "MLStudio-SKLearn",
        "python": {
            "conda_dependencies": {
                "pip_packages": [
                    "scikit-learn==1.9.1",
                    "numpy==2.4.6",
                    "pandas==3.1.1",
                    "joblib==1.6.0",
                ]
            }
        },
    },
    {
        "name": "MLStudio-PyTorch-CPU",
        "python": {"conda_dependencies": {"pip_packages": ["torch==2.13.0", "numpy==2.4.6"]}},
    },
]


def curated_ensure(apps, using: str = "default") -> None:
    """Register each curated definition unless its latest version already is it.

    Takes an app registry (a migration's historical one, or the real one) so the same code
    serves the data migration and post_migrate.
    """
    from environments import services
    from environments import spec as specs

    try:
        Environment = apps.get_model("environments", "Environment")
        EnvironmentVersion = apps.get_model("environments", "EnvironmentVersion")
    except LookupError:  # migrated to before the models exist
        return
    for raw in CURATED:
        spec = specs.normalize(raw, curated=True).spec
        digest = services.definition_digest(spec, "")
        environment, _ = Environment.objects.using(using).get_or_create(
            workspace=None, name=spec["name"]
        )
        latest = environment.versions.order_by("-number").first()
        if latest is not None and latest.spec_digest == digest:
            continue
        EnvironmentVersion.objects.using(using).create(
            environment=environment,
            number=(latest.number if latest else 0) + 1,
            spec=spec,
            spec_digest=digest,
            content_hash=specs.content_hash(spec),
        )


def on_post_migrate(sender, using="default", apps=None, **kwargs) -> None:
    # `flush` sends no app registry; the real one matches the migrated schema then.
    if apps is None:
        from django.apps import apps
    curated_ensure(apps, using)
