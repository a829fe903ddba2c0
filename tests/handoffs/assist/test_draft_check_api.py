"""POST /api/v1/agent/handoffs/{id}/draft-check answers with the engine's warnings."""

import pytest

from tests.botclient import turn

pytestmark = pytest.mark.django_db


def test_asking_for_the_order_number_again_is_a_repeat_question(escalate, api_as, agent):
    # given: the customer gave "#KX-48213" in the first turn of the escalated conversation
    handoff_id = escalate()
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    # when
    response = client.post(
        f"/handoffs/{handoff_id}/draft-check", {"text": "Hi! Could you confirm your order number?"}
    )
    # then
    assert response.status_code == 200, response.content
    [warning] = response.json()["warnings"]
    assert warning["kind"] == "repeat_question"
    assert warning["evidence"] == {"slot": "order_number", "value": "KX-48213", "seq": 1}
    assert "KX-48213" in warning["message"]


def test_a_draft_that_breaks_the_bots_promise_is_flagged(bot_client, escalate, api_as, agent):
    # given: the bot promised a $40 refund before the handoff
    bot_client.post(turn("My order #KX-48213 never arrived.", conversation="c-2", first=True))
    bot_client.post(
        turn("I've refunded $40 to your card for the missing order.", role="bot", conversation="c-2")
    )
    handoff_id = escalate("c-2")
    # when
    body = (
        api_as(agent).post(f"/handoffs/{handoff_id}/draft-check", {"text": "We can only refund $25."}).json()
    )
    # then
    [warning] = [w for w in body["warnings"] if w["kind"] == "contradicts_commitment"]
    assert warning["evidence"]["kind"] == "refund" and "$40" in warning["evidence"]["text"]


def test_a_harmless_draft_has_no_warnings(escalate, api_as, agent):
    handoff_id = escalate()
    response = api_as(agent).post(f"/handoffs/{handoff_id}/draft-check", {"text": "I'm on it, one moment."})
    assert response.status_code == 200 and response.json() == {"warnings": []}


def test_only_the_teams_agents_may_check_drafts(escalate, api_as, outsider):
    handoff_id = escalate()
    response = api_as(outsider).post(
        f"/handoffs/{handoff_id}/draft-check", {"text": "What's your order number?"}
    )
    assert response.status_code == 404
