"""Celery tasks: take ids, load, call one service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from handoffs.models import InboundRequest
from handoffs.services.selfmodel import selfmodel_infer_from_turn, selfmodel_infer_recurring_issue


@shared_task(acks_late=True)
def prune_inbound_requests() -> int:
    """Forget applied webhook-ids past the retention window (spec: kept at least 24 h)."""
    cutoff = timezone.now() - timedelta(hours=settings.WARMLINE["IDEMPOTENCY_RETENTION_HOURS"])
    deleted, _ = InboundRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(acks_late=True)
def infer_self_model_from_turn(turn_id: int) -> int:
    return len(selfmodel_infer_from_turn(turn_id=turn_id))


@shared_task(acks_late=True)
def infer_recurring_issue(conversation_id: str) -> bool:
    return selfmodel_infer_recurring_issue(conversation_id=conversation_id) is not None
