"""The Celery app. Workers start it with `celery -A mlstudio.celery worker -Q <queues>`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlstudio.settings")

app = Celery("mlstudio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
