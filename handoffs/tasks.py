"""Celery tasks: take ids, load, call one service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from handoffs import scheduling  # noqa: F401 - connects the durable-task signals in every worker
from handoffs.models import InboundRequest
from handoffs.services.selfmodel import selfmodel_infer_from_turn, selfmodel_infer_recurring_issue


@shared_task(acks_late=True)
def prune_inbound_requests() -> int:
    """Forget applied webhook-ids past the retention window (spec: kept at least 24 h)."""
    cutoff = timezone.now() - timedelta(hours=settings.WARMLINE["IDEMPOTENCY_RETENTION_HOURS"])
    deleted, _ = InboundRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(acks_late=True, durable=True)
def infer_self_model_from_turn(turn_id: int) -> int:
    return len(selfmodel_infer_from_turn(turn_id=turn_id))


@shared_task(acks_late=True, durable=True)
def infer_recurring_issue(conversation_id: str) -> bool:
    return selfmodel_infer_recurring_issue(conversation_id=conversation_id) is not None


# --- handoff timers -------------------------------------------------------------------------------


@shared_task(acks_late=True)
def handoff_auto_connect(handoff_id: str) -> bool:
    """End a preparation window at ``prepare_until`` (scheduled at claim time)."""
    from handoffs.services.handoffs import handoff_connect_due

    return handoff_connect_due(handoff_id=handoff_id)


@shared_task(acks_late=True)
def connect_overdue_handoffs() -> int:
    """Beat: connect any preparing handoff whose window is over and whose timer was lost."""
    from handoffs.services.handoffs import handoffs_connect_overdue

    return handoffs_connect_overdue()


@shared_task(acks_late=True)
def handoff_reply_check(handoff_id: str) -> bool:
    """At a reply deadline (scheduled when it was set): reassign if the agent has still not answered."""
    from handoffs.services.handoffs import handoff_reassign_due

    return handoff_reassign_due(handoff_id=handoff_id)


@shared_task(acks_late=True)
def sweep_routing_timers() -> int:
    """Beat: the safety net behind the per-item routing timers (reply deadlines, offers, take-back offers)."""
    from handoffs.services.handoffs import handoffs_reassign_overdue
    from handoffs.services.routing import offers_expire_overdue, takeback_offers_due

    return handoffs_reassign_overdue() + offers_expire_overdue() + takeback_offers_due()


@shared_task(acks_late=True)
def mark_absent_agents_offline() -> int:
    from handoffs.services.agents import agents_mark_absent_offline

    return agents_mark_absent_offline()


# --- callbacks ------------------------------------------------------------------------------------


@shared_task(acks_late=True)
def deliver_callbacks(conversation_id: str) -> int:
    from handoffs.services.callbacks import callbacks_deliver

    return callbacks_deliver(conversation_id=conversation_id)


@shared_task(acks_late=True)
def deliver_due_callbacks() -> int:
    """Beat: restart the line of every conversation with a due delivery (lost or delayed tasks)."""
    from handoffs.services.callbacks import conversations_with_due_callbacks

    conversation_ids = conversations_with_due_callbacks()
    for conversation_id in conversation_ids:
        deliver_callbacks.delay(conversation_id)
    return len(conversation_ids)


# --- assistance after the handoff -----------------------------------------------------------------


@shared_task(acks_late=True, soft_time_limit=10, time_limit=20, durable=True)
def assist_for_turn(turn_id: int) -> int:
    """Articles, replies, mood alerts or commitment updates for one new message; idempotent per message
    and kind, so a redelivered task (worker killed mid-run) writes and pushes nothing twice."""
    from handoffs.services.assist import assist_for_turn as compute

    return len(compute(turn_id=turn_id))


@shared_task(acks_late=True)
def mark_overdue_commitments() -> int:
    from handoffs.services.assist import commitments_mark_overdue

    return commitments_mark_overdue()


# --- routing --------------------------------------------------------------------------------------


@shared_task(acks_late=True)
def offer_expire(handoff_id: str) -> bool:
    from handoffs.services.routing import offer_expire_due

    return offer_expire_due(handoff_id=handoff_id)


@shared_task(acks_late=True, durable=True)
def refresh_eta(team_id: int) -> int:
    from handoffs.services.routing import eta_refresh

    return eta_refresh(team_id=team_id)


@shared_task(acks_late=True)
def takeback_offer(handoff_id: str) -> bool:
    from handoffs.services.routing import takeback_offer_due

    return takeback_offer_due(handoff_id=handoff_id)


@shared_task(acks_late=True)
def announce_handoff(handoff_id: str) -> bool:
    from handoffs.services.routing import announce_to_all

    return announce_to_all(handoff_id=handoff_id)


# --- durable tasks (handoffs.scheduling) ----------------------------------------------------------


@shared_task(acks_late=True)
def resend_pending_tasks() -> int:
    """Beat: send again the durable tasks whose queueing or run was lost (Redis down, a failed run)."""
    from handoffs.scheduling import pending_tasks_resend

    return pending_tasks_resend()
