"""Estimated wait from the team's history, and the announcement a bot may say."""

from datetime import timedelta

import pytest
from django.utils import timezone

from handoffs.models import Handoff
from handoffs.services.escalation import announcement, estimate_wait_seconds
from tests.botclient import CUSTOMER, escalation, turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def someone_available(agent):
    agent.presence = "available"
    agent.last_seen_at = timezone.now()
    agent.save()
    return agent


def test_without_history_a_free_place_means_only_the_prior_pickup(support_team, someone_available):
    # one agent with three free places: the first three in line are taken at once (prior 60 s pickup)
    assert estimate_wait_seconds(team=support_team, position=1) == 60
    assert estimate_wait_seconds(team=support_team, position=3) == 60
    # the fifth waits for two places to free up, one every 300 s / 3 places (the prior handling time)
    assert estimate_wait_seconds(team=support_team, position=5) == 60 + 2 * 100


def test_with_nobody_available_the_wait_includes_freeing_someone_up(support_team, agent):
    # nobody available, no history: the prior per place plus the prior handling time (300 s)
    assert estimate_wait_seconds(team=support_team, position=1) == 360


def test_the_pickup_follows_the_teams_recent_waits_per_place(bot_client, support_team, someone_available):
    # given: three earlier handoffs that waited 120 s from third place (40 s per place)
    for index in range(3):
        bot_client.post(turn("hi", conversation=f"old-{index}", first=True))
        bot_client.post(escalation(f"old-{index}"))
    now = timezone.now()
    Handoff.objects.update(
        queue_position_at_queue=3,
        queued_at=now - timedelta(seconds=150),
        claimed_at=now - timedelta(seconds=30),
        status="resolved",
    )
    # then: a free place is taken as fast as places were lately
    assert estimate_wait_seconds(team=support_team, position=2) == 40


def _history(bot_client, *, count: int, waited: int, held: int, overtaken: bool = False) -> None:
    """``count`` resolved handoffs, each claimed ``waited`` s after queueing and held ``held`` s; with
    ``overtaken`` each later one was claimed before the one queued just before it."""
    for index in range(count):
        bot_client.post(turn("hi", conversation=f"past-{index}", first=True))
        bot_client.post(escalation(f"past-{index}"))
    start = timezone.now() - timedelta(hours=2)
    for index, handoff in enumerate(Handoff.objects.order_by("queued_at")):
        queued = start + timedelta(seconds=index * 10)
        claimed = queued + timedelta(seconds=waited - (5 * (index % 2) if overtaken else 0))
        if overtaken and index % 2 == 0:
            claimed += timedelta(seconds=10)
        Handoff.objects.filter(pk=handoff.pk).update(
            status="resolved",
            queue_position_at_queue=1,
            queued_at=queued,
            claimed_at=claimed,
            connected_at=claimed,
            ended_at=claimed + timedelta(seconds=held),
        )


def test_when_every_place_is_taken_the_line_moves_as_places_free_up(
    bot_client, support_team, someone_available
):
    # given: lately places were picked up within 20 s and held 600 s; the one agent (3 places) is full
    _history(bot_client, count=4, waited=20, held=600)
    for index in range(3):
        bot_client.post(turn("hi", conversation=f"now-{index}", first=True))
        bot_client.post(escalation(f"now-{index}"))
    Handoff.objects.filter(status="queued").update(status="connected", agent=someone_available.user)
    # then: the third in line waits for three places to free up (one every 600 / 3 s), not 3 × 20 s as
    # "position × recent wait per place" said; someone being "available" does not mean a free place
    assert estimate_wait_seconds(team=support_team, position=3) == 20 + 3 * 200
    someone_available.capacity = 6
    someone_available.save()
    assert estimate_wait_seconds(team=support_team, position=3) == 20  # three free places: picked up at once


def test_overtaking_by_more_urgent_arrivals_slows_the_line(bot_client, support_team, someone_available):
    # given: the same team twice, once where later arrivals were often claimed first
    _history(bot_client, count=6, waited=20, held=600)
    Handoff.objects.update(agent=someone_available.user)
    in_order = estimate_wait_seconds(team=support_team, position=5)
    Handoff.objects.all().delete()
    _history(bot_client, count=6, waited=20, held=600, overtaken=True)
    # then: the line in front grows while it drains, so the same place means a longer wait
    assert estimate_wait_seconds(team=support_team, position=5) > in_order


def test_a_spanish_escalation_is_announced_in_spanish(bot_client):
    payload = turn("Hola, no hablo bien inglés", first=True)
    payload["customer"] = CUSTOMER | {"locale": "es"}
    bot_client.post(payload)
    handoff = bot_client.post(escalation(reason_code="language", language="es")).json()["handoff"]
    assert "especialista" in handoff["announcement"] and "repetir" in handoff["announcement"]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (45, "under a minute"),
        (60, "no more than about 1 minute."),
        (61, "no more than about 2 minutes."),
        (600, "no more than about 10 minutes."),
    ],
)
def test_the_announced_wait_is_a_bound_in_whole_minutes(seconds, expected):
    text = announcement(
        reason_code="authority_required", team="Billing", position=2, wait_seconds=seconds, language="en"
    )
    assert text.startswith("This needs someone who can approve it,")
    assert "Billing team" in text and "number 2 in line" in text
    assert text.endswith(expected if expected.endswith(".") else f"{expected}.")
