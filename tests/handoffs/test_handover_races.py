"""Shift handovers racing against real PostgreSQL: a receiver's capacity holds when two colleagues hand over to
them at once, and the same handover sent twice at once transfers once."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from handoffs.errors import DomainError
from handoffs.models import AgentProfile, Handoff, Handover
from handoffs.services.handover import HandoverChoice, handover_apply, handover_plan
from handoffs.services.routing import offer_expire_due
from tests.botclient import escalation, turn
from tests.factories import AgentFactory
from tests.handoffs.test_concurrency import requires_postgres, run_concurrently
from tests.support.shift import held, here

pytestmark = [pytest.mark.django_db(transaction=True), requires_postgres]


def two_each(bot_client, api_as, agents) -> None:
    for agent in agents:
        here(agent)
        for n in range(2):
            name = f"{agent.user.get_username()}-{n}"
            held(
                bot_client,
                api_as,
                agent,
                f"c-{name}",
                name=name.title(),
                lines=[("customer", "Help me please.")],
            )


def everything_to(agent, username: str) -> list[HandoverChoice]:
    return [
        HandoverChoice(handoff_id=str(item.handoff.id), snapshot=item.snapshot.text(), agent=username)
        for item in handover_plan(agent=agent)
    ]


def attempt(agent, items, key):
    try:
        handover, created = handover_apply(agent=agent, items=items, key=key)
        return ("ok", str(handover.pk), created)
    except DomainError as error:
        return ("refused", error.code, error.detail)


def waiting_on_locks() -> int:
    """Sessions of this test database waiting for a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is cached per transaction
        cursor.execute(
            "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database()"
        )
        return cursor.fetchone()[0]


def test_two_colleagues_handing_over_to_one_person_at_once_never_exceed_their_capacity(
    bot_client, api_as, agent, teammate, support_team
):
    bob = AgentFactory(user__username="bob", teams=[support_team])
    two_each(bot_client, api_as, [agent, bob])
    here(teammate, capacity=3)  # room for 3; 2 + 2 are sent
    senders = [(agent, everything_to(agent, "grace")), (bob, everything_to(bob, "grace"))]
    results: list = [None, None]

    def send(index: int) -> None:
        try:
            results[index] = attempt(senders[index][0], senders[index][1], key=f"k-{index}")
        finally:
            connections.close_all()

    # when: both run their transfers while grace's profile is held, so both reach the room check together
    with transaction.atomic():
        AgentProfile.objects.select_for_update().get(pk=teammate.pk)
        threads = [threading.Thread(target=send, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while waiting_on_locks() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        both_waited = waiting_on_locks() >= 2
    for thread in threads:
        thread.join(timeout=60)
    # then: each had to wait for the lock on grace's profile; one handover went through whole, the other
    # was refused whole
    assert both_waited, "the room check does not lock the receiver's profile"
    assert sorted(result[0] for result in results) == ["ok", "refused"], results
    refused = next(result for result in results if result[0] == "refused")
    assert "room for 1 more conversation; you routed 2" in refused[2]
    assert Handoff.objects.filter(reserved_for=teammate.user, status="queued").count() == 2
    assert Handoff.objects.filter(status="transferred").count() == 2
    assert Handover.objects.count() == 1


def test_the_same_handover_sent_twice_at_once_transfers_once(bot_client, api_as, agent):
    two_each(bot_client, api_as, [agent])
    items = [
        HandoverChoice(handoff_id=str(item.handoff.id), snapshot=item.snapshot.text(), team="Support")
        for item in handover_plan(agent=agent)
    ]
    # when
    results = run_concurrently(2, lambda _: attempt(agent, items, key="same"))
    # then: both answer with the one handover; only one of them made it
    assert {result[0] for result in results} == {"ok"} and len({result[1] for result in results}) == 1
    assert sorted(result[2] for result in results) == [False, True]
    assert Handoff.objects.filter(status="transferred").count() == 2
    assert Handoff.objects.filter(status="queued").count() == 2


def test_a_handover_and_an_expiring_offer_to_the_leaver_do_not_deadlock(
    bot_client, api_as, agent, teammate, support_team
):
    """The reviewer's case: ada (leaving) was offered handoff Y; Y's offer expires while she hands over to
    grace. The expiry holds Y and waits for grace's profile; the handover holds grace's profile (its room
    check). Were ada's offers withdrawn inside the handover's transaction, it would then wait for Y: a
    deadlock, which PostgreSQL breaks by aborting one of them."""
    two_each(bot_client, api_as, [agent])
    here(teammate, capacity=3)
    support_team.routing_mode = "offer"
    support_team.offer_seconds = 600  # no timer of its own fires during the test
    support_team.save()
    bot_client.post(turn("My parcel never came.", conversation="c-y", first=True))
    y = bot_client.post(escalation("c-y")).json()["handoff"]["id"]
    Handoff.objects.filter(pk=y).update(
        offered_to=agent.user,
        offered_before=[agent.user_id],
        offer_expires_at=timezone.now() - timedelta(seconds=5),
    )
    items = everything_to(agent, "grace")
    results: dict = {}

    def hand_over() -> None:
        try:
            results["handover"] = attempt(agent, items, key="k")
        except Exception as error:  # a deadlock surfaces as a database error, not a domain one
            results["handover"] = ("error", repr(error))
        finally:
            connections.close_all()

    def expire() -> None:
        try:
            results["expire"] = offer_expire_due(handoff_id=y)
        except Exception as error:
            results["expire"] = repr(error)
        finally:
            connections.close_all()

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 30
        while waiting_on_locks() < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting_on_locks() >= count

    # when: the handover, holding grace's profile, is held up setting ada away; meanwhile the expiry takes Y
    # and waits for grace's profile; then ada's profile is released
    threads = [threading.Thread(target=hand_over), threading.Thread(target=expire)]
    with transaction.atomic():
        AgentProfile.objects.select_for_update().get(pk=agent.pk)
        threads[0].start()
        wait_for(1)
        threads[1].start()
        wait_for(2)
    for thread in threads:
        thread.join(timeout=60)
    # then: both went through; Y moved on to grace, and ada is away with no offer left
    assert results["handover"][0] == "ok", results
    assert results["expire"] is True, results
    assert Handoff.objects.get(pk=y).offered_to_id == teammate.user_id
    assert Handoff.objects.filter(reserved_for=teammate.user, status="queued").count() == 2
    assert AgentProfile.objects.get(pk=agent.pk).presence == "away"
    assert not Handoff.objects.filter(offered_to=agent.user, status="queued").exists()
