"""The bot websocket answers like HTTP: same statuses, bodies and idempotency, plus callback events."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from console.asgi import application
from handoffs.broadcast import broadcast_on_commit
from handoffs.consumers import bot_group
from handoffs.models import Turn
from handoffs.signing import sign
from tests.botclient import CUSTOMER, escalation, turn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def connect(bot_id: str, secret: str) -> WebsocketCommunicator:
    headers = sign(b"", secret=secret, webhook_id="ws-connect-1")
    return WebsocketCommunicator(
        application, f"/ws/bots/{bot_id}/", headers=[(k.encode(), v.encode()) for k, v in headers.items()]
    )


async def send(communicator: WebsocketCommunicator, frame_id: str, body) -> dict:
    await communicator.send_to(text_data=json.dumps({"id": frame_id, "event": body}))
    return json.loads(await communicator.receive_from(timeout=5))


async def test_unsigned_upgrade_is_refused(bot):
    communicator = WebsocketCommunicator(application, f"/ws/bots/{bot.bot_id}/")
    connected, _ = await communicator.connect()
    assert not connected


async def test_upgrade_signed_with_a_wrong_secret_is_refused(bot):
    connected, _ = await connect(bot.bot_id, "whsec_" + "A" * 43).connect()
    assert not connected


async def test_events_are_acked_with_the_http_status_and_body(bot_and_secret):
    bot, secret = bot_and_secret
    communicator = connect(bot.bot_id, secret)
    connected, _ = await communicator.connect()
    assert connected
    # when
    ack = await send(communicator, "f-1", turn("My order 7730155 is late", first=True))
    escalated = await send(communicator, "f-2", escalation())
    # then
    assert ack["ack"] == "f-1" and ack["status"] == 200
    assert ack["body"]["conversation"]["conversation_id"] == "c-1"
    assert "escalation_advice" in ack["body"]
    assert escalated["status"] == 201 and escalated["body"]["handoff"]["status"] == "queued"
    await communicator.disconnect()


async def test_a_repeated_frame_id_replays_and_writes_once(bot_and_secret):
    bot, secret = bot_and_secret
    communicator = connect(bot.bot_id, secret)
    await communicator.connect()
    first = await send(communicator, "f-1", turn("Hello", first=True))
    # when
    again = await send(communicator, "f-1", turn("Hello", first=True))
    conflict = await send(communicator, "f-1", turn("Another text", first=True))
    # then
    assert again["body"] == first["body"] and again["replayed"] is True
    assert conflict["status"] == 409
    assert await Turn.objects.acount() == 1
    await communicator.disconnect()


async def test_bad_frames_get_problem_acks(bot_and_secret):
    bot, secret = bot_and_secret
    communicator = connect(bot.bot_id, secret)
    await communicator.connect()
    await communicator.send_to(text_data="{not json")
    malformed = json.loads(await communicator.receive_from())
    await communicator.send_to(text_data=json.dumps({"event": turn("x", first=True)}))
    no_id = json.loads(await communicator.receive_from())
    invalid = await send(
        communicator,
        "f-3",
        {
            "type": "turn",
            "conversation_id": "c",
            "customer": CUSTOMER,
            "data": {"role": "martian", "text": "hi"},
        },
    )
    assert malformed["status"] == 400
    assert no_id["status"] == 422
    assert invalid["status"] == 422 and invalid["body"]["errors"]
    assert await Turn.objects.acount() == 0
    await communicator.disconnect()


async def test_callback_events_reach_the_connected_bot(bot_and_secret):
    bot, secret = bot_and_secret
    communicator = connect(bot.bot_id, secret)
    await communicator.connect()
    # when

    def push() -> None:
        with transaction.atomic():
            broadcast_on_commit(
                bot_group(bot.bot_id), {"type": "handoff.connected", "data": {"agent": "Ada"}}
            )

    await sync_to_async(push)()
    # then
    frame = json.loads(await communicator.receive_from(timeout=5))
    assert frame == {"event": {"type": "handoff.connected", "data": {"agent": "Ada"}}}
    await communicator.disconnect()
