"""Celery tasks: take ids, load, call one service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from handoffs.models import InboundRequest


@shared_task(acks_late=True)
def prune_inbound_requests() -> int:
    """Forget applied webhook-ids past the retention window (spec: kept at least 24 h)."""
    cutoff = timezone.now() - timedelta(hours=settings.WARMLINE["IDEMPOTENCY_RETENTION_HOURS"])
    deleted, _ = InboundRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
