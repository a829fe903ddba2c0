"""The customer chat widget: its conversation token, its socket, the reference bot behind it, and the
callbacks that bring the specialist's side back to the customer."""

import asyncio
import json
import time
from pathlib import Path
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import signing
from django.core.cache import cache
from django.test import Client

from console import widget_consumers
from console.asgi import application
from console.widget import TOKEN_SALT, callback_path, token_issue, token_read
from handoffs.knowledge import kb_import
from handoffs.models import Bot, BotSecret, CsatRating, Handoff, InboundRequest, OutboundDelivery, Turn
from handoffs.reference_bot import reference_bot_create
from handoffs.services.callbacks import callbacks_deliver
from handoffs.signing import sign

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

DEMO_KB = Path(__file__).resolve().parents[2] / "handoffs" / "demo" / "kb"
BROWSER = [(b"origin", b"http://testserver"), (b"host", b"testserver")]


# --- fixtures and helpers -----------------------------------------------------------------------------


@pytest.fixture
def widget_bot(support_team) -> Bot:
    """The reference bot, its callbacks addressed to the widget endpoint (of a server that is not running:
    tests that need them delivered use ``live_widget_bot``)."""
    kb_import(DEMO_KB)
    bot, _ = reference_bot_create(team_name=support_team.name)
    bot.callback_url = "http://127.0.0.1:9" + callback_path(bot.bot_id)
    bot.save(update_fields=["callback_url"])
    return bot


@pytest.fixture
def live_widget_bot(widget_bot, live_server) -> Bot:
    """The reference bot with callbacks to a live server running this code (delivered with
    ``deliver_callbacks()``, as the Celery task would)."""
    widget_bot.callback_url = live_server.url + callback_path(widget_bot.bot_id)
    widget_bot.save(update_fields=["callback_url"])
    return widget_bot


def deliver_callbacks(bot: Bot) -> int:
    return sum(
        callbacks_deliver(conversation_id=str(pk))
        for pk in bot.conversations.values_list("pk", flat=True)  # type: ignore[attr-defined]
    )


async def open_widget(bot_id: str, token: str, *, headers=BROWSER) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/chat/{bot_id}/?token={token}", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    assert connected, code
    return communicator


async def closed_with(communicator: WebsocketCommunicator) -> int | None:
    """The close code of a socket that was refused after the handshake (None if it stayed open)."""
    output = await communicator.receive_output(timeout=5)
    return output.get("code") if output["type"] == "websocket.close" else None


async def frames_until(
    communicator: WebsocketCommunicator, needle: str, *, timeout: float = 8.0
) -> list[str]:
    """Frames received until one contains ``needle`` (all of them, that one last)."""
    frames: list[str] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        frames.append(await communicator.receive_from(timeout=max(0.1, left)))
        if needle in frames[-1]:
            return frames


async def started(bot: Bot) -> tuple[WebsocketCommunicator, str, str]:
    """A customer with the widget open: (socket, token, conversation id), the first frame read."""
    token = token_issue(bot_id=bot.bot_id, locale="en")
    claims = token_read(token, bot_id=bot.bot_id)
    assert claims is not None
    socket = await open_widget(bot.bot_id, token)
    await frames_until(socket, 'id="chat-log"')
    return socket, token, claims.conversation_id


async def say(socket: WebsocketCommunicator, text: str) -> None:
    await socket.send_to(text_data=json.dumps({"kind": "message", "text": text, "HEADERS": {}}))


# --- the page ---------------------------------------------------------------------------------------


async def test_the_page_issues_a_conversation_token_and_may_be_embedded(widget_bot):
    response = await sync_to_async(Client().get)(f"/chat/{widget_bot.bot_id}/")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers  # made for an iframe on the customer's site
    assert "frame-ancestors *" in response.headers.get("Content-Security-Policy", "frame-ancestors *")
    html = response.content.decode()
    token = html.split('data-token="', 1)[1].split('"', 1)[0]
    assert token_read(token, bot_id=widget_bot.bot_id) is not None
    assert f'data-socket="/ws/chat/{widget_bot.bot_id}/"' in html


async def test_a_bot_without_a_widget_has_no_page_and_no_socket(bot):
    response = await sync_to_async(Client().get)(f"/chat/{bot.bot_id}/")
    assert response.status_code == 404
    socket = await open_widget(bot.bot_id, token_issue(bot_id=bot.bot_id, locale="en"))
    assert await closed_with(socket) == widget_consumers.NO_WIDGET


async def test_the_embed_page_shows_the_snippet(widget_bot):
    response = await sync_to_async(Client().get)(f"/chat/{widget_bot.bot_id}/embed")
    assert response.status_code == 200
    assert f'&lt;iframe src="http://testserver/chat/{widget_bot.bot_id}/"' in response.content.decode()


# --- the token ---------------------------------------------------------------------------------------


async def test_a_forged_token_is_refused(widget_bot):
    token = token_issue(bot_id=widget_bot.bot_id, locale="en")
    value, stamp, signature = token.rsplit(":", 2)
    forged = signing.TimestampSigner(salt=TOKEN_SALT, key="not-our-key").sign_object(
        {"b": widget_bot.bot_id, "c": "web-" + "A" * 24, "l": "en"}
    )
    for bad in (forged, f"{value}:{stamp}:{signature[:-2]}xx", "", "web-guessed-id"):
        socket = await open_widget(widget_bot.bot_id, bad)
        assert await closed_with(socket) == widget_consumers.BAD_TOKEN


async def test_an_expired_token_is_refused(widget_bot):
    with mock.patch("time.time", return_value=time.time() - 13 * 3600):
        old = token_issue(bot_id=widget_bot.bot_id, locale="en")
    socket = await open_widget(widget_bot.bot_id, old)
    assert await closed_with(socket) == widget_consumers.BAD_TOKEN


async def test_another_bots_token_is_refused(widget_bot, support_team):
    other, _ = await sync_to_async(reference_bot_create)(team_name=support_team.name)
    socket = await open_widget(widget_bot.bot_id, token_issue(bot_id=other.bot_id, locale="en"))
    assert await closed_with(socket) == widget_consumers.BAD_TOKEN


async def test_a_page_on_another_origin_cannot_open_the_socket(widget_bot):
    token = token_issue(bot_id=widget_bot.bot_id, locale="en")
    communicator = WebsocketCommunicator(
        application,
        f"/ws/chat/{widget_bot.bot_id}/?token={token}",
        headers=[(b"origin", b"https://evil.example"), (b"host", b"testserver")],
    )
    connected, _ = await communicator.connect()
    assert not connected


# --- talking to the bot ------------------------------------------------------------------------------


async def test_a_customer_message_gets_the_bots_answer_through_ingest(widget_bot):
    socket, _, conversation_id = await started(widget_bot)
    # when
    await say(socket, "How do I return an item?")
    # then: the customer's line, then the bot's answer from the help center
    frames = await frames_until(socket, "msg-bot")
    assert any("msg-customer" in frame and "How do I return an item?" in frame for frame in frames)
    assert "Returns and refunds policy" in frames[-1] and "30 days" in frames[-1]
    # the bot went through the signed ingest path, and the conversation holds both turns
    roles = await sync_to_async(list)(
        Turn.objects.filter(conversation__external_id=conversation_id).values_list("role", flat=True)
    )
    assert roles == ["customer", "bot"]
    assert await InboundRequest.objects.filter(bot=widget_bot).acount() >= 2
    await socket.disconnect()


async def test_asking_for_a_human_shows_the_announcement_and_the_wait(widget_bot):
    socket, _, conversation_id = await started(widget_bot)
    # when
    await say(socket, "I want to talk to a human")
    # then
    frames = await frames_until(socket, "next in line")
    announcement = next(frame for frame in frames if "msg-announcement" in frame)
    assert "specialist" in announcement and "repeat yourself" in announcement
    assert "Estimated wait" in frames[-1]
    handoff = await Handoff.objects.aget(conversation__external_id=conversation_id)
    assert handoff.status == "queued" and handoff.reason_code == "customer_request"
    await socket.disconnect()


async def test_a_reload_continues_the_conversation(widget_bot):
    socket, token, _ = await started(widget_bot)
    await say(socket, "How do I return an item?")
    await frames_until(socket, "msg-bot")
    await socket.disconnect()
    # when: the page reloads with the token it kept
    again = await open_widget(widget_bot.bot_id, token)
    # then
    [resync] = await frames_until(again, 'id="chat-log"')
    assert "How do I return an item?" in resync and "Returns and refunds policy" in resync
    await again.disconnect()


async def test_customer_text_is_inert_markup(widget_bot):
    socket, _, _ = await started(widget_bot)
    await say(socket, '<img src=x onerror=alert(1)><script>alert("x")</script>')
    frames = await frames_until(socket, "msg-bot")
    shown = "".join(frames)
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;" in shown
    assert "<img" not in shown and "<script" not in shown
    await socket.disconnect()


async def test_the_position_in_line_is_kept_current(widget_bot, agent, monkeypatch):
    monkeypatch.setattr(widget_consumers, "POLL_SECONDS", 0.2)
    # given: two customers waiting, the second one behind the first
    first, _, first_conversation = await started(widget_bot)
    await say(first, "I want to talk to a human")
    await frames_until(first, "next in line")
    second, _, _ = await started(widget_bot)
    await say(second, "Can I speak to a real person please?")
    await frames_until(second, "number 2 in line")
    # when: an agent takes the first one
    from handoffs.services.handoffs import handoff_claim

    handoff = await Handoff.objects.aget(conversation__external_id=first_conversation)
    await sync_to_async(handoff_claim)(handoff_id=str(handoff.id), agent=agent)
    # then: the second customer moves up without reloading (the bot's GET of its handoff)
    await frames_until(second, "next in line")
    await first.disconnect()
    await second.disconnect()


# --- the specialist's side, through callbacks ---------------------------------------------------------


async def escalated_and_connected(bot: Bot, agent, api_as) -> tuple[WebsocketCommunicator, str, object]:
    socket, _, conversation_id = await started(bot)
    await say(socket, "I want to talk to a human")
    await frames_until(socket, "next in line")
    handoff = await Handoff.objects.aget(conversation__external_id=conversation_id)
    client = await sync_to_async(api_as)(agent)
    await sync_to_async(client.post)(f"/handoffs/{handoff.id}/claim")
    await sync_to_async(client.post)(f"/handoffs/{handoff.id}/connect")
    return socket, str(handoff.id), client


async def test_an_agents_message_reaches_the_widget_through_the_callback(live_widget_bot, agent, api_as):
    socket, handoff_id, client = await escalated_and_connected(live_widget_bot, agent, api_as)
    response = await sync_to_async(client.post)(
        f"/handoffs/{handoff_id}/messages", {"text": "Hi, I'm Ada. I have your conversation here."}
    )
    assert response.status_code == 201
    # when: the callbacks are delivered (the Celery task's work) to the widget endpoint over HTTP
    delivered = await sync_to_async(deliver_callbacks)(live_widget_bot)
    # then: preparing, connected and the message reach the customer, with the agent's name
    frames = await frames_until(socket, "msg-agent")
    shown = "".join(frames)
    assert "A specialist is reviewing your conversation" in shown
    assert f"{agent.name} joined the conversation." in shown
    assert "Hi, I&#x27;m Ada. I have your conversation here." in frames[-1] and agent.name in frames[-1]
    assert delivered >= 4
    assert not await OutboundDelivery.objects.exclude(status="delivered").aexists()
    await socket.disconnect()


async def test_once_connected_customer_messages_are_customer_turns_for_the_agent(
    live_widget_bot, agent, api_as
):
    socket, handoff_id, client = await escalated_and_connected(live_widget_bot, agent, api_as)
    await sync_to_async(deliver_callbacks)(live_widget_bot)
    await frames_until(socket, "joined the conversation")
    bot_turns = await Turn.objects.filter(role="bot").acount()
    # when
    await say(socket, "My order number is KX-48213")
    await frames_until(socket, "KX-48213")
    # then: the agent reads it in the conversation; the bot said nothing
    response = await sync_to_async(client.get)(f"/handoffs/{handoff_id}")
    transcript = response.json()["context"]["transcript"]
    assert transcript[-1]["role"] == "customer" and transcript[-1]["text"] == "My order number is KX-48213"
    assert await Turn.objects.filter(role="bot").acount() == bot_turns
    await socket.disconnect()


async def test_the_callback_endpoint_verifies_signatures(widget_bot, bot):
    body = json.dumps(
        {"type": "handoff.resolved", "handoff_id": None, "conversation_id": "web-x", "data": {}}
    ).encode()
    client = Client()
    path = callback_path(widget_bot.bot_id)
    secret = (await BotSecret.objects.aget(bot=widget_bot)).secret

    def post(headers):
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        return client.post(path, data=body, content_type="application/json", **extra)

    # unsigned, and signed with someone else's secret: 401
    assert (await sync_to_async(post)({})).status_code == 401
    other_secret = (await BotSecret.objects.aget(bot=bot)).secret
    assert (await sync_to_async(post)(sign(body, secret=other_secret, webhook_id="msg_1"))).status_code == 401
    # another bot's endpoint with its own valid signature: 401 too (it has no widget)
    response = await sync_to_async(client.post)(
        callback_path(bot.bot_id),
        data=body,
        content_type="application/json",
        **{
            f"HTTP_{k.upper().replace('-', '_')}": v
            for k, v in sign(body, secret=other_secret, webhook_id="msg_2").items()
        },
    )
    assert response.status_code == 401
    # the bot's own signature: accepted
    assert (await sync_to_async(post)(sign(body, secret=secret, webhook_id="msg_3"))).status_code == 204


# --- ratings -------------------------------------------------------------------------------------------


async def rate(socket: WebsocketCommunicator, phase: str, score: int) -> None:
    await socket.send_to(text_data=json.dumps({"kind": "csat", "phase": phase, "score": str(score)}))


async def test_while_waiting_the_customer_may_rate_the_bot_once(widget_bot):
    socket, _, conversation_id = await started(widget_bot)
    await say(socket, "I want to talk to a human")
    frames = await frames_until(socket, "next in line")
    assert any('"phase": "bot"' in frame for frame in frames)  # the optional one-click rating is offered
    # when
    await rate(socket, "bot", 4)
    await frames_until(socket, "Thanks for your rating")
    await rate(socket, "bot", 1)  # a second click changes nothing
    await asyncio.sleep(0.3)
    # then
    ratings = [row async for row in CsatRating.objects.filter(conversation__external_id=conversation_id)]
    assert [(row.phase, row.score) for row in ratings] == [("bot", 4)]
    assert ratings[0].handoff_id is not None
    await socket.disconnect()


async def test_after_the_resolution_the_customer_rates_the_specialist(live_widget_bot, agent, api_as):
    socket, handoff_id, client = await escalated_and_connected(live_widget_bot, agent, api_as)
    await sync_to_async(client.post)(f"/handoffs/{handoff_id}/resolve", {"resolution": "Refund issued."})
    await sync_to_async(deliver_callbacks)(live_widget_bot)
    frames = await frames_until(socket, '"phase": "human"')
    assert "marked as resolved" in "".join(frames)
    assert f"How was your conversation with {agent.name}?" in frames[-1]
    # when
    await rate(socket, "human", 5)
    await frames_until(socket, "Thanks for your rating")
    # then
    rating = await CsatRating.objects.aget(conversation__handoffs__id=handoff_id, phase="human")
    assert rating.score == 5
    await socket.disconnect()


async def test_rating_a_phase_not_on_offer_is_ignored(widget_bot):
    socket, _, conversation_id = await started(widget_bot)
    await say(socket, "How do I return an item?")
    await frames_until(socket, "msg-bot")
    await rate(socket, "human", 5)
    await asyncio.sleep(0.3)
    assert not await CsatRating.objects.filter(conversation__external_id=conversation_id).aexists()
    await socket.disconnect()


async def test_a_customer_sending_too_fast_is_asked_to_slow_down(widget_bot, settings):
    settings.WARMLINE_RATE_LIMITS = {**settings.WARMLINE_RATE_LIMITS, "widget": "2/m"}
    await sync_to_async(cache.clear)()
    socket, _, conversation_id = await started(widget_bot)
    # when: three messages inside a minute
    for text in ("Where is my parcel?", "Hello?", "Anyone?"):
        await say(socket, text)
    # then: the third is not sent on, and the customer is told why
    await frames_until(socket, "sending messages quickly")
    customer_turns = await Turn.objects.filter(
        conversation__external_id=conversation_id, role="customer"
    ).acount()
    assert customer_turns == 2
    await socket.disconnect()
