"""The bot websocket (spec §Bot websocket): the same events, results and idempotency as HTTP.

The upgrade request is signed like a GET (over an empty body). Each client frame is
``{"id": "<unique>", "event": {...}}``; ``id`` is the idempotency key, in the same namespace as HTTP
webhook-ids. Each frame is answered ``{"ack": id, "status": …, "body": …}`` with what HTTP would say.

Callbacks (spec §Callbacks) go to a connected bot here instead of its callback_url, as
``{"id": "<webhook-id>", "event": {...}}``. The spec defines no ack, so by default each counts as delivered
once handed to this socket. A bot that connects with ``?acks=1`` (our extension) acks each with the client
frame ``{"ack": "<webhook-id>"}`` (no ``event``, so it is never taken for an event, and it is not answered),
and one it does not ack is sent again.
The consumer keeps its socket counted live in ``BotSocket`` with a heartbeat (handoffs.services.callbacks).
"""

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from handoffs import ratelimits
from handoffs.errors import DomainError, InvalidInput, MalformedJson, PayloadTooLarge, problem_from
from handoffs.models import Bot
from handoffs.services.bots import bot_authenticate
from handoffs.services.callbacks import (
    SOCKET_HEARTBEAT_SECONDS,
    bot_socket_beat,
    bot_socket_closed,
    bot_socket_open,
    callbacks_ack,
)
from handoffs.services.ingest import events_ingest

MAX_FRAME_BYTES = 256 * 1024


def bot_group(bot_id: str) -> str:
    return f"bot.{bot_id}"


class BotConsumer(AsyncWebsocketConsumer):
    bot: Bot
    heartbeat: "asyncio.Task[None] | None" = None

    async def connect(self) -> None:
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in self.scope["headers"]}
        bot_id = self.scope["url_route"]["kwargs"]["bot_id"]
        try:
            self.bot, _ = await database_sync_to_async(bot_authenticate)(
                bot_id=bot_id, body=b"", headers=headers
            )
        except DomainError:
            await self.close(code=4401)  # before accept: the handshake is refused with 403
            return
        await self.channel_layer.group_add(bot_group(self.bot.bot_id), self.channel_name)
        await self.accept()
        # Live only once accepted: callbacks sent to this channel are then written to the socket.
        await database_sync_to_async(bot_socket_open)(
            bot=self.bot, channel_name=self.channel_name, acks=wants_acks(self.scope)
        )
        self.heartbeat = asyncio.create_task(self._beat())

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "bot"):
            return
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.heartbeat
        await self.channel_layer.group_discard(bot_group(self.bot.bot_id), self.channel_name)
        await database_sync_to_async(bot_socket_closed)(channel_name=self.channel_name)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(SOCKET_HEARTBEAT_SECONDS)
            with contextlib.suppress(Exception):  # a database blip skips a beat; three in a row end liveness
                await database_sync_to_async(bot_socket_beat)(channel_name=self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data.encode() if text_data is not None else (bytes_data or b"")
        frame_id: Any = None
        try:
            frame = _parse_frame(raw)
            if isinstance(frame, CallbackAck):
                await database_sync_to_async(callbacks_ack)(bot=self.bot, webhook_id=frame.webhook_id)
                return
            frame_id, event_body = frame
        except DomainError as error:
            await self._send_json({"ack": frame_id, "status": error.status, "body": problem_from(error)})
            return
        try:
            await database_sync_to_async(ratelimits.enforce)(
                group="bot", key=self.bot.bot_id, rate=ratelimits.rate("bot")
            )
        except DomainError as error:
            await self._send_json({"ack": frame_id, "status": error.status, "body": problem_from(error)})
            return
        result = await database_sync_to_async(events_ingest)(
            bot=self.bot, webhook_id=frame_id, body=event_body
        )
        ack: dict[str, Any] = {"ack": frame_id, "status": result.status, "body": result.body}
        if result.replayed:
            ack["replayed"] = True
        await self._send_json(ack)

    async def warmline_event(self, message: dict[str, Any]) -> None:
        await self._send_json({"event": message["event"]})

    async def warmline_callback(self, message: dict[str, Any]) -> None:
        """A callback for this bot, sent to this socket by the delivery task; ``id`` lets the bot drop
        repeats, and a bot that opted in to acks acks it by ``id``."""
        await self._send_json({"id": message["id"], "event": message["event"]})

    async def _send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload))


def wants_acks(scope: dict[str, Any]) -> bool:
    """The bot opted in to ack callbacks with ``?acks=1`` on the upgrade (the query is not signed, but only
    the bot that signed the upgrade is affected by it)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query.get("acks", [""])[-1] in {"1", "true"}


class CallbackAck:
    """A client frame ``{"ack": "<webhook-id>"}``: the bot received a callback."""

    def __init__(self, webhook_id: str) -> None:
        self.webhook_id = webhook_id


def _parse_frame(raw: bytes) -> tuple[str, bytes] | CallbackAck:
    if len(raw) > MAX_FRAME_BYTES:
        raise PayloadTooLarge("The frame is over 256 KiB.")
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson(f"The frame is not valid JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise InvalidInput(
            "A frame is an object {id, event} (or {ack}).",
            errors=[{"loc": ["frame"], "msg": "not an object"}],
        )
    if "ack" in frame and "event" not in frame:
        webhook_id = frame["ack"]
        if not isinstance(webhook_id, str) or not 1 <= len(webhook_id) <= 200:
            raise InvalidInput(
                "An ack frame is {ack: <the callback's id>}.",
                errors=[{"loc": ["frame", "ack"], "msg": "required string"}],
            )
        return CallbackAck(webhook_id)
    frame_id = frame.get("id")
    if not isinstance(frame_id, str) or not 1 <= len(frame_id) <= 200:
        raise InvalidInput(
            "A frame needs a string id (1–200 characters).",
            errors=[{"loc": ["frame", "id"], "msg": "required string"}],
        )
    if "event" not in frame:
        raise InvalidInput("A frame needs an event.", errors=[{"loc": ["frame", "event"], "msg": "required"}])
    # Canonical bytes: a retried frame with the same event hashes the same whatever its key order.
    return frame_id, json.dumps(frame["event"], sort_keys=True, separators=(",", ":")).encode()
