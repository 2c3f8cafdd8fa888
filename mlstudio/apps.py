from django.apps import AppConfig


class MLStudioConfig(AppConfig):
    name = "mlstudio"
    verbose_name = "MLStudio"

    def ready(self) -> None:
        # Bind shared tasks to our Celery app in every process that loads Django, while
        # mlstudio/__init__.py stays empty so the stdlib-only SDK imports without Django.
        from mlstudio import celery  # noqa: F401
