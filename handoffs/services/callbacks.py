"""Callbacks to bots (spec §Callbacks): a transactional outbox delivered in order per conversation.

``callback_enqueue`` writes the delivery in the same transaction as the change it reports, so a callback
exists exactly when the change committed. ``callbacks_deliver`` sends a conversation's pending deliveries
oldest first; a failing one is retried with exponential backoff and jitter, and everything after it waits
(a bot must never see ``handoff.resolved`` before ``handoff.connected``). After the retry window (at least
24 h) a delivery is marked failed and the line moves on; admins can retry failed deliveries.

Delivery is at least once: a worker killed after the bot answered but before the row was marked delivered
sends it again with the same ``webhook-id``, which bots use to drop the duplicate.
"""

import json
import logging
import random
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from handoffs.clock import iso
from handoffs.models import Bot, Conversation, DeliveryAttempt, Handoff, OutboundDelivery
from handoffs.signing import sign

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600


def callback_enqueue(
    *,
    conversation: Conversation,
    handoff: Handoff | None,
    type: str,
    data: dict[str, Any],
    at: datetime,
) -> OutboundDelivery | None:
    """Record a callback for the conversation's bot; sent after the caller's transaction commits."""
    bot: Bot = conversation.bot
    if not bot.callback_url:
        return None
    webhook_id = f"msg_{uuid.uuid4().hex}"
    delivery = OutboundDelivery.objects.create(
        bot=bot,
        conversation=conversation,
        handoff=handoff,
        webhook_id=webhook_id,
        type=type,
        payload={
            "type": type,
            "handoff_id": str(handoff.id) if handoff else None,
            "conversation_id": conversation.external_id,
            "occurred_at": iso(at),
            "data": data,
        },
        next_attempt_at=at,
        retry_until=at + timedelta(hours=settings.WARMLINE["CALLBACK_RETRY_HOURS"]),
    )
    _deliver_soon(conversation.id)
    return delivery


def _deliver_soon(conversation_id: Any, delay: float = 0.0) -> None:
    from handoffs.scheduling import run_later
    from handoffs.tasks import deliver_callbacks

    run_later(deliver_callbacks, str(conversation_id), delay=delay)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter: up to 5 s, 10 s, 20 s, … capped at an hour."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


def callbacks_deliver(*, conversation_id: str, limit: int = 50) -> int:
    """Send the conversation's due deliveries in order; return how many were delivered."""
    delivered = 0
    for _ in range(limit):
        head = _lease_head(conversation_id)
        if head is None:
            return delivered
        outcome = _send(head)
        if outcome == OutboundDelivery.Status.DELIVERED:
            delivered += 1
        elif outcome == OutboundDelivery.Status.PENDING:
            return delivered  # retried later; everything after it waits
        # FAILED: given up after the retry window, the line moves on
    _deliver_soon(conversation_id)  # a long backlog: continue in a fresh task
    return delivered


def _lease_head(conversation_id: str) -> OutboundDelivery | None:
    """The oldest pending delivery of the conversation, if it is due and nobody else is sending it."""
    now = timezone.now()
    with transaction.atomic():
        head = (
            OutboundDelivery.objects.select_for_update()
            .select_related("bot")
            .filter(conversation_id=conversation_id, status=OutboundDelivery.Status.PENDING)
            .order_by("id")
            .first()
        )
        if head is None or head.next_attempt_at > now:
            return None
        if head.leased_until is not None and head.leased_until > now:
            return None  # another worker is on this conversation's line
        head.leased_until = now + LEASE
        head.save(update_fields=["leased_until", "updated_at"])
    return head


def _send(delivery: OutboundDelivery) -> str:
    bot = delivery.bot
    secret = bot.secrets.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())).first()
    body = json.dumps(delivery.payload, separators=(",", ":"))
    started = time.monotonic()
    status_code: int | None = None
    excerpt = error = ""
    if secret is None:
        error = "the bot has no active signing secret"
    else:
        headers = sign(body, secret=secret.secret, webhook_id=delivery.webhook_id)
        try:
            response = httpx.post(
                bot.callback_url,
                content=body,
                headers={**headers, "content-type": "application/json", "user-agent": "Warmline/1"},
                timeout=settings.WARMLINE["CALLBACK_TIMEOUT_SECONDS"],
                follow_redirects=False,
            )
            status_code = response.status_code
            excerpt = response.text[:500]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
    latency_ms = round((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    _record(delivery, ok=ok, status_code=status_code, latency_ms=latency_ms, error=error, excerpt=excerpt)
    return delivery.status


def _record(
    delivery: OutboundDelivery,
    *,
    ok: bool,
    status_code: int | None,
    latency_ms: int,
    error: str,
    excerpt: str,
) -> None:
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            response_excerpt=excerpt,
        )
        delivery.attempts += 1
        delivery.leased_until = None
        if ok:
            delivery.status = OutboundDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.last_error = ""
        else:
            delivery.last_error = error or f"HTTP {status_code}"
            if now >= delivery.retry_until:
                delivery.status = OutboundDelivery.Status.FAILED  # give up; the line moves on
            else:
                delivery.next_attempt_at = now + timedelta(seconds=backoff_seconds(delivery.attempts))
        delivery.save(
            update_fields=[
                "attempts",
                "leased_until",
                "status",
                "delivered_at",
                "last_error",
                "next_attempt_at",
                "updated_at",
            ]
        )
        if not ok:
            logger.info(
                "callback %s to %s failed (attempt %d): %s",
                delivery.webhook_id,
                delivery.bot.bot_id,
                delivery.attempts,
                delivery.last_error,
            )
            if delivery.status == OutboundDelivery.Status.PENDING:
                wait = (delivery.next_attempt_at - now).total_seconds()
                _deliver_soon(delivery.conversation_id, delay=wait)


def callbacks_retry(*, delivery_ids: list[int]) -> int:
    """Admin action: send failed deliveries again now (they rejoin their conversation's line)."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            OutboundDelivery.objects.select_for_update()
            .filter(id__in=delivery_ids)
            .exclude(status="delivered")
        )
        for row in rows:
            row.status = OutboundDelivery.Status.PENDING
            row.next_attempt_at = now
            row.retry_until = now + timedelta(hours=settings.WARMLINE["CALLBACK_RETRY_HOURS"])
            row.save(update_fields=["status", "next_attempt_at", "retry_until", "updated_at"])
        for conversation_id in {row.conversation_id for row in rows}:
            _deliver_soon(conversation_id)
    return len(rows)


def conversations_with_due_callbacks(*, limit: int = 500) -> list[str]:
    """Conversations whose line has a due delivery (the beat sweep's safety net for lost tasks)."""
    rows = (
        OutboundDelivery.objects.filter(
            status=OutboundDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
        )
        .values_list("conversation_id", flat=True)
        .distinct()[:limit]
    )
    return [str(row) for row in rows]
