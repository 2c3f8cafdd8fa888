from celery import shared_task

from workspaces import services


@shared_task
def login_links_purge() -> int:
    return services.login_links_purge()
