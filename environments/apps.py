from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EnvironmentsConfig(AppConfig):
    name = "environments"

    def ready(self):
        from environments.curated import on_post_migrate

        # After `flush` too (tests that truncate tables), so curated environments never vanish.
        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="environments-curated")
