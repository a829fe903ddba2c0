"""The console's sockets: who may listen, what they hear, and the resync on (re)connect."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from console.asgi import application
from handoffs.services.handoffs import handoff_claim
from tests.botclient import turn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def open_socket(path: str, headers) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    if not connected:
        await communicator.wait()  # surfaces an exception the consumer raised
    assert connected, code
    return communicator


async def frames_until(communicator: WebsocketCommunicator, needle: str, *, timeout: float = 5.0) -> str:
    """Frames until one contains ``needle``; returns that frame."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        frame = await communicator.receive_from(timeout=max(0.1, left))
        if needle in frame:
            return frame


async def test_an_anonymous_browser_is_refused():
    communicator = WebsocketCommunicator(
        application,
        "/ws/console/queue/",
        headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")],
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_foreign_origin_is_refused_even_with_a_session(agent, session_headers):
    headers = await sync_to_async(session_headers)(agent, origin="https://evil.example")
    communicator = WebsocketCommunicator(application, "/ws/console/queue/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected


async def test_the_queue_resyncs_on_connect(escalate, agent, session_headers):
    handoff_id = await sync_to_async(escalate)()
    socket = await open_socket("/ws/console/queue/", await sync_to_async(session_headers)(agent))
    first = await socket.receive_from(timeout=5)
    assert 'id="queue-list"' in first and 'hx-swap-oob="true"' in first
    assert f'id="h-{handoff_id}"' in first
    await socket.disconnect()


async def test_a_new_escalation_reaches_the_team_and_not_the_outsider(
    bot_client, agent, outsider, session_headers
):
    # given: ada and the outsider are watching their queues
    mine = await open_socket("/ws/console/queue/", await sync_to_async(session_headers)(agent))
    theirs = await open_socket("/ws/console/queue/", await sync_to_async(session_headers)(outsider))
    await mine.receive_from(timeout=5)
    await theirs.receive_from(timeout=5)
    # when: a bot escalates, with a name that is markup
    payload = turn("Where is my parcel?", first=True)
    payload["customer"] = payload["customer"] | {"name": "<img src=x onerror=alert(1)>Dana"}
    await sync_to_async(bot_client.post)(payload)
    response = await sync_to_async(bot_client.post)(
        {
            "type": "escalation",
            "conversation_id": "c-1",
            "data": {"reason": "Asked for a person", "reason_code": "customer_request"},
        }
    )
    handoff_id = response.json()["handoff"]["id"]
    # then: ada's queue grows by that row, escaped; the outsider hears nothing
    frame = await frames_until(mine, handoff_id)
    assert 'hx-swap-oob="beforeend:#queue-list"' in frame
    assert "&lt;img src=x onerror=alert(1)&gt;Dana" in frame and "<img" not in frame
    assert await theirs.receive_nothing(timeout=0.5)
    await mine.disconnect()
    await theirs.disconnect()


async def test_a_claimed_handoff_leaves_everyone_elses_queue(escalate, agent, teammate, session_headers):
    handoff_id = await sync_to_async(escalate)()
    watching = await open_socket("/ws/console/queue/", await sync_to_async(session_headers)(teammate))
    await watching.receive_from(timeout=5)
    # when
    await sync_to_async(handoff_claim)(handoff_id=handoff_id, agent=agent)
    # then
    frame = await frames_until(watching, handoff_id)
    assert 'hx-swap-oob="delete"' in frame
    await watching.disconnect()


async def test_the_handoff_socket_is_for_its_team_only(escalate, outsider, session_headers):
    handoff_id = await sync_to_async(escalate)()
    communicator = WebsocketCommunicator(
        application,
        f"/ws/console/handoffs/{handoff_id}/",
        headers=await sync_to_async(session_headers)(outsider),
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_customer_turns_appear_live_in_the_chat_escaped(escalate, agent, bot_client, session_headers):
    handoff_id = await sync_to_async(escalate)()
    await sync_to_async(handoff_claim)(handoff_id=handoff_id, agent=agent)
    chat = await open_socket(
        f"/ws/console/handoffs/{handoff_id}/", await sync_to_async(session_headers)(agent)
    )
    resync = await frames_until(chat, 'id="chat-log"')
    assert "KX-48213" in resync  # the whole transcript so far
    # when
    await sync_to_async(bot_client.post)(turn("Still waiting <script>alert('x')</script>"))
    # then
    frame = await frames_until(chat, "Still waiting")
    assert 'hx-swap-oob="beforeend:#chat-lines"' in frame
    assert "&lt;script&gt;" in frame and "<script>" not in frame
    await chat.disconnect()


async def test_the_state_panel_follows_the_handoff(escalate, agent, session_headers, api_as):
    handoff_id = await sync_to_async(escalate)()
    await sync_to_async(handoff_claim)(handoff_id=handoff_id, agent=agent)
    chat = await open_socket(
        f"/ws/console/handoffs/{handoff_id}/", await sync_to_async(session_headers)(agent)
    )
    await frames_until(chat, 'id="chat-log"')
    # when the agent connects (from another tab or the API)
    client = await sync_to_async(api_as)(agent)
    await sync_to_async(client.post)(f"/handoffs/{handoff_id}/connect")
    # then
    frame = await frames_until(chat, 'id="state"')
    assert 'data-status="connected"' in frame
    await chat.disconnect()
