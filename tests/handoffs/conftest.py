import pytest

from tests.handoffs.report_scenario import build_scenario, make_supervisor


@pytest.fixture
def supervisor(support_team):
    return make_supervisor(support_team)


@pytest.fixture
def scenario(bot, support_team, agent):
    """The hand-computed report scenario (tests/handoffs/report_scenario.py); returns its t0."""
    return build_scenario(bot, support_team, agent)


@pytest.fixture
def live_handoff(escalate, api_as, agent):
    """Lives a handoff of conversation c-1 from queue to resolution through the agent API: five callbacks,
    handoff.queued, .preparing, .connected, message.created and handoff.resolved. Returns its id."""

    def make() -> str:
        handoff_id = escalate()
        client = api_as(agent)
        client.post(f"/handoffs/{handoff_id}/claim")
        client.post(f"/handoffs/{handoff_id}/connect")
        client.post(f"/handoffs/{handoff_id}/messages", {"text": "Hi Dana, I have your order here."})
        client.post(f"/handoffs/{handoff_id}/resolve", {"resolution": "Reshipped."})
        return handoff_id

    return make
