"""Standard Webhooks signing: the reference test vector, tolerance, several signatures, rotation."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from handoffs.models import InboundRequest
from handoffs.signing import SignatureError, new_secret, sign, verify
from handoffs.tasks import prune_inbound_requests
from tests.botclient import turn

# The reference vector published with the Standard Webhooks libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signing_matches_the_reference_vector():
    headers = sign(
        VECTOR_BODY,
        secret=VECTOR_SECRET,
        webhook_id=VECTOR_ID,
        at=datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC),
    )
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def test_the_reference_vector_is_refused_as_stale_today():
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    with pytest.raises(SignatureError, match="300"):
        verify(VECTOR_BODY.encode(), headers, [VECTOR_SECRET])


def test_verify_accepts_any_active_secret_and_returns_the_id():
    old, new = new_secret(), new_secret()
    body = b'{"type": "turn"}'
    headers = sign(body, secret=old, webhook_id="msg_1")
    assert verify(body, headers, [new, old]) == "msg_1"
    with pytest.raises(SignatureError):
        verify(body, headers, [new])


def test_new_secrets_carry_at_least_24_random_bytes():

    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert new_secret() != secret


@pytest.mark.django_db
def test_applied_webhook_ids_are_kept_at_least_24_hours(bot_client):
    bot_client.post(turn("Hi", first=True), webhook_id="msg_recent")
    bot_client.post(turn("Again"), webhook_id="msg_old")
    InboundRequest.objects.filter(webhook_id="msg_old").update(
        created_at=timezone.now() - timedelta(hours=49)
    )
    InboundRequest.objects.filter(webhook_id="msg_recent").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    # when
    pruned = prune_inbound_requests()
    # then: only what is past the retention window (48 h) goes; a day-old id still replays
    assert pruned == 1
    assert list(InboundRequest.objects.values_list("webhook_id", flat=True)) == ["msg_recent"]
    replay = bot_client.post(turn("Hi", first=True), webhook_id="msg_recent")
    assert replay["Idempotent-Replayed"] == "true"
