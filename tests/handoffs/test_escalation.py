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


def test_without_history_the_wait_is_the_prior_per_place(support_team, someone_available):
    assert estimate_wait_seconds(team=support_team, position=1) == 60
    assert estimate_wait_seconds(team=support_team, position=3) == 180


def test_with_nobody_available_the_wait_includes_freeing_someone_up(support_team, agent):
    # nobody available, no history: the prior per place plus the prior handling time (300 s)
    assert estimate_wait_seconds(team=support_team, position=1) == 360


def test_the_wait_follows_the_teams_recent_waits_per_place(bot_client, support_team, someone_available):
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
    # then
    assert estimate_wait_seconds(team=support_team, position=2) == 80


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
