"""Races against real PostgreSQL: concurrent deliveries of one webhook-id apply once, capacity holds under
concurrent offers and claims, and a reassignment timer never overrides a reply that came first."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from handoffs.models import Conversation, Handoff, InboundRequest, Turn
from handoffs.services.handoffs import handoff_reassign_due
from tests.botclient import BotClient, escalation, turn
from tests.handoffs.test_routing import here

pytestmark = pytest.mark.django_db(transaction=True)

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and concurrent transactions need PostgreSQL"
)


def run_concurrently(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@requires_postgres
def test_concurrent_deliveries_of_one_webhook_id_apply_once(bot_client):
    body = json.dumps({"events": [turn("Hello", first=True), turn("Anyone?")]}).encode()
    headers = bot_client.headers(body, webhook_id="msg_race")

    def deliver(_: int):
        client = BotClient(bot_id=bot_client.bot_id, secret=bot_client.secret)
        response = client.client.post(
            f"/api/v1/bots/{bot_client.bot_id}/events", data=body, content_type="application/json", **headers
        )
        return response.status_code, response.json(), response.get("Idempotent-Replayed")

    # when
    results = run_concurrently(8, deliver)
    # then
    assert {status for status, _, _ in results} == {200}
    assert len({json.dumps(body, sort_keys=True) for _, body, _ in results}) == 1
    assert sum(1 for *_, replayed in results if replayed == "true") == 7
    assert Turn.objects.count() == 2
    assert InboundRequest.objects.count() == 1


@requires_postgres
def test_concurrent_first_turns_of_one_conversation_create_it_once(bot_client):
    def deliver(index: int):
        client = BotClient(bot_id=bot_client.bot_id, secret=bot_client.secret)
        return client.post(turn(f"message {index}", first=True)).status_code

    results = run_concurrently(6, deliver)
    assert results == [200] * 6
    assert Conversation.objects.count() == 1
    assert sorted(Turn.objects.values_list("seq", flat=True)) == [1, 2, 3, 4, 5, 6]


@requires_postgres
def test_concurrent_escalations_open_one_handoff(bot_client):
    bot_client.post(turn("Help", first=True))

    def deliver(index: int):
        client = BotClient(bot_id=bot_client.bot_id, secret=bot_client.secret)
        return client.post(escalation(reason=f"attempt {index}")).status_code

    results = run_concurrently(6, deliver)
    assert sorted(results) == [200] * 5 + [201]
    assert Handoff.objects.count() == 1


@requires_postgres
def test_two_agents_claiming_at_once_get_one_winner_and_one_409(escalate, api_as, agent, teammate):
    # given
    handoff_id = escalate()
    clients = [api_as(agent), api_as(teammate)]
    # when
    results = run_concurrently(2, lambda index: clients[index].post(f"/handoffs/{handoff_id}/claim"))
    # then
    assert sorted(response.status_code for response in results) == [200, 409]
    loser = next(response for response in results if response.status_code == 409)
    assert loser.json()["code"] == "already_claimed"
    assert Handoff.objects.get(pk=handoff_id).agent is not None


@requires_postgres
def test_capacity_holds_under_concurrent_claims(escalate, api_as, agent):
    # given: ada may hold one handoff, and four are waiting
    agent.capacity = 1
    agent.save()
    handoff_ids = [escalate(f"c-{index}") for index in range(4)]
    clients = [api_as(agent) for _ in handoff_ids]
    # when: she claims all four at once (four tabs)
    results = run_concurrently(
        4, lambda index: clients[index].post(f"/handoffs/{handoff_ids[index]}/claim").status_code
    )
    # then
    assert sorted(results) == [200, 409, 409, 409]
    assert Handoff.objects.filter(agent=agent.user, status="preparing").count() == 1


@requires_postgres
def test_capacity_holds_under_concurrent_offers_and_claims(bot_client, support_team, agent, teammate, api_as):
    # given: an offer team; ada may hold two, grace one, and six customers escalate at once
    support_team.routing_mode = "offer"
    support_team.save()
    here(agent, capacity=2)
    here(teammate, capacity=1)
    for index in range(6):
        bot_client.post(turn("My parcel never came.", conversation=f"c-{index}", first=True))

    def escalate(index: int) -> int:
        client = BotClient(bot_id=bot_client.bot_id, secret=bot_client.secret)
        return client.post(escalation(f"c-{index}")).status_code

    # when
    assert run_concurrently(6, escalate) == [201] * 6
    # then: nobody is offered more than their free capacity; the rest wait in the pool
    offered = {
        user: Handoff.objects.filter(offered_to=user, status="queued").count()
        for user in (agent.user, teammate.user)
    }
    assert offered == {agent.user: 2, teammate.user: 1}
    assert Handoff.objects.filter(offered_to__isnull=True, status="queued").count() == 3
    # when: both of them claim all six at once
    handoff_ids = [str(pk) for pk in Handoff.objects.values_list("pk", flat=True)]
    clients = [api_as(agent), api_as(teammate)]
    attempts = [(person, handoff_id) for person in (0, 1) for handoff_id in handoff_ids]
    results = run_concurrently(
        len(attempts),
        lambda index: clients[attempts[index][0]].post(f"/handoffs/{attempts[index][1]}/claim").status_code,
    )
    # then: each holds exactly their capacity, and no handoff has two holders
    assert sorted(results).count(200) == 3
    assert Handoff.objects.filter(agent=agent.user, status="preparing").count() == 2
    assert Handoff.objects.filter(agent=teammate.user, status="preparing").count() == 1


@requires_postgres
def test_a_late_reply_and_the_reassignment_timer_never_both_win(escalate, api_as, agent):
    # given: ada is connected and her first-reply deadline has just passed
    handoff_id = escalate()
    client = api_as(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    client.post(f"/handoffs/{handoff_id}/connect")
    Handoff.objects.filter(pk=handoff_id).update(reply_due_at=timezone.now() - timedelta(seconds=1))

    def race(index: int):
        if index == 0:
            return client.post(f"/handoffs/{handoff_id}/messages", {"text": "Sorry, here now!"}).status_code
        return handoff_reassign_due(handoff_id=handoff_id)

    # when: her message and two timers (the countdown and the beat sweep) arrive together
    message, *timers = run_concurrently(3, race)
    # then: either she answered in time and it stays hers, or it was reassigned once and her message refused
    old = Handoff.objects.get(pk=handoff_id)
    if message == 201:
        assert timers == [False, False]
        assert old.status == "connected" and not Handoff.objects.filter(previous=old).exists()
    else:
        assert message == 409 and sorted(timers) == [False, True]
        assert old.status == "transferred" and Handoff.objects.filter(previous=old).count() == 1
        assert not Turn.objects.filter(role="agent").exists()
