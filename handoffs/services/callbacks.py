"""Callbacks to bots (spec §Callbacks): a transactional outbox delivered in order per conversation.

``callback_enqueue`` writes the delivery in the same transaction as the change it reports, so a callback
exists exactly when the change committed. ``callbacks_deliver`` sends a conversation's pending deliveries
oldest first; a failing one is retried with exponential backoff and jitter, and everything after it waits
(a bot must never see ``handoff.resolved`` before ``handoff.connected``). After the retry window (at least
24 h) a delivery is marked failed and the line moves on; admins can retry failed deliveries.

Delivery is at least once: a worker killed after the bot answered but before the row was marked delivered
sends it again with the same ``webhook-id``, which bots use to drop the duplicate.

A bot with a live websocket (spec §Bot websocket) gets its callbacks there instead of over HTTP, as
``{"id": "<webhook-id>", "event": {...}}``. The spec defines no ack, so by default a callback handed to the
socket's channel counts as delivered at once and the line moves on. A bot that opted in to acks
(``?acks=1`` on the upgrade, ``BotSocket.acks``) acks each with ``{"ack": "<webhook-id>"}``; its delivery
stays the head of its line, leased, until the ack comes (``callbacks_ack``): no ack within
``CALLBACK_ACK_TIMEOUT_SECONDS``, or the socket closing first, is a failed attempt retried like a failed
HTTP one, over a socket if one is live then, else over HTTP. Sockets are tracked in ``BotSocket`` with a
heartbeat, so one whose web process died without closing it stops counting after ``SOCKET_LIVE``.
"""

import json
import logging
import os
import random
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from handoffs.clock import iso
from handoffs.models import Bot, BotSocket, Conversation, DeliveryAttempt, Handoff, OutboundDelivery
from handoffs.signing import sign

logger = logging.getLogger(__name__)

# How long a worker holds the head of a line while it sends it over HTTP: room for a connect timeout and a
# read timeout plus a margin to record the answer. This is not a hard bound on the request: httpx applies
# its timeout per phase (to each read, not to the whole response), so a server that trickles its answer can
# keep a worker past its lease. That is safe: a worker that outlives its lease records nothing
# (``_still_leased``), so the worst outcome is the line's next worker sending the same callback again under
# the same webhook-id, which at-least-once delivery allows and bots dedupe. The lease is short because a
# worker killed mid-send keeps the line waiting this long; beat's sweep (every 5 s) then hands it on.
LEASE_MARGIN_SECONDS = 5


def http_lease() -> timedelta:
    return timedelta(seconds=2 * settings.WARMLINE["CALLBACK_TIMEOUT_SECONDS"] + LEASE_MARGIN_SECONDS)


BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600
# A bot socket's consumer refreshes ``seen_at`` every beat; after three missed beats it is not live.
SOCKET_HEARTBEAT_SECONDS = 10
SOCKET_LIVE = timedelta(seconds=3 * SOCKET_HEARTBEAT_SECONDS)
Channel = DeliveryAttempt.Channel


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
    if not bot.callback_url and not _uses_websocket(bot, at):
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


def _retry_window() -> timedelta:
    return timedelta(hours=settings.WARMLINE["CALLBACK_RETRY_HOURS"])


def _uses_websocket(bot: Bot, at: datetime) -> bool:
    """A bot without a callback_url still gets callbacks if it had a websocket open within the retry window:
    one that is reconnecting (a deploy, a network blip) receives them when it is back."""
    return BotSocket.objects.filter(bot=bot, seen_at__gte=at - _retry_window()).exists()


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
        if head is None:
            return None
        if head.leased_until is not None and head.leased_until > now:
            return None  # another worker is on this conversation's line, or the bot has yet to ack it
        if head.sent_at is not None:  # sent over a websocket, and the ack did not come in time
            _record(
                head,
                ok=False,
                channel=Channel.WEBSOCKET,
                latency_ms=_ms_since(head.sent_at, now),
                error=f"no ack within {settings.WARMLINE['CALLBACK_ACK_TIMEOUT_SECONDS']} s",
            )
            return None
        if head.next_attempt_at > now:
            return None
        head.leased_until = now + http_lease()
        head.save(update_fields=["leased_until", "updated_at"])
    return head


def _send(delivery: OutboundDelivery) -> str:
    """Send the leased head over the bot's live websocket if it has one, else over HTTP; its new status."""
    socket = live_socket(delivery.bot)
    if socket is not None:
        return _send_over_socket(delivery, socket)
    if delivery.bot.callback_url:
        return _send_over_http(delivery)
    with transaction.atomic():
        if _still_leased(delivery) is None:
            return OutboundDelivery.Status.PENDING
        _record(
            delivery,
            ok=False,
            channel=Channel.WEBSOCKET,
            latency_ms=0,
            error="the bot has no open websocket and no callback_url",
        )
    return delivery.status


def _still_leased(delivery: OutboundDelivery) -> OutboundDelivery | None:
    """Lock the row (inside the caller's transaction) if this worker's lease still holds: a worker whose
    lease ran out while it was sending must not record over the one that took the delivery over."""
    current = OutboundDelivery.objects.select_for_update().get(pk=delivery.pk)
    if current.status != OutboundDelivery.Status.PENDING or current.leased_until != delivery.leased_until:
        logger.warning("callback %s: lease lost while sending; not recorded", delivery.webhook_id)
        return None
    return current


_http: tuple[int, httpx.Client] | None = None


def http_client() -> httpx.Client:
    """One client per process (created after a worker forks), so callbacks reuse keep-alive connections
    and skip building a TLS context per request: ``httpx.post`` spent ~100 ms on that per callback."""
    global _http
    if _http is None or _http[0] != os.getpid():
        _http = (os.getpid(), httpx.Client(follow_redirects=False, headers={"user-agent": "Warmline/1"}))
    return _http[1]


def _send_over_http(delivery: OutboundDelivery) -> str:
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
            response = http_client().post(
                bot.callback_url,
                content=body,
                headers={**headers, "content-type": "application/json"},
                timeout=settings.WARMLINE["CALLBACK_TIMEOUT_SECONDS"],
            )
            status_code = response.status_code
            excerpt = response.text[:500]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
    latency_ms = round((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    with transaction.atomic():
        current = _still_leased(delivery)
        if current is None:
            return OutboundDelivery.Status.PENDING
        _record(
            current,
            ok=ok,
            channel=Channel.HTTP,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            excerpt=excerpt,
        )
    return current.status


def _send_over_socket(delivery: OutboundDelivery, socket: BotSocket) -> str:
    """Hand the event to the socket's consumer: delivered once handed over, or, if the bot opted in to acks,
    left leased until it acks (or the ack timeout, when the check scheduled here records the failure)."""
    if not socket.acks:
        return _send_over_socket_without_ack(delivery, socket)
    ack_timeout = settings.WARMLINE["CALLBACK_ACK_TIMEOUT_SECONDS"]
    now = timezone.now()
    with transaction.atomic():
        current = _still_leased(delivery)
        if current is None:
            return OutboundDelivery.Status.PENDING
        current.sent_at = now
        current.sent_to = socket.channel_name
        current.leased_until = now + timedelta(seconds=ack_timeout)
        current.save(update_fields=["sent_at", "sent_to", "leased_until", "updated_at"])
    try:
        async_to_sync(get_channel_layer().send)(
            socket.channel_name,
            {"type": "warmline.callback", "id": current.webhook_id, "event": current.payload},
        )
    except Exception as exc:  # the channel layer (Redis) is unreachable: a failed attempt like any other
        with transaction.atomic():
            locked = OutboundDelivery.objects.select_for_update().get(pk=current.pk)
            if locked.status == OutboundDelivery.Status.PENDING and locked.sent_at == now:
                _record(
                    locked,
                    ok=False,
                    channel=Channel.WEBSOCKET,
                    latency_ms=_ms_since(now, timezone.now()),
                    error=f"{type(exc).__name__}: {exc}"[:300],
                )
            return locked.status
    _deliver_soon(current.conversation_id, delay=ack_timeout + 0.5)  # the ack check
    return OutboundDelivery.Status.PENDING


def _send_over_socket_without_ack(delivery: OutboundDelivery, socket: BotSocket) -> str:
    """The spec's socket: no ack, so a successful hand-off to the socket's channel is the delivery, and the
    line moves on at once (the channel keeps the order). A worker killed between the hand-off and the record
    sends it again under the same id, as over HTTP."""
    started = time.monotonic()
    error = ""
    try:
        async_to_sync(get_channel_layer().send)(
            socket.channel_name,
            {"type": "warmline.callback", "id": delivery.webhook_id, "event": delivery.payload},
        )
    except Exception as exc:  # the channel layer is unreachable or the channel full: a failed attempt
        error = f"{type(exc).__name__}: {exc}"[:300]
    latency_ms = round((time.monotonic() - started) * 1000)
    with transaction.atomic():
        current = _still_leased(delivery)
        if current is None:
            return OutboundDelivery.Status.PENDING
        _record(current, ok=not error, channel=Channel.WEBSOCKET, latency_ms=latency_ms, error=error)
    return current.status


def _ms_since(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))


def _record(
    delivery: OutboundDelivery,
    *,
    ok: bool,
    channel: str,
    latency_ms: int,
    error: str = "",
    status_code: int | None = None,
    excerpt: str = "",
) -> None:
    """Record one attempt on a row the caller has locked, and move the delivery on: delivered, backed off
    (with its retry scheduled), or given up after the retry window."""
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            channel=channel,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            response_excerpt=excerpt,
        )
        delivery.attempts += 1
        delivery.leased_until = None
        delivery.sent_at = None
        delivery.sent_to = ""
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
                "sent_at",
                "sent_to",
                "status",
                "delivered_at",
                "last_error",
                "next_attempt_at",
                "updated_at",
            ]
        )
        if not ok:
            logger.info(
                "callback %s to %s failed (attempt %d over %s): %s",
                delivery.webhook_id,
                delivery.bot.bot_id,
                delivery.attempts,
                channel,
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
    """Conversations whose line has a due delivery nobody holds: its task was lost, or the worker (or the
    socket's ack) holding it is gone and the lease ran out. The beat sweep's safety net."""
    now = timezone.now()
    rows = (
        OutboundDelivery.objects.filter(status=OutboundDelivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
        .values_list("conversation_id", flat=True)
        .distinct()[:limit]
    )
    return [str(row) for row in rows]


# --- the bot websocket ----------------------------------------------------------------------------


def callbacks_ack(*, bot: Bot, webhook_id: str) -> bool:
    """The bot acked a callback sent over its websocket: it is delivered, and its line moves on. An ack of
    anything not awaiting one (unknown, another bot's, already delivered, or given back after its timeout
    and about to be sent again) changes nothing: the bot acks the repeat when it comes."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            OutboundDelivery.objects.select_for_update()
            .filter(
                bot=bot,
                webhook_id=webhook_id,
                status=OutboundDelivery.Status.PENDING,
                sent_at__isnull=False,
            )
            .first()
        )
        if delivery is None or delivery.sent_at is None:
            return False
        _record(delivery, ok=True, channel=Channel.WEBSOCKET, latency_ms=_ms_since(delivery.sent_at, now))
        _deliver_soon(delivery.conversation_id)
    return True


def live_socket(bot: Bot) -> BotSocket | None:
    """The bot's newest open socket whose consumer has beaten recently."""
    return (
        BotSocket.objects.filter(bot=bot, closed_at__isnull=True, seen_at__gte=timezone.now() - SOCKET_LIVE)
        .order_by("-connected_at")
        .first()
    )


def bot_socket_open(*, bot: Bot, channel_name: str, acks: bool = False) -> int:
    """A bot's websocket opened (``acks``: it opted in to ack callbacks): count it live, and send now what
    its conversations have been waiting for (backed-off deliveries are due at once: the bot is back).
    Returns how many lines were restarted."""
    now = timezone.now()
    with transaction.atomic():
        BotSocket.objects.filter(bot=bot, seen_at__lt=now - _retry_window()).delete()
        BotSocket.objects.create(bot=bot, channel_name=channel_name, acks=acks, connected_at=now, seen_at=now)
        waiting = OutboundDelivery.objects.filter(
            bot=bot, status=OutboundDelivery.Status.PENDING, sent_at__isnull=True
        ).filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
        waiting.filter(next_attempt_at__gt=now).update(next_attempt_at=now, updated_at=now)
        conversation_ids = set(waiting.values_list("conversation_id", flat=True).distinct()[:500])
        for conversation_id in conversation_ids:
            _deliver_soon(conversation_id)
    return len(conversation_ids)


def bot_socket_beat(*, channel_name: str) -> None:
    BotSocket.objects.filter(channel_name=channel_name, closed_at__isnull=True).update(seen_at=timezone.now())


def bot_socket_closed(*, channel_name: str) -> int:
    """A bot's websocket closed: it is no longer live, and what it had not acked is a failed attempt,
    retried (over another socket or HTTP) after the usual backoff. Returns how many were given back."""
    now = timezone.now()
    with transaction.atomic():
        BotSocket.objects.filter(channel_name=channel_name).update(closed_at=now, seen_at=now)
        unacked = list(
            OutboundDelivery.objects.select_for_update().filter(
                status=OutboundDelivery.Status.PENDING, sent_to=channel_name, sent_at__isnull=False
            )
        )
        for delivery in unacked:
            assert delivery.sent_at is not None
            _record(
                delivery,
                ok=False,
                channel=Channel.WEBSOCKET,
                latency_ms=_ms_since(delivery.sent_at, now),
                error="the websocket closed before the ack",
            )
    return len(unacked)
