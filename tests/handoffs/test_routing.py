"""Routing: team choice, offers, language-first, the ETA, and capacity under concurrent claims."""

from datetime import timedelta

import pytest
from django.utils import timezone

from handoffs.models import Bot, Handoff, OutboundDelivery
from handoffs.selectors import LANGUAGE_FIRST_SECONDS
from handoffs.services.agents import agent_presence_set, agents_mark_absent_offline
from handoffs.services.routing import eta_refresh, offer_expire_due, route_team
from tests.factories import AgentFactory, TeamFactory

pytestmark = pytest.mark.django_db


def here(profile, *, languages=("en",), skills=(), capacity=3):
    profile.presence = "available"
    profile.last_seen_at = timezone.now()
    profile.languages = list(languages)
    profile.skills = list(skills)
    profile.capacity = capacity
    profile.save()
    return profile


@pytest.mark.parametrize(
    ("skills", "language", "expected"),
    [
        ([], "", "Support"),  # nothing asked: the bot's default team
        ([], "es", "Español"),  # only the allowed team speaks Spanish
        (["billing"], "", "Support"),  # the default team covers it
        (["warranty"], "", "Support"),  # nobody covers it: stay with the default
    ],
)
def test_the_team_follows_skills_and_language(bot, support_team, agent, skills, language, expected):
    here(agent, skills=["billing"])
    spanish = TeamFactory(name="Español")
    here(AgentFactory(user__username="lucia", teams=[spanish]), languages=["es", "en"])
    bot.allowed_teams.add(spanish)
    assert route_team(bot=bot, skills=skills, language=language).name == expected


@pytest.fixture
def offer_team(support_team):
    support_team.routing_mode = "offer"
    support_team.offer_seconds = 20
    support_team.save()
    return support_team


def test_an_offer_goes_to_the_least_loaded_matching_agent(offer_team, escalate, agent, teammate, api_as):
    here(agent)
    here(teammate)
    busy = escalate("c-busy")
    Handoff.objects.filter(pk=busy).update(status="connected", agent=agent.user, offered_to=None)
    # when
    handoff_id = escalate("c-new")
    # then: grace (no open handoffs) is offered it; ada does not see it and cannot take it meanwhile
    handoff = Handoff.objects.get(pk=handoff_id)
    assert handoff.offered_to == teammate.user
    assert [item["id"] for item in api_as(teammate).get("/queue").json()["handoffs"]] == [handoff_id]
    assert handoff_id not in [item["id"] for item in api_as(agent).get("/queue").json()["handoffs"]]
    assert api_as(agent).post(f"/handoffs/{handoff_id}/claim").json()["code"] == "offered_elsewhere"
    assert api_as(teammate).post(f"/handoffs/{handoff_id}/claim").status_code == 200


def test_an_unanswered_offer_moves_on_then_falls_back_to_the_pool(offer_team, escalate, agent, teammate):
    here(agent)
    here(teammate)
    handoff_id = escalate()
    first = Handoff.objects.get(pk=handoff_id).offered_to
    # not yet expired: nothing moves
    assert offer_expire_due(handoff_id=handoff_id) is False
    Handoff.objects.filter(pk=handoff_id).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    assert offer_expire_due(handoff_id=handoff_id) is True
    second = Handoff.objects.get(pk=handoff_id).offered_to
    assert {first, second} == {agent.user, teammate.user}
    Handoff.objects.filter(pk=handoff_id).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    offer_expire_due(handoff_id=handoff_id)
    assert Handoff.objects.get(pk=handoff_id).offered_to is None  # everyone may claim it now


def test_going_away_or_offline_moves_offers_on_at_once(
    offer_team, escalate, agent, teammate, django_capture_on_commit_callbacks
):
    here(agent)
    here(teammate)
    handoff_id = escalate()
    holder = Handoff.objects.get(pk=handoff_id).offered_to
    other = teammate if holder == agent.user else agent
    holder_profile = agent if holder == agent.user else teammate
    with django_capture_on_commit_callbacks(execute=True):
        agent_presence_set(agent=holder_profile, presence="away")
        # not inside the caller's transaction (a handover holds profiles there; see agent_presence_set)
        assert Handoff.objects.get(pk=handoff_id).offered_to == holder
    assert Handoff.objects.get(pk=handoff_id).offered_to == other.user
    # the other one's sockets have all been gone for a while: offline, and the offer leaves them too
    type(other).objects.filter(pk=other.pk).update(last_seen_at=timezone.now() - timedelta(minutes=5))
    assert agents_mark_absent_offline() >= 1
    assert Handoff.objects.get(pk=handoff_id).offered_to is None


def test_a_spanish_conversation_goes_to_spanish_speakers_first(escalate, agent, teammate, api_as):
    here(agent, languages=["en"])
    here(teammate, languages=["en", "es"])
    handoff_id = escalate(language="es")
    assert [item["id"] for item in api_as(teammate).get("/queue").json()["handoffs"]] == [handoff_id]
    assert api_as(agent).get("/queue").json()["handoffs"] == []
    # the window is the language-first minute from when it was queued
    handoff = Handoff.objects.get(pk=handoff_id)
    assert handoff.speakers_first_until == handoff.queued_at + timedelta(seconds=LANGUAGE_FIRST_SECONDS)
    # after it everyone sees it
    Handoff.objects.filter(pk=handoff_id).update(speakers_first_until=timezone.now() - timedelta(seconds=1))
    assert [item["id"] for item in api_as(agent).get("/queue").json()["handoffs"]] == [handoff_id]


def test_the_eta_is_sent_again_when_it_moves_enough(bot, support_team, escalate, agent, api_as):
    Bot.objects.filter(pk=bot.pk).update(callback_url="http://127.0.0.1:9/cb")
    here(agent)
    first, second = escalate("c-1"), escalate("c-2")
    # nothing moved yet
    assert eta_refresh(team_id=support_team.pk) == 0
    # the first is taken: the second moves up from place 2 to place 1 (120 s → 60 s)
    api_as(agent).post(f"/handoffs/{first}/claim")
    assert eta_refresh(team_id=support_team.pk) == 1
    eta = OutboundDelivery.objects.get(type="handoff.eta")
    assert eta.payload["handoff_id"] == second
    assert eta.payload["data"]["queue_position"] == 1
    assert (
        eta.payload["data"]["estimated_wait_seconds"]
        < Handoff.objects.get(pk=second).queue_position_at_queue * 120
    )
    assert eta_refresh(team_id=support_team.pk) == 0  # told once
