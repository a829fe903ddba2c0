"""Callbacks over the bot websocket end to end: daphne, a real Celery worker, and a bot on a real socket.

The bot (opted in to acks with ``?acks=1``) gets its callbacks on the socket in order and acks them; one it does not ack is sent again with the
same id after the ack timeout; when it closes the socket with one unacked, that one and the rest reach its
callback_url over HTTP, in order, and nothing acked is sent twice.
"""

import json
import uuid

import httpx

from handoffs.signing import sign
from tests.botclient import escalation, turn
from tests.faults.harness import WebSocket
from tests.support.receiver import callback_receiver

ACK_TIMEOUT = 2


def bot_socket(world) -> WebSocket:
    headers = sign("", secret=world.seed["secret"], webhook_id=f"ws_{uuid.uuid4().hex}")
    return WebSocket(world.url, f"/ws/bots/{world.seed['bot_id']}/?acks=1", headers=headers, timeout=15)


def callback(socket: WebSocket, timeout: float = 20) -> dict:
    """The next callback frame ({"id", "event"}), skipping the answers to the bot's own frames."""
    return json.loads(socket.recv_until(lambda frame: '"event"' in frame and '"ack"' not in frame, timeout))


def agent(world, path: str, payload: dict | None = None) -> httpx.Response:
    response = httpx.post(
        f"{world.url}/api/v1/agent/handoffs/{path}",
        json=payload or {},
        headers={"Authorization": f"Token {world.seed['token']}"},
        timeout=30,
    )
    assert response.status_code < 300, response.text
    return response


def test_callbacks_go_over_the_socket_acked_and_fall_back_to_http_when_it_closes(world):
    with callback_receiver() as receiver:
        world.env["WARMLINE_CALLBACK_ACK_TIMEOUT_SECONDS"] = str(ACK_TIMEOUT)
        world.start(callback_url=receiver.url, worker=True)
        socket = bot_socket(world)
        bot = world.bot
        assert bot.post(turn("I was charged twice.", conversation="c-ws", first=True)).status_code == 200
        response = bot.post(escalation("c-ws"))
        assert response.status_code == 201, response.text
        handoff_id = response.json()["handoff"]["id"]

        # handoff.queued arrives on the socket (not over HTTP); the bot acks it.
        queued = callback(socket)
        assert queued["event"]["type"] == "handoff.queued" and queued["event"]["handoff_id"] == handoff_id
        socket.send_text(json.dumps({"ack": queued["id"]}))

        # handoff.preparing: the bot does not ack; it comes again, same id, after the ack timeout + backoff.
        agent(world, f"{handoff_id}/claim")
        preparing = callback(socket)
        assert preparing["event"]["type"] == "handoff.preparing"
        agent(world, f"{handoff_id}/connect")  # handoff.connected must wait behind the unacked one
        again = callback(socket, timeout=ACK_TIMEOUT + 15)
        assert again == preparing
        socket.send_text(json.dumps({"ack": again["id"]}))

        # handoff.connected comes next; the bot goes away without acking it.
        connected = callback(socket)
        assert connected["event"]["type"] == "handoff.connected"
        agent(world, f"{handoff_id}/messages", {"text": "Hi, I have your order here."})
        agent(world, f"{handoff_id}/resolve", {"resolution": "Refunded the second charge."})
        socket.close()

        # The unacked one and everything after it reach the callback_url, in order, once each.
        requests = receiver.wait_for(3, timeout=30)
        assert [r.json["type"] for r in requests] == [
            "handoff.connected",
            "message.created",
            "handoff.resolved",
        ]
        assert requests[0].headers["webhook-id"] == connected["id"]
        assert receiver.requests == requests  # nothing acked on the socket came over HTTP

    rows = world.database.execute(
        "SELECT d.type, d.status, d.webhook_id, array_agg(a.channel ORDER BY a.at) "
        "FROM handoffs_outbounddelivery d JOIN handoffs_deliveryattempt a ON a.delivery_id = d.id "
        "JOIN handoffs_conversation c ON c.id = d.conversation_id "
        "WHERE c.external_id = 'c-ws' GROUP BY d.id ORDER BY d.id"
    )
    assert [(kind, status, channels) for kind, status, _, channels in rows] == [
        ("handoff.queued", "delivered", ["websocket"]),
        ("handoff.preparing", "delivered", ["websocket", "websocket"]),
        ("handoff.connected", "delivered", ["websocket", "http"]),
        ("message.created", "delivered", ["http"]),
        ("handoff.resolved", "delivered", ["http"]),
    ]
    assert [row[2] for row in rows[:3]] == [queued["id"], preparing["id"], connected["id"]]
