from datetime import timedelta

from celery import shared_task
from django.conf import settings

from compute import services


@shared_task(ignore_result=True)
def nodes_forget() -> int:
    return services.nodes_forget(
        offline_for=timedelta(seconds=settings.MLSTUDIO_NODE_FORGET_SECONDS)
    )
