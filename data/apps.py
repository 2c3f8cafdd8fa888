from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "data"
    verbose_name = "Data"

    def ready(self) -> None:
        from data.services import blobs_used_by_datasets
        from runs.signals import blobs_in_use

        blobs_in_use.connect(blobs_used_by_datasets, dispatch_uid="data-blobs-in-use")
