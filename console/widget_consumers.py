"""The customer chat widget's socket: ``/ws/chat/<bot_id>/?token=<conversation token>``.

The token is the customer's only credential (no session, no cookie): a forged, expired or other bot's
token is refused (closed with 4401 before anything is exchanged, so the page can start a new chat). Messages go to the reference bot, which posts them to Warmline through
the signed API and answers; what it says, and what its callbacks bring (queue position, the specialist's
messages, the resolution), reach every open tab of the conversation through one channel-layer group, as
screen events rendered into out-of-band fragments. On (re)connect the socket resyncs from Warmline, so a
reload or a dropped connection loses nothing.

While the customer waits in the queue the socket asks the bot for the handoff every few seconds (``GET
.../handoffs/{id}``) and shows the position and wait as they change; ``handoff.eta`` callbacks, when they
come, update it at once.
"""

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from console import widget_partials as render
from console.widget import Claims, token_read, widget_bot, widget_group
from handoffs import ratelimits
from handoffs.errors import RateLimited
from handoffs.reference_bot import MAX_TEXT, BotError, ReferenceBot, Screen, clean_text

logger = logging.getLogger(__name__)

BAD_TOKEN = 4401
NO_WIDGET = 4404
ENDED = 4000
MAX_FRAME = 16 * 1024
POLL_SECONDS = 4.0


def customer_message_allowed(*, bot_id: str, conversation_id: str) -> bool:
    """Rate limit per widget conversation (``WARMLINE_RATE_LIMITS["widget"]``)."""
    try:
        ratelimits.enforce(group="widget", key=f"{bot_id}:{conversation_id}", rate=ratelimits.rate("widget"))
    except RateLimited:
        return False
    return True


class WidgetSocket(AsyncWebsocketConsumer):
    claims: Claims
    bot: ReferenceBot
    group: str
    poller: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        bot_id = self.scope["url_route"]["kwargs"]["bot_id"]
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        claims = token_read((query.get("token") or [""])[0], bot_id=bot_id)
        bot = await database_sync_to_async(widget_bot)(bot_id) if claims is not None else None
        if claims is None or bot is None:
            # Accepted only to be closed with a reason the page can act on (a refused handshake reads as a
            # network failure, which the ws extension retries forever): nothing is sent or received first.
            await self.accept()
            await self.close(code=BAD_TOKEN if claims is None else NO_WIDGET)
            return
        self.claims, self.bot = claims, ReferenceBot(bot)
        self.group = widget_group(bot_id, claims.conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        resume = await database_sync_to_async(self.bot.resume)(
            conversation_id=claims.conversation_id, locale=claims.locale
        )
        self.state = render.WidgetState(
            language=resume.language,
            mode=resume.mode,
            agent=resume.agent,
            handoff=resume.handoff,
            rate=resume.rate,
        )
        await self.send(text_data=render.resync(resume, self.state))
        self._watch_queue()

    async def disconnect(self, code: int) -> None:
        await self._stop_watching()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # --- from the customer --------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not text_data or len(text_data) > MAX_FRAME:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("kind")
        if kind == "message":
            await self._customer_says(str(message.get("text") or ""))
        elif kind == "csat":
            await self._customer_rates(str(message.get("phase") or ""), message.get("score"))
        elif kind == "leave":
            await self._customer_leaves()

    async def _customer_says(self, text: str) -> None:
        text = clean_text(text[: MAX_TEXT * 2])
        if not text or self.state.mode == "ended":
            return
        allowed = await database_sync_to_async(customer_message_allowed)(
            bot_id=self.claims.bot_id, conversation_id=self.claims.conversation_id
        )
        if not allowed:
            await self.send(
                text_data=render.notice_html(render.TEXT[self.state.language]["too_fast"], self.state)
            )
            return
        await self._to_all(
            {"type": "line", "role": "customer", "text": text, "key": f"c-{uuid.uuid4().hex[:16]}"}
        )
        try:
            screens = await database_sync_to_async(self.bot.hear)(
                conversation_id=self.claims.conversation_id, customer=self.claims.customer, text=text
            )
        except BotError as error:
            logger.warning("widget message refused for %s: %s", self.claims.bot_id, error.detail)
            await self.send(
                text_data=render.notice_html(render.TEXT[self.state.language]["failed"], self.state)
            )
            return
        await self.send(text_data=render.notice_html("", self.state))
        for screen in screens:
            await self._to_all(screen)

    async def _customer_rates(self, phase: str, score: Any) -> None:
        if phase != self.state.rate or not isinstance(score, int | str) or not str(score).isdigit():
            return  # only the rating on offer, once
        recorded = await database_sync_to_async(self.bot.rate)(
            conversation_id=self.claims.conversation_id,
            phase=phase,
            score=int(score),
            handoff_id=self.state.handoff_id,
        )
        if recorded:
            await self._to_all({"type": "rated", "phase": phase})

    async def _customer_leaves(self) -> None:
        with contextlib.suppress(BotError):
            await database_sync_to_async(self.bot.leave)(conversation_id=self.claims.conversation_id)
        await self._stop_watching()
        await self.send(text_data=render.ended_html(self.state))
        await self.close(code=ENDED)

    # --- to the customer ----------------------------------------------------------------------------

    async def _to_all(self, screen: Screen) -> None:
        """To every open tab of this conversation (each renders it in its own state)."""
        await self.channel_layer.group_send(self.group, {"type": "warmline.event", "event": dict(screen)})

    async def warmline_event(self, message: dict[str, Any]) -> None:
        screen: Screen = message["event"]
        await self._show(screen)

    async def _show(self, screen: Screen) -> None:
        self.state.apply(screen)
        html = render.screen_html(screen, self.state)
        if html:
            await self.send(text_data=html)
        if screen.get("type") in ("mode", "wait"):
            self._watch_queue()

    # --- the bounded wait: position and estimate while queued ------------------------------------------

    def _watch_queue(self) -> None:
        waiting = self.state.mode in ("queued", "preparing") and self.state.handoff_id
        if waiting and (self.poller is None or self.poller.done()):
            self.poller = asyncio.create_task(self._poll())

    async def _stop_watching(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.poller
            self.poller = None

    async def _poll(self) -> None:
        while self.state.mode in ("queued", "preparing"):
            await asyncio.sleep(POLL_SECONDS)
            handoff_id = self.state.handoff_id
            if not handoff_id or self.state.mode not in ("queued", "preparing"):
                return
            try:
                current = await database_sync_to_async(self.bot.handoff)(handoff_id)
            except BotError:
                return
            if current["status"] not in ("queued", "preparing"):
                return  # its callback tells the customer what happened (connected, transferred…)
            seen = self.state.handoff or {}
            fresh = {key: current.get(key) for key in ("status", "queue_position", "estimated_wait_seconds")}
            if any(seen.get(key) != value for key, value in fresh.items()):
                if current["status"] != self.state.mode:
                    await self._show(
                        {"type": "mode", "mode": current["status"], "agent": current.get("agent") or ""}
                    )
                await self._show(
                    {"type": "wait", "handoff": {**seen, **fresh, "agent": current.get("agent") or ""}}
                )
