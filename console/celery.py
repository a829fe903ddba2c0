"""The Celery app: ``celery -A console worker``. Configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("warmline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
