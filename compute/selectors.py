from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from compute.models import Node


def nodes_online() -> QuerySet[Node]:
    fresh = timezone.now() - timedelta(seconds=settings.MLSTUDIO_NODE_OFFLINE_SECONDS)
    return Node.objects.filter(heartbeat_at__gte=fresh)
