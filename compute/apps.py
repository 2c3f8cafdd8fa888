from django.apps import AppConfig
from django.db.models.signals import post_save


class ComputeConfig(AppConfig):
    name = "compute"

    def ready(self) -> None:
        from compute import worker  # noqa: F401 - connects the worker heartbeat signals
        from workspaces.models import Workspace

        post_save.connect(_local_target, sender=Workspace, dispatch_uid="compute-local-target")


def _local_target(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """Every new workspace gets its `local` target (migration 0002 gave the existing ones)."""
    if created and not raw:
        from compute.services import target_local_ensure

        target_local_ensure(workspace=instance)
