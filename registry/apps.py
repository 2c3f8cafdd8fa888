from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from registry.services import blobs_used_by_models
        from runs.signals import blobs_in_use

        blobs_in_use.connect(blobs_used_by_models, dispatch_uid="registry-blobs-in-use")
