"""Callbacks to the bot: signed, in order per conversation, retried, every attempt recorded."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from handoffs.models import Bot, Conversation, DeliveryAttempt, OutboundDelivery
from handoffs.services.callbacks import (
    backoff_seconds,
    callbacks_deliver,
    callbacks_retry,
    conversations_with_due_callbacks,
    http_lease,
)
from tests.support.receiver import callback_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(bot):
    with callback_receiver() as receiver:
        Bot.objects.filter(pk=bot.pk).update(callback_url=receiver.url)
        yield receiver


def deliver_all() -> int:
    return sum(
        callbacks_deliver(conversation_id=str(pk)) for pk in Conversation.objects.values_list("pk", flat=True)
    )


def test_a_lived_handoff_reaches_the_bot_in_order_and_signed(receiver, bot_and_secret, live_handoff, agent):
    # given
    _, secret = bot_and_secret
    handoff_id = live_handoff()
    # when
    delivered = deliver_all()
    # then
    assert delivered == 5
    assert receiver.types() == [
        "handoff.queued",
        "handoff.preparing",
        "handoff.connected",
        "message.created",
        "handoff.resolved",
    ]
    for request in receiver.requests:
        Webhook(secret).verify(request.body, request.headers)  # raises on a bad signature
        assert request.json["handoff_id"] == handoff_id and request.json["conversation_id"] == "c-1"
    message = receiver.requests[3].json["data"]
    assert message["text"] == "Hi Dana, I have your order here." and message["agent"] == agent.name
    assert receiver.requests[2].json["data"]["agent"] == agent.name
    assert OutboundDelivery.objects.filter(status="delivered").count() == 5


def test_a_failing_callback_is_retried_later_and_holds_back_what_follows(receiver, escalate, api_as, agent):
    # given: the bot answers 503 to the first attempt
    receiver.script = [503]
    handoff_id = escalate()
    api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    # when
    assert deliver_all() == 0
    # then: one attempt recorded, backed off, and handoff.preparing not sent before handoff.queued
    queued = OutboundDelivery.objects.get(type="handoff.queued")
    assert queued.status == "pending" and queued.attempts == 1 and queued.last_error == "HTTP 503"
    assert queued.next_attempt_at > timezone.now()
    attempt = DeliveryAttempt.objects.get(delivery=queued)
    assert attempt.status_code == 503 and attempt.latency_ms >= 0
    assert receiver.types() == ["handoff.queued"]
    # when the retry is due
    OutboundDelivery.objects.filter(pk=queued.pk).update(next_attempt_at=timezone.now())
    assert deliver_all() == 2
    assert receiver.types() == ["handoff.queued", "handoff.queued", "handoff.preparing"]
    # the retry carries the same webhook-id, so the bot can drop a duplicate
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


def test_after_the_retry_window_a_delivery_fails_and_the_line_moves_on(receiver, escalate, api_as, agent):
    receiver.script = [500]
    handoff_id = escalate()
    api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    OutboundDelivery.objects.filter(type="handoff.queued").update(
        retry_until=timezone.now() - timedelta(seconds=1)
    )
    # when
    deliver_all()
    # then
    assert OutboundDelivery.objects.get(type="handoff.queued").status == "failed"
    assert OutboundDelivery.objects.get(type="handoff.preparing").status == "delivered"
    # an admin can send it again
    failed = OutboundDelivery.objects.get(type="handoff.queued")
    assert callbacks_retry(delivery_ids=[failed.pk]) == 1
    deliver_all()
    assert OutboundDelivery.objects.get(pk=failed.pk).status == "delivered"


def test_an_unreachable_bot_is_recorded_as_an_error(bot, escalate):
    Bot.objects.filter(pk=bot.pk).update(callback_url="http://127.0.0.1:9/unreachable")
    escalate()
    deliver_all()
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "Connect" in delivery.last_error


def test_a_bot_without_a_callback_url_gets_no_deliveries(escalate):
    escalate()
    assert not OutboundDelivery.objects.exists()


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    assert 2.5 <= backoff_seconds(1) <= 5
    assert 20 <= backoff_seconds(4) <= 40
    assert 1800 <= backoff_seconds(30) <= 3600


def test_admins_see_failing_deliveries_and_retry_them(receiver, escalate, admin_client):
    receiver.script = [500]
    escalate()
    deliver_all()
    failing = admin_client.get("/admin/handoffs/outbounddelivery/?health=failing")
    assert failing.status_code == 200 and "handoff.queued" in failing.content.decode()
    delivery = OutboundDelivery.objects.get()
    detail = admin_client.get(f"/admin/handoffs/outbounddelivery/{delivery.pk}/change/").content.decode()
    assert "HTTP 500" in detail and "500" in detail
    # when
    response = admin_client.post(
        "/admin/handoffs/outbounddelivery/",
        {"action": "retry_now", "_selected_action": [delivery.pk]},
    )
    # then
    assert response.status_code == 302
    assert OutboundDelivery.objects.get().next_attempt_at <= timezone.now()
    deliver_all()
    assert OutboundDelivery.objects.get().status == "delivered"


def test_the_sweep_restarts_lines_whose_lease_ran_out_and_leaves_held_ones_alone(receiver, escalate):
    # given: a delivery held by a worker that is still within its lease
    escalate()
    delivery = OutboundDelivery.objects.get()
    OutboundDelivery.objects.filter(pk=delivery.pk).update(leased_until=timezone.now() + http_lease())
    assert conversations_with_due_callbacks() == []
    assert deliver_all() == 0 and receiver.requests == []
    # when the worker died and its lease ran out
    OutboundDelivery.objects.filter(pk=delivery.pk).update(leased_until=timezone.now() - timedelta(seconds=1))
    # then
    assert conversations_with_due_callbacks() == [str(delivery.conversation_id)]
    assert deliver_all() == 1
    assert receiver.requests[0].headers["webhook-id"] == delivery.webhook_id
