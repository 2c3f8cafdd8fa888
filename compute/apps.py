from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "compute"

    def ready(self) -> None:
        from compute import worker  # noqa: F401 - connects the worker heartbeat signals
