"""Rate limits: per bot on the events endpoint and the bot socket, per username at sign-in; 429 + Retry-After."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import override_settings

from console.asgi import application
from handoffs.models import Turn
from handoffs.signing import sign
from tests.botclient import turn

pytestmark = pytest.mark.django_db

LOW = {"bot": "3/m", "login": "2/m", "widget": "30/m"}


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@override_settings(WARMLINE_RATE_LIMITS=LOW)
def test_a_bot_past_its_limit_gets_429_with_retry_after_and_nothing_is_stored(bot_client, other_bot_client):
    statuses = [bot_client.post(turn(f"message {n}", first=n == 0)).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = bot_client.post(turn("one more"))
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["code"] == "rate_limited"
    assert Turn.objects.count() == 3
    # another bot has its own budget
    assert other_bot_client.post(turn("hello", first=True)).status_code == 200


@override_settings(WARMLINE_RATE_LIMITS=LOW)
def test_sign_in_is_limited_per_username(client, agent):
    for _ in range(2):
        assert client.post("/accounts/login/", {"username": "ada", "password": "wrong"}).status_code == 200
    response = client.post(
        "/accounts/login/", {"username": "ada", "password": "correct horse battery staple"}
    )
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "Too many requests" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@override_settings(WARMLINE_RATE_LIMITS=LOW)
async def test_the_bot_socket_shares_the_bots_limit(bot_and_secret):
    bot, secret = bot_and_secret
    headers = sign(b"", secret=secret, webhook_id="ws-rl")
    socket = WebsocketCommunicator(
        application, f"/ws/bots/{bot.bot_id}/", headers=[(k.encode(), v.encode()) for k, v in headers.items()]
    )
    assert (await socket.connect())[0]
    acks = []
    for n in range(4):
        await socket.send_to(text_data=json.dumps({"id": f"f-{n}", "event": turn(f"m{n}", first=n == 0)}))
        acks.append(json.loads(await socket.receive_from(timeout=5))["status"])
    assert acks == [200, 200, 200, 429]
    assert await sync_to_async(Turn.objects.count)() == 3
    await socket.disconnect()
