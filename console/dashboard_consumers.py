"""``/ws/supervisor/floor/``: the live floor of a supervisor's teams.

It listens to the team queue groups (``team.<id>.queue``: escalations, claims, transfers, customers
leaving the queue) and the team floor groups (``team.<id>.floor``: connects, resolves, transfers,
returns, claims, and people's presence changes, published by those services after their commit), and
answers any event by re-rendering the floor partial, at most about once a second however many events
arrive. A presence that merely goes stale (a closed laptop, before the beat marks it offline) has no
event, so the floor is also re-rendered every ``REFRESH_SECONDS``; and, like the console's sockets, it
resyncs by sending the whole floor first on every (re)connect.

Watching the floor does not make a supervisor look present: this socket keeps no presence heartbeat.
"""

import asyncio
import contextlib
from typing import Any

from channels.db import database_sync_to_async

from console.consumers import FORBIDDEN, AgentSocket, HandoffSocket
from console.dashboard import floor_frame
from handoffs.broadcast import team_floor_group, team_queue_group


class FloorSocket(AgentSocket):
    RENDER_INTERVAL = 1.0  # seconds between two renders, at least
    REFRESH_SECONDS = 15.0  # a render even without events (presence going stale, the clock)

    last_render = 0.0
    pending: asyncio.Task[None] | None = None
    ticker: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        if not await self.authorize():
            return
        if not self.profile.is_supervisor:
            await self.close(code=FORBIDDEN)
            return
        await self.join(
            *(team_queue_group(team_id) for team_id in self.team_ids),
            *(team_floor_group(team_id) for team_id in self.team_ids),
        )
        await self.accept()
        await self.render()  # resync
        self.ticker = asyncio.create_task(self._refresh())

    async def render(self) -> None:
        self.last_render = asyncio.get_running_loop().time()
        await self.send(text_data=await database_sync_to_async(floor_frame)(self.profile))

    def schedule(self) -> None:
        """Render soon: now if the last render is a second old, else when it will be; events that
        arrive meanwhile ride on the render already scheduled."""
        if self.pending is not None and not self.pending.done():
            return
        wait = self.last_render + self.RENDER_INTERVAL - asyncio.get_running_loop().time()
        self.pending = asyncio.create_task(self._render_after(max(0.0, wait)))

    async def _render_after(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self.render()

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.REFRESH_SECONDS)
            if asyncio.get_running_loop().time() - self.last_render >= self.REFRESH_SECONDS / 2:
                self.schedule()

    async def warmline_event(self, message: dict[str, Any]) -> None:
        self.schedule()

    async def disconnect(self, code: int) -> None:
        for task in (self.ticker, self.pending):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await super().disconnect(code)


class ObserveSocket(HandoffSocket):
    """``/ws/supervisor/handoffs/<id>/observe/``: the observe page's live chat, for supervisors of the
    handoff's teams. Watching is not working: unlike the agent's handoff socket it keeps no presence
    heartbeat, so an observing supervisor is neither brought back as available (and offered handoffs,
    and counted in wait estimates) nor touched at all: a supervisor who also works the queue keeps the
    presence their own console sockets and presence button give them."""

    keeps_presence = False

    async def allowed(self) -> bool:
        return bool(self.profile.is_supervisor)
