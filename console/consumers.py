"""The agent console's sockets. They check who may listen, then forward: every frame they send is a
template partial (the same ones the views render) that the htmx ws extension swaps in by id.

Each socket resyncs on connect by sending the authoritative partial first, so a browser that lost its
socket (network, server restart, Redis outage) never keeps a stale queue or misses a message.
"""

import asyncio
import contextlib
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from console import partials as render
from handoffs import selectors
from handoffs.broadcast import conversation_group, private_group, team_queue_group
from handoffs.errors import NotFound
from handoffs.models import AgentProfile
from handoffs.services.agents import agent_seen

# Close codes (4000–4999 are the application's): not signed in, not an agent / not allowed.
NOT_AUTHENTICATED = 4401
FORBIDDEN = 4403


@database_sync_to_async
def _profile(user: Any) -> tuple[AgentProfile, list[int]] | None:
    profile = AgentProfile.objects.select_related("user").filter(user=user).first()
    if profile is None:
        return None
    return profile, list(profile.teams.values_list("id", flat=True))


class AgentSocket(AsyncWebsocketConsumer):
    """Shared by the console's sockets: a signed-in agent, presence kept fresh while it is open."""

    profile: AgentProfile
    joined: list[str]
    heartbeat: asyncio.Task[None] | None = None

    async def authorize(self) -> bool:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=NOT_AUTHENTICATED)
            return False
        found = await _profile(user)
        if found is None:
            await self.close(code=FORBIDDEN)
            return False
        self.profile, self.team_ids = found
        self.username = self.profile.user.get_username()
        return True

    async def join(self, *groups: str) -> None:
        self.joined = list(groups)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def start_heartbeat(self) -> None:
        self.heartbeat = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        interval = settings.WARMLINE["PRESENCE_STALE_SECONDS"] / 3
        while True:
            await database_sync_to_async(agent_seen)(agent_id=self.profile.pk)
            await asyncio.sleep(interval)

    async def disconnect(self, code: int) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.heartbeat
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The console sends nothing over its sockets; writes go through CSRF-protected posts."""


class QueueSocket(AgentSocket):
    """``/ws/console/queue/``: the live queue of the agent's teams."""

    async def connect(self) -> None:
        if not await self.authorize():
            return
        await self.join(*(team_queue_group(team_id) for team_id in self.team_ids))
        await self.accept()
        await self.start_heartbeat()
        await self.send(text_data=await database_sync_to_async(render.queue_resync)(self.profile))

    async def warmline_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        html = render.queue_event(event, username=self.username, languages=self.profile.languages)
        if html:
            await self.send(text_data=html)


class HandoffSocket(AgentSocket):
    """``/ws/console/handoffs/<id>/``: one handoff's chat and state, for people of its teams. Having it
    open keeps the person present (they are at work); an observer's socket does not (``ObserveSocket``)."""

    keeps_presence = True

    async def allowed(self) -> bool:
        """Who, of the people of the handoff's teams, may open this socket: all of them."""
        return True

    async def connect(self) -> None:
        if not await self.authorize():
            return
        if not await self.allowed():
            await self.close(code=FORBIDDEN)
            return
        handoff_id = self.scope["url_route"]["kwargs"]["handoff_id"]
        try:
            self.handoff = await database_sync_to_async(selectors.handoff_for_agent)(
                agent=self.profile, handoff_id=handoff_id
            )
        except NotFound:
            await self.close(code=FORBIDDEN)
            return
        await self.join(
            conversation_group(self.handoff.conversation_id), private_group(self.handoff.conversation_id)
        )
        await self.accept()
        if self.keeps_presence:
            await self.start_heartbeat()
        await self.send(
            text_data=await database_sync_to_async(render.handoff_resync)(self.handoff.pk, self.profile)
        )

    async def warmline_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event["type"] == "turn.created":
            await self.send(
                text_data=render.chat_line_event(event, customer=self.handoff.conversation.customer)
            )
        elif event["type"] == "assist.created" and event["handoff_id"] == str(self.handoff.pk):
            html = await database_sync_to_async(render.assist_event)(
                self.handoff.pk, self.profile, event["item_id"]
            )
            if html:
                await self.send(text_data=html)
        elif event["type"] in ("handoff.updated", "transfer.cancelled"):
            html = await database_sync_to_async(render.handoff_state_event)(self.handoff.pk, self.profile)
            await self.send(text_data=html)
        elif event["type"] == "note.created":
            # a private note: shown only to those who may read it on this page (see render.note_event)
            html = await database_sync_to_async(render.note_event)(
                self.handoff.pk, self.profile, event["note_id"]
            )
            if html:
                await self.send(text_data=html)
