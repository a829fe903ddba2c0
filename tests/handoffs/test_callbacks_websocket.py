"""Callbacks over the bot websocket: sent there instead of HTTP, in order per conversation. A spec bot (no
acks) has each counted delivered once handed to its socket; a bot that opted in with ``?acks=1`` acks them
one by one, gets an unacked one again with the same id, and HTTP when the socket goes away.

The delivery task (``callbacks_deliver``) is called directly, as a worker would run it; the socket is the
real consumer behind the ASGI application, on the Redis channel layer.
"""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from console.asgi import application
from handoffs.models import Bot, BotSocket, DeliveryAttempt, OutboundDelivery, Turn
from handoffs.services.callbacks import SOCKET_LIVE, callbacks_deliver
from handoffs.signing import sign
from tests.botclient import turn
from tests.support.receiver import callback_receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

LIVED = ["handoff.queued", "handoff.preparing", "handoff.connected", "message.created", "handoff.resolved"]


async def open_socket(bot: Bot, secret: str, *, acks: bool = True) -> WebsocketCommunicator:
    """A bot socket; by default one that opted in to acks (``acks=False``: the spec's socket, no acks)."""
    headers = sign(b"", secret=secret, webhook_id=f"ws-{timezone.now().timestamp()}")
    communicator = WebsocketCommunicator(
        application,
        f"/ws/bots/{bot.bot_id}/" + ("?acks=1" if acks else ""),
        headers=[(k.encode(), v.encode()) for k, v in headers.items()],
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def next_frame(communicator: WebsocketCommunicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=5))


async def ack(communicator: WebsocketCommunicator, webhook_id: str) -> None:
    await communicator.send_to(text_data=json.dumps({"ack": webhook_id}))


async def deliver() -> int:
    conversation_ids = await sync_to_async(
        lambda: list(OutboundDelivery.objects.values_list("conversation_id", flat=True).distinct())
    )()
    total = 0
    for conversation_id in conversation_ids:
        total += await sync_to_async(callbacks_deliver)(conversation_id=str(conversation_id))
    return total


async def make_due() -> None:
    """Skip the backoff of everything waiting (as time passing would)."""
    await OutboundDelivery.objects.filter(status="pending").aupdate(next_attempt_at=timezone.now())


@pytest.fixture
def lived(live_handoff):
    """The conftest's lived handoff (five callbacks for c-1), callable from these async tests."""
    return sync_to_async(live_handoff)


@pytest.fixture
def receiver(bot):
    with callback_receiver() as receiver:
        Bot.objects.filter(pk=bot.pk).update(callback_url=receiver.url)
        yield receiver


async def test_a_bot_that_never_acks_gets_every_callback_once_in_order_and_nothing_is_resent(
    bot_and_secret, receiver, lived
):
    # given: a spec bot's socket (no ?acks=1), which never sends an ack frame
    bot, secret = bot_and_secret
    socket = await open_socket(bot, secret, acks=False)
    assert not (await BotSocket.objects.aget(bot=bot)).acks
    handoff_id = await lived()
    # when: one delivery run
    assert await deliver() == 5
    # then: all five on the socket, in order, each delivered at once over the websocket
    seen = [await next_frame(socket) for _ in LIVED]
    assert [frame["event"]["type"] for frame in seen] == LIVED
    rows = [row async for row in OutboundDelivery.objects.order_by("id")]
    assert [frame["id"] for frame in seen] == [row.webhook_id for row in rows]
    assert [frame["event"] for frame in seen] == [row.payload for row in rows]
    assert all(frame["event"]["handoff_id"] == handoff_id for frame in seen)
    assert all(row.status == "delivered" and row.attempts == 1 and row.sent_at is None for row in rows)
    attempts = [attempt async for attempt in DeliveryAttempt.objects.all()]
    assert len(attempts) == 5 and {attempt.channel for attempt in attempts} == {"websocket"}
    assert receiver.requests == []
    # and when time passes (past any ack timeout and backoff) and the sweep runs again: nothing is resent
    await OutboundDelivery.objects.aupdate(next_attempt_at=timezone.now() - timedelta(hours=1))
    assert await deliver() == 0
    assert await socket.receive_nothing(timeout=0.5)
    # closing the socket gives nothing back either
    await socket.disconnect()
    assert await DeliveryAttempt.objects.acount() == 5
    assert receiver.requests == []


async def test_a_connected_bot_gets_its_callbacks_on_the_socket_one_ack_at_a_time(
    bot_and_secret, receiver, lived
):
    # given: the bot has a callback_url, and a socket open
    bot, secret = bot_and_secret
    socket = await open_socket(bot, secret)
    handoff_id = await lived()
    seen: list[dict] = []
    # when: each delivery run sends the head of the line and stops until the bot acks it
    for _ in LIVED:
        assert await deliver() == 0  # sent, not yet delivered
        frame = await next_frame(socket)
        assert await socket.receive_nothing(timeout=0.3)  # the next one waits for this ack
        assert await deliver() == 0  # the head is leased until its ack: nothing else goes out
        assert await socket.receive_nothing(timeout=0.3)
        seen.append(frame)
        await ack(socket, frame["id"])
        await wait_delivered(frame["id"])
    # then: all five, in order, with the outbox's ids and payloads; none over HTTP, none twice
    assert [frame["event"]["type"] for frame in seen] == LIVED
    rows = [row async for row in OutboundDelivery.objects.order_by("id")]
    assert [frame["id"] for frame in seen] == [row.webhook_id for row in rows]
    assert [frame["event"] for frame in seen] == [row.payload for row in rows]
    assert all(frame["event"]["handoff_id"] == handoff_id for frame in seen)
    assert all(row.status == "delivered" and row.attempts == 1 for row in rows)
    attempts = [attempt async for attempt in DeliveryAttempt.objects.all()]
    assert len(attempts) == 5 and {attempt.channel for attempt in attempts} == {"websocket"}
    assert receiver.requests == []
    assert await deliver() == 0
    assert await socket.receive_nothing(timeout=0.3)  # acked ones are never sent again
    await socket.disconnect()


async def wait_delivered(webhook_id: str) -> None:
    """The consumer handles the ack frame on its own; wait until it has recorded it."""
    import asyncio

    for _ in range(100):
        if await OutboundDelivery.objects.filter(webhook_id=webhook_id, status="delivered").aexists():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{webhook_id} was not recorded as delivered")


async def test_an_unacked_callback_is_resent_with_the_same_id_and_holds_back_what_follows(
    bot_and_secret, receiver, lived, settings
):
    settings.WARMLINE = {**settings.WARMLINE, "CALLBACK_ACK_TIMEOUT_SECONDS": 1}
    bot, secret = bot_and_secret
    socket = await open_socket(bot, secret)
    await lived()
    await deliver()
    first = await next_frame(socket)
    # when: the bot never acks, and the ack timeout passes
    queued = await OutboundDelivery.objects.aget(webhook_id=first["id"])
    await OutboundDelivery.objects.filter(pk=queued.pk).aupdate(
        leased_until=timezone.now() - timedelta(milliseconds=1)
    )
    await deliver()
    # then: a failed websocket attempt, backed off like an HTTP failure; nothing after it was sent
    queued = await OutboundDelivery.objects.aget(pk=queued.pk)
    assert queued.status == "pending" and queued.attempts == 1 and queued.last_error == "no ack within 1 s"
    assert queued.next_attempt_at > timezone.now() and queued.sent_at is None
    assert await socket.receive_nothing(timeout=0.3)
    # when the retry is due: the same event, with the same id, and only it
    await make_due()
    await deliver()
    again = await next_frame(socket)
    assert again == first
    assert await socket.receive_nothing(timeout=0.3)
    await ack(socket, again["id"])
    await wait_delivered(again["id"])
    # a late ack of the same id changes nothing more
    await ack(socket, again["id"])
    await deliver()
    second = await next_frame(socket)
    assert second["event"]["type"] == "handoff.preparing"
    channels = [a.channel async for a in DeliveryAttempt.objects.filter(delivery=queued).order_by("at")]
    assert channels == ["websocket", "websocket"]
    queued = await OutboundDelivery.objects.aget(pk=queued.pk)
    assert queued.status == "delivered" and queued.attempts == 2
    assert receiver.requests == []
    await socket.disconnect()


async def test_when_the_socket_closes_unacked_and_later_callbacks_go_over_http_in_order(
    bot_and_secret, receiver, lived
):
    bot, secret = bot_and_secret
    socket = await open_socket(bot, secret)
    await lived()
    await deliver()
    first = await next_frame(socket)
    await ack(socket, first["id"])
    await wait_delivered(first["id"])
    await deliver()
    second = await next_frame(socket)  # handoff.preparing, never acked
    # when: the bot goes away before acking it
    await socket.disconnect()
    unacked = await OutboundDelivery.objects.aget(webhook_id=second["id"])
    assert unacked.attempts == 1 and unacked.last_error == "the websocket closed before the ack"
    assert await BotSocket.objects.filter(closed_at__isnull=True).acount() == 0
    await make_due()
    assert await deliver() == 4
    # then: the rest over HTTP, starting with the unacked one under its own id, in order
    assert receiver.types() == LIVED[1:]
    assert receiver.requests[0].headers["webhook-id"] == second["id"]
    http = DeliveryAttempt.objects.filter(channel="http")
    assert await http.acount() == 4


async def test_a_socket_whose_heartbeat_stopped_is_not_used(bot_and_secret, receiver, lived):
    # given: a socket row left behind by a web process that died (no close, no more beats)
    bot, _ = bot_and_secret
    stale = timezone.now() - SOCKET_LIVE - timedelta(seconds=1)
    await BotSocket.objects.acreate(bot=bot, channel_name="ghost!1", connected_at=stale, seen_at=stale)
    await lived()
    # when
    assert await deliver() == 5
    # then
    assert receiver.types() == LIVED


async def test_a_bot_that_uses_only_the_websocket_gets_what_happened_while_it_was_away(bot_and_secret, lived):
    # given: no callback_url; the bot was connected once and is now away
    bot, secret = bot_and_secret
    socket = await open_socket(bot, secret)
    await socket.disconnect()
    await lived()
    await deliver()
    head = await OutboundDelivery.objects.order_by("id").afirst()
    assert head is not None and head.attempts == 1
    assert head.last_error == "the bot has no open websocket and no callback_url"
    # when it reconnects: the backed-off line is due at once
    socket = await open_socket(bot, secret)
    assert (await OutboundDelivery.objects.aget(pk=head.pk)).next_attempt_at <= timezone.now()
    received = []
    for _ in LIVED:
        await deliver()
        frame = await next_frame(socket)
        received.append(frame["event"]["type"])
        await ack(socket, frame["id"])
        await wait_delivered(frame["id"])
    # then
    assert received == LIVED
    await socket.disconnect()


async def test_a_bot_that_never_connected_and_has_no_callback_url_gets_no_deliveries(bot, lived):
    await lived()
    assert not await OutboundDelivery.objects.aexists()


async def test_ack_frames_are_checked_and_only_ack_the_bots_own_callbacks(
    bot_and_secret, other_bot_client, receiver, lived
):
    bot, secret = bot_and_secret
    socket = await open_socket(bot, secret)
    await lived()
    await deliver()
    frame = await next_frame(socket)
    # a malformed ack is a problem frame, like any bad frame
    await socket.send_to(text_data=json.dumps({"ack": 42}))
    problem = await next_frame(socket)
    assert problem["status"] == 422 and problem["body"]["errors"][0]["loc"] == ["frame", "ack"]
    # another bot acking this bot's callback changes nothing
    other = await Bot.objects.aget(bot_id=other_bot_client.bot_id)
    intruder = await open_socket(other, other_bot_client.secret)
    await ack(intruder, frame["id"])
    assert await intruder.receive_nothing(timeout=0.3)
    assert (await OutboundDelivery.objects.aget(webhook_id=frame["id"])).status == "pending"
    # a frame with an id and an event is an event, even with an "ack" key in it
    await socket.send_to(
        text_data=json.dumps(
            {"id": "f-1", "ack": frame["id"], "event": turn("Hello", conversation="c-2", first=True)}
        )
    )
    answer = await next_frame(socket)
    assert answer["ack"] == "f-1" and answer["status"] == 200
    assert await Turn.objects.filter(conversation__external_id="c-2").acount() == 1
    assert (await OutboundDelivery.objects.aget(webhook_id=frame["id"])).status == "pending"
    await intruder.disconnect()
    await socket.disconnect()
