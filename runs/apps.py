from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"

    def ready(self) -> None:
        from compute.signals import target_in_use
        from runs.signals import runs_on_target

        target_in_use.connect(runs_on_target, dispatch_uid="runs-on-target")
