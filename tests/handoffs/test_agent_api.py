"""The agent API of spec §Agents: queue, claim, preparation, chat, resolve, transfer, return."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from handoffs.models import Handoff, Turn
from handoffs.services.handoffs import handoff_connect_due, handoffs_connect_overdue
from tests.botclient import turn
from tests.factories import AgentFactory, TeamFactory

pytestmark = pytest.mark.django_db


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def test_the_queue_lists_the_teams_handoffs_with_priority_and_waiting_time(escalate, api_as, agent, outsider):
    # given
    handoff_id = escalate(urgency="high")
    # when
    mine = api_as(agent).get("/queue").json()["handoffs"]
    theirs = api_as(outsider).get("/queue").json()["handoffs"]
    # then
    assert [item["id"] for item in mine] == [handoff_id]
    assert mine[0]["waiting_seconds"] >= 0
    assert mine[0]["priority"] > 0 and "urgency high" in mine[0]["priority_reasons"]
    assert mine[0]["customer_name"] == "Dana Reyes"
    assert theirs == []


def test_the_queue_is_ordered_by_priority(escalate, api_as, agent):
    calm = escalate("c-calm", urgency="low")
    urgent = escalate("c-urgent", urgency="critical")
    ids = [item["id"] for item in api_as(agent).get("/queue").json()["handoffs"]]
    assert ids == [urgent, calm]


def test_claiming_starts_the_preparation_window(escalate, api_as, agent):
    handoff_id = escalate()
    before = timezone.now()
    response = api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "preparing" and body["agent"] == "ada"
    window = parse(body["prepare_until"]) - before
    assert timedelta(seconds=44) <= window <= timedelta(seconds=46)
    assert api_as(agent).get("/queue").json()["handoffs"] == []


def test_the_second_claim_gets_a_clear_409(escalate, api_as, agent, teammate):
    handoff_id = escalate()
    api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    response = api_as(teammate).post(f"/handoffs/{handoff_id}/claim")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "already_claimed"
    assert "taken" in response.json()["detail"]


def test_claiming_twice_is_harmless_for_the_holder(escalate, api_as, agent):
    handoff_id = escalate()
    first = api_as(agent).post(f"/handoffs/{handoff_id}/claim").json()
    again = api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    assert again.status_code == 200 and again.json()["prepare_until"] == first["prepare_until"]


def test_capacity_limits_concurrent_handoffs(escalate, api_as, agent):
    agent.capacity = 1
    agent.save()
    first, second = escalate("c-a"), escalate("c-b")
    assert api_as(agent).post(f"/handoffs/{first}/claim").status_code == 200
    response = api_as(agent).post(f"/handoffs/{second}/claim")
    assert response.status_code == 409 and response.json()["code"] == "at_capacity"


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("get", "", None),
        ("post", "/claim", None),
        ("post", "/connect", None),
        ("post", "/draft-check", {"text": "hello"}),
        ("post", "/messages", {"text": "hello"}),
        ("post", "/resolve", {"resolution": "done"}),
        ("post", "/transfer", {"team": "Other team", "note": "over to you"}),
        ("post", "/return-to-bot", {"note": "back"}),
    ],
)
def test_an_outsider_finds_nothing(escalate, api_as, outsider, method, path, payload):
    handoff_id = escalate()
    client = api_as(outsider)
    response = (
        client.get(f"/handoffs/{handoff_id}")
        if method == "get"
        else client.post(f"/handoffs/{handoff_id}{path}", payload)
    )
    assert response.status_code == 404
    assert "Dana" not in response.content.decode() and "KX-48213" not in response.content.decode()
    assert Handoff.objects.get(pk=handoff_id).status == "queued"


def test_a_missing_token_is_401(escalate, client):
    handoff_id = escalate()
    response = client.get(f"/api/v1/agent/handoffs/{handoff_id}")
    assert response.status_code == 401 and response.json()["status"] == 401


def test_the_handoff_carries_the_live_package_and_assist(escalate, api_as, agent):
    handoff_id = escalate()
    body = api_as(agent).get(f"/handoffs/{handoff_id}").json()
    assert body["context"]["information_provided"][0]["value"].endswith("48213")
    assert body["context"]["transcript"][0]["role"] == "customer"
    assert isinstance(body["assist"], list)
    assert [step["event"] for step in body["timeline"]] == ["queued"]


def test_connect_now_ends_the_window_and_hands_the_conversation_to_a_person(
    escalate, api_as, agent, bot_client
):
    handoff_id = escalate()
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    response = client.post(f"/handoffs/{handoff_id}/connect")
    assert response.status_code == 200 and response.json()["status"] == "connected"
    # bots must not talk over people; the customer still gets through
    assert bot_client.post(turn("Let me help!", role="bot")).status_code == 409
    assert bot_client.post(turn("Hello? Is someone there?")).status_code == 200
    transcript = client.get(f"/handoffs/{handoff_id}").json()["context"]["transcript"]
    assert transcript[-1]["text"] == "Hello? Is someone there?"
    assert any(item["role"] == "system" and "joined" in item["text"] for item in transcript)


def test_the_window_ends_by_itself_at_prepare_until(escalate, api_as, agent):
    handoff_id = escalate()
    api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    # not yet due: nothing happens
    assert handoff_connect_due(handoff_id=handoff_id) is False
    Handoff.objects.filter(pk=handoff_id).update(prepare_until=timezone.now() - timedelta(seconds=1))
    # the sweep (beat) and the timer both connect it, once
    assert handoffs_connect_overdue() == 1
    assert handoff_connect_due(handoff_id=handoff_id) is False
    assert Handoff.objects.get(pk=handoff_id).status == "connected"
    assert Turn.objects.filter(role="system", text__contains="joined").count() == 1


def test_messages_reach_the_transcript_and_retries_do_not_duplicate(escalate, api_as, agent):
    handoff_id = escalate()
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    first = client.post(
        f"/handoffs/{handoff_id}/messages", {"text": "Hi Dana, I see #KX-48213."}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = client.post(
        f"/handoffs/{handoff_id}/messages", {"text": "Hi Dana, I see #KX-48213."}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["seq"] == again.json()["seq"]
    assert Turn.objects.filter(role="agent").count() == 1
    # sending during preparation connected the handoff: the agent chose to start
    assert Handoff.objects.get(pk=handoff_id).status == "connected"


@pytest.mark.parametrize(
    "payload", [{"text": ""}, {"text": "   "}, {"text": "a\x00b"}, {}, {"text": "x" * 5001}]
)
def test_a_bad_message_is_a_422_and_changes_nothing(escalate, api_as, agent, payload):
    handoff_id = escalate()
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    response = client.post(f"/handoffs/{handoff_id}/messages", payload)
    assert response.status_code == 422 and response.json()["errors"]
    assert not Turn.objects.filter(role="agent").exists()


def test_only_the_holder_may_message(escalate, api_as, agent, teammate):
    handoff_id = escalate()
    api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    response = api_as(teammate).post(f"/handoffs/{handoff_id}/messages", {"text": "hi"})
    assert response.status_code == 409 and response.json()["code"] == "not_your_handoff"


def test_resolve_closes_the_handoff_and_keeps_the_frame(escalate, api_as, agent, bot_client):
    handoff_id = escalate()
    frame_before = Handoff.objects.get(pk=handoff_id).frame
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    client.post(f"/handoffs/{handoff_id}/connect")
    client.post(f"/handoffs/{handoff_id}/messages", {"text": "Refund issued."})
    response = client.post(f"/handoffs/{handoff_id}/resolve", {"resolution": "Refunded the missing order."})
    assert response.status_code == 200 and response.json()["status"] == "resolved"
    body = client.get(f"/handoffs/{handoff_id}").json()
    assert [step["event"] for step in body["timeline"]] == ["queued", "claimed", "connected", "resolved"]
    assert Handoff.objects.get(pk=handoff_id).frame == frame_before
    # after a resolve the bot may talk again
    assert bot_client.post(turn("Anything else?", role="bot")).status_code == 200
    # and a closed handoff cannot be changed
    late = client.post(f"/handoffs/{handoff_id}/messages", {"text": "one more"})
    assert late.status_code == 409 and late.json()["code"] == "handoff_closed"


def test_a_warm_transfer_to_another_team_carries_the_note(escalate, api_as, agent, support_team):
    billing = TeamFactory(name="Billing")
    biller = AgentFactory(user__username="bill", teams=[billing])
    handoff_id = escalate()
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    response = client.post(
        f"/handoffs/{handoff_id}/transfer",
        {"team": "Billing", "note": "Needs a refund exception; she is upset."},
    )
    assert response.status_code == 200, response.content
    new_id = response.json()["next_handoff"]["id"]
    assert response.json()["next_handoff"]["status"] == "queued"
    assert Handoff.objects.get(pk=handoff_id).status == "transferred"
    # the receiver sees it, with the note and the predecessor in its frame
    queue = api_as(biller).get("/queue").json()["handoffs"]
    assert [item["id"] for item in queue] == [new_id]
    received = api_as(biller).get(f"/handoffs/{new_id}").json()
    assert received["note"] == "Needs a refund exception; she is upset."
    assert received["previous_handoff_id"] == handoff_id
    new = Handoff.objects.get(pk=new_id)
    assert new.frame["transfer"]["from_agent"] == agent.name and new.frame["transcript"]
    assert "transferred by" in " ".join(new.priority_reasons)
    # the first team no longer sees it
    assert api_as(agent).get("/queue").json()["handoffs"] == []


def test_a_transfer_to_a_named_agent_is_theirs_alone(escalate, api_as, agent, teammate):
    third = AgentFactory(user__username="linus", teams=list(agent.teams.all()))
    handoff_id = escalate()
    api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    new_id = (
        api_as(agent)
        .post(f"/handoffs/{handoff_id}/transfer", {"agent": "grace", "note": "You know this customer."})
        .json()["next_handoff"]["id"]
    )
    assert [item["id"] for item in api_as(teammate).get("/queue").json()["handoffs"]] == [new_id]
    assert api_as(third).get("/queue").json()["handoffs"] == []
    assert api_as(third).post(f"/handoffs/{new_id}/claim").json()["code"] == "reserved"
    assert api_as(teammate).post(f"/handoffs/{new_id}/claim").status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"note": "x"}, "team"),
        ({"team": "Support", "agent": "grace", "note": "x"}, "team"),
        ({"team": "Nowhere", "note": "x"}, "team"),
        ({"agent": "nobody", "note": "x"}, "agent"),
        ({"agent": "ada", "note": "x"}, "agent"),
        ({"team": "Support", "note": "  "}, "note"),
    ],
)
def test_a_bad_transfer_is_a_422_and_changes_nothing(escalate, api_as, agent, teammate, payload, field):
    handoff_id = escalate()
    api_as(agent).post(f"/handoffs/{handoff_id}/claim")
    response = api_as(agent).post(f"/handoffs/{handoff_id}/transfer", payload)
    assert response.status_code == 422
    assert field in str(response.json()["errors"])
    assert Handoff.objects.get(pk=handoff_id).status == "preparing"
    assert Handoff.objects.count() == 1


def test_return_to_bot_hands_the_conversation_back(escalate, api_as, agent, bot_client):
    handoff_id = escalate()
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    client.post(f"/handoffs/{handoff_id}/connect")
    response = client.post(f"/handoffs/{handoff_id}/return-to-bot", {"note": "Only tracking left."})
    assert response.status_code == 200 and response.json()["status"] == "returned_to_bot"
    assert Handoff.objects.get(pk=handoff_id).note == "Only tracking left."
    assert bot_client.post(turn("Here is your tracking link.", role="bot")).status_code == 200


def test_presence_is_available_or_away(api_as, agent):
    client = api_as(agent)
    assert client.put("/presence", {"presence": "away"}).json() == {"presence": "away"}
    agent.refresh_from_db()
    assert agent.presence == "away"
    assert client.put("/presence", {"presence": "offline"}).status_code == 422


def test_draft_check_answers_with_a_warning_list(escalate, api_as, agent):
    handoff_id = escalate()
    response = api_as(agent).post(f"/handoffs/{handoff_id}/draft-check", {"text": "Hello"})
    assert response.status_code == 200 and isinstance(response.json()["warnings"], list)
