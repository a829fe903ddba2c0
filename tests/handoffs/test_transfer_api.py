"""The agent API's extension for the warm transfer's overlap window and supervisors' live actions:
``transfer`` with ``overlap``, ``…/notes``, ``…/take-over``, ``…/cancel-transfer`` and ``…/reassign``."""

import pytest

from handoffs.models import Handoff, PrivateNote
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def morgan(support_team):
    return AgentFactory(user__username="morgan", teams=[support_team], is_supervisor=True)


@pytest.fixture
def chatting(escalate, api_as, agent, teammate):
    handoff_id = escalate("c-api")
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    client.post(f"/handoffs/{handoff_id}/connect")
    return handoff_id


def test_a_transfer_with_overlap_runs_notes_and_take_over_over_the_api(chatting, api_as, agent, teammate):
    ada, grace = api_as(agent), api_as(teammate)
    # ada starts the transfer; she still has the customer
    response = ada.post(f"/handoffs/{chatting}/transfer", {"agent": "grace", "note": "VIP", "overlap": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "connected" and body["next_handoff"]["overlap_until"]
    new_id = body["next_handoff"]["id"]
    # grace reads in and cannot write to the customer yet
    refused = grace.post(f"/handoffs/{new_id}/messages", {"text": "hello"})
    assert refused.status_code == 409 and refused.json()["code"] == "take_over_first"
    # they exchange notes, each visible to both
    assert grace.post(f"/handoffs/{new_id}/notes", {"text": "Refund done?"}).status_code == 201
    answer = ada.post(f"/handoffs/{chatting}/notes", {"text": "Yes, on Monday."})
    assert answer.status_code == 201 and answer.json()["kind"] == "transfer"
    for client, handoff_id in ((ada, chatting), (grace, new_id)):
        notes = client.get(f"/handoffs/{handoff_id}/notes").json()["notes"]
        assert [note["text"] for note in notes] == ["Refund done?", "Yes, on Monday."]
    # grace takes over
    taken = grace.post(f"/handoffs/{new_id}/take-over")
    assert taken.status_code == 200 and taken.json()["status"] == "connected"
    assert taken.json()["overlap_until"] is None
    assert Handoff.objects.get(pk=chatting).status == "transferred"
    assert grace.post(f"/handoffs/{new_id}/messages", {"text": "Hi, Grace here."}).status_code == 201


def test_the_one_step_transfer_is_unchanged(chatting, api_as, agent, teammate):
    response = api_as(agent).post(f"/handoffs/{chatting}/transfer", {"agent": "grace", "note": "Over to you"})
    assert response.json()["status"] == "transferred"
    assert response.json()["next_handoff"]["status"] == "queued"
    assert response.json()["next_handoff"]["overlap_until"] is None


def test_the_sender_cancels_over_the_api(chatting, api_as, agent, teammate):
    body = api_as(agent).post(
        f"/handoffs/{chatting}/transfer", {"team": "Support", "note": "n", "overlap": True}
    )
    new_id = body.json()["next_handoff"]["id"]
    response = api_as(agent).post(f"/handoffs/{chatting}/cancel-transfer")
    assert response.status_code == 200 and response.json()["status"] == "connected"
    assert not Handoff.objects.filter(pk=new_id).exists()
    again = api_as(agent).post(f"/handoffs/{chatting}/cancel-transfer")
    assert again.status_code == 409 and again.json()["code"] == "no_transfer_pending"


def test_notes_are_problem_json_when_empty_and_403_for_a_bystander(chatting, api_as, agent, support_team):
    api_as(agent).post(f"/handoffs/{chatting}/transfer", {"agent": "grace", "note": "n", "overlap": True})
    empty = api_as(agent).post(f"/handoffs/{chatting}/notes", {"text": "   "})
    assert empty.status_code == 422 and empty["Content-Type"].startswith("application/problem+json")
    bystander = api_as(AgentFactory(user__username="bea", teams=[support_team]))
    assert bystander.get(f"/handoffs/{chatting}/notes").status_code == 403
    assert bystander.post(f"/handoffs/{chatting}/notes", {"text": "hi"}).status_code == 403
    assert not PrivateNote.objects.exists()


def test_supervisor_actions_over_the_api_and_agents_refused(chatting, api_as, teammate, morgan):
    grace, boss = api_as(teammate), api_as(morgan)
    assert grace.post(f"/handoffs/{chatting}/reassign", {"agent": "grace", "note": "mine"}).status_code == 403
    assert grace.post(f"/handoffs/{chatting}/take-over").status_code == 403
    whisper = boss.post(f"/handoffs/{chatting}/notes", {"text": "Slow down a little."})
    assert whisper.status_code == 201 and whisper.json()["kind"] == "whisper"
    moved = boss.post(f"/handoffs/{chatting}/reassign", {"team": "Support", "note": "Back to the queue"})
    assert moved.status_code == 200 and moved.json()["next_handoff"]["overlap_until"]
    assert boss.post(f"/handoffs/{chatting}/cancel-transfer").status_code == 200
    taken = boss.post(f"/handoffs/{chatting}/take-over")
    assert taken.status_code == 200 and taken.json()["agent"] == "morgan"
