"""The supervisor's live floor follows presence changes and a handoff's life (not only the queue), for
the supervisors of the teams concerned only; and observing a chat does not touch the observer's own
presence. Real sockets (Channels over the Redis layer), real services."""

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from console.asgi import application
from console.dashboard_consumers import FloorSocket
from handoffs.models import AgentProfile
from handoffs.services.agents import agent_presence_set
from handoffs.services.handoffs import handoff_claim, handoff_connect, handoff_resolve
from tests.factories import AgentFactory, TeamFactory
from tests.handoffs.report_scenario import make_supervisor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def supervisor(support_team):
    return make_supervisor(support_team)


@pytest.fixture
def elsewhere_supervisor(db):
    return AgentFactory(user__username="otto", teams=[TeamFactory(name="Elsewhere")], is_supervisor=True)


@pytest.fixture(autouse=True)
def _no_timed_refresh(monkeypatch):
    """Only events may re-render the floor in these tests, not its clock."""
    monkeypatch.setattr(FloorSocket, "REFRESH_SECONDS", 3600.0)


async def open_socket(path: str, headers) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    assert connected, code
    return communicator


def counts(frame: str) -> dict[str, str]:
    """The floor's head counts (data-available, data-busy, ...) of a floor frame."""
    head = frame.split(">", 1)[0]
    return dict(re.findall(r'data-([a-z]+)="(\d+)"', head))


async def next_floor(socket: WebsocketCommunicator, *, timeout: float = 5.0) -> dict[str, str]:
    frame = await socket.receive_from(timeout=timeout)
    assert 'id="floor"' in frame
    return counts(frame)


async def drain(socket: WebsocketCommunicator) -> None:
    """Frames already on their way (the render after the last event) are read and dropped."""
    while not await socket.receive_nothing(timeout=1.5):
        await socket.receive_from(timeout=1)


async def test_presence_and_a_resolve_reach_the_teams_floor_and_no_other(
    escalate, agent, supervisor, elsewhere_supervisor, session_headers
):
    mine = await open_socket("/ws/supervisor/floor/", await sync_to_async(session_headers)(supervisor))
    theirs = await open_socket(
        "/ws/supervisor/floor/", await sync_to_async(session_headers)(elsewhere_supervisor)
    )
    assert (await next_floor(mine))["available"] == "0"  # the resync
    await next_floor(theirs)
    # when: ada says she is available (no queue event: only the floor group hears it)
    await sync_to_async(agent_presence_set)(agent=agent, presence="available")
    # then: her team's supervisor sees it; the other team's supervisor hears nothing
    assert (await next_floor(mine))["available"] == "1"
    assert await theirs.receive_nothing(timeout=1.5)

    # a handoff she claims and connects makes her busy
    handoff_id = await sync_to_async(escalate)()
    await sync_to_async(handoff_claim)(handoff_id=handoff_id, agent=agent)
    await sync_to_async(handoff_connect)(handoff_id=handoff_id, agent=agent)
    await drain(mine)
    # when: she resolves it (nothing goes to the queue groups for a resolve)
    await sync_to_async(handoff_resolve)(handoff_id=handoff_id, agent=agent, resolution="Refunded")
    # then: the floor shows her available again, promptly; still nothing elsewhere
    after = await next_floor(mine, timeout=3)
    assert after["busy"] == "0" and after["available"] == "1"
    assert await theirs.receive_nothing(timeout=1.5)
    await mine.disconnect()
    await theirs.disconnect()


async def test_observing_does_not_make_a_supervisor_available(escalate, agent, supervisor, session_headers):
    handoff_id = await sync_to_async(escalate)()
    await sync_to_async(handoff_claim)(handoff_id=handoff_id, agent=agent)
    headers = await sync_to_async(session_headers)(supervisor)
    watching = await open_socket(f"/ws/supervisor/handoffs/{handoff_id}/observe/", headers)
    resync = await watching.receive_from(timeout=5)
    assert 'id="chat-log"' in resync or 'id="state"' in resync
    await asyncio.sleep(0.5)
    profile = await sync_to_async(AgentProfile.objects.get)(pk=supervisor.pk)
    assert profile.presence == AgentProfile.Presence.OFFLINE and profile.last_seen_at is None
    await watching.disconnect()
    # whereas the agent's own handoff socket does keep its person present (what the observer must not use)
    working = await open_socket(
        f"/ws/console/handoffs/{handoff_id}/", await sync_to_async(session_headers)(agent)
    )
    await working.receive_from(timeout=5)
    await asyncio.sleep(0.5)
    ada = await sync_to_async(AgentProfile.objects.get)(pk=agent.pk)
    assert ada.presence == AgentProfile.Presence.AVAILABLE and ada.last_seen_at is not None
    await working.disconnect()


async def test_a_supervisor_working_the_queue_stays_available_while_and_after_observing(
    escalate, agent, supervisor, session_headers
):
    handoff_id = await sync_to_async(escalate)()
    await sync_to_async(handoff_claim)(handoff_id=handoff_id, agent=agent)
    headers = await sync_to_async(session_headers)(supervisor)
    queue = await open_socket("/ws/console/queue/", headers)  # morgan also works the queue
    await queue.receive_from(timeout=5)
    await sync_to_async(agent_presence_set)(agent=supervisor, presence="available")
    watching = await open_socket(f"/ws/supervisor/handoffs/{handoff_id}/observe/", headers)
    await watching.receive_from(timeout=5)
    await watching.disconnect()
    await asyncio.sleep(0.3)
    profile = await sync_to_async(AgentProfile.objects.get)(pk=supervisor.pk)
    assert profile.presence == AgentProfile.Presence.AVAILABLE
    await queue.disconnect()


async def test_only_supervisors_of_the_team_may_observe(escalate, agent, teammate, session_headers):
    handoff_id = await sync_to_async(escalate)()
    for person in (teammate, await sync_to_async(make_supervisor)(await sync_to_async(TeamFactory)())):
        communicator = WebsocketCommunicator(
            application,
            f"/ws/supervisor/handoffs/{handoff_id}/observe/",
            headers=await sync_to_async(session_headers)(person),
        )
        connected, _ = await communicator.connect(timeout=5)
        assert not connected, person
