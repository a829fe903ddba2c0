"""The bot websocket (spec §Bot websocket): the same events, results and idempotency as HTTP.

The upgrade request is signed like a GET (over an empty body). Each client frame is
``{"id": "<unique>", "event": {...}}``; ``id`` is the idempotency key, in the same namespace as HTTP
webhook-ids. Each frame is answered ``{"ack": id, "status": …, "body": …}`` with what HTTP would say.
Callback events for the bot arrive on its group and go out as ``{"event": {...}}``.
"""

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from handoffs import ratelimits
from handoffs.errors import DomainError, InvalidInput, MalformedJson, PayloadTooLarge, problem_from
from handoffs.models import Bot
from handoffs.services.bots import bot_authenticate
from handoffs.services.ingest import events_ingest

MAX_FRAME_BYTES = 256 * 1024


def bot_group(bot_id: str) -> str:
    return f"bot.{bot_id}"


class BotConsumer(AsyncWebsocketConsumer):
    bot: Bot

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

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "bot"):
            await self.channel_layer.group_discard(bot_group(self.bot.bot_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data.encode() if text_data is not None else (bytes_data or b"")
        frame_id: Any = None
        try:
            frame_id, event_body = _parse_frame(raw)
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

    async def _send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload))


def _parse_frame(raw: bytes) -> tuple[str, bytes]:
    if len(raw) > MAX_FRAME_BYTES:
        raise PayloadTooLarge("The frame is over 256 KiB.")
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson(f"The frame is not valid JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise InvalidInput(
            "A frame is an object {id, event}.", errors=[{"loc": ["frame"], "msg": "not an object"}]
        )
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
