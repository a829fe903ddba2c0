"""Routing scenarios, one table: a team's mode, its people (presence, capacity, load, running offers, skills,
languages, idle time) and a new handoff (language, skills, urgency) → who is offered it, who sees it, or
where it lands in the queue. Each row builds its world through the bot API and the real services."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from handoffs.models import Handoff
from handoffs.selectors import queue_for_agent
from tests.botclient import escalation, turn
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Person:
    presence: str = "available"  # available, away, offline, or "stale": available but no socket for 5 min
    capacity: int = 3
    active: int = 0  # open handoffs they hold
    offers: int = 0  # other handoffs being offered to them right now
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("en",)
    idle: int = 600  # seconds since their last claim


@dataclass(frozen=True)
class Waiting:
    """A handoff already in the queue (queue-order rows): its label, urgency and how long it has waited."""

    label: str
    urgency: str
    waited: int


@dataclass(frozen=True)
class Scenario:
    mode: str
    people: dict[str, Person]
    language: str = ""
    skills: tuple[str, ...] = ()
    urgency: str = "normal"
    waiting: tuple[Waiting, ...] = ()
    offered_to: str | None = None  # offer mode: who is offered the new handoff (None: nobody, the pool)
    seen_by: frozenset[str] = field(default_factory=frozenset)  # pool mode: whose queue shows it now
    order: tuple[
        str, ...
    ] = ()  # pool mode with waiting rows: the queue, highest first ("new" is the new one)


TWO = {"ada": Person(), "grace": Person()}
SCENARIOS = {
    # --- offer mode: the best agent ---
    "least loaded first": Scenario("offer", {"ada": Person(active=1), "grace": Person()}, offered_to="grace"),
    "equal load: longest idle first": Scenario(
        "offer", {"ada": Person(idle=900), "grace": Person(idle=60)}, offered_to="ada"
    ),
    "matching skills beat a lighter load": Scenario(
        "offer",
        {"ada": Person(active=2, skills=("billing",)), "grace": Person()},
        skills=("billing",),
        offered_to="ada",
    ),
    "the customer's language beats a lighter load": Scenario(
        "offer",
        {"ada": Person(active=1, languages=("en", "es")), "grace": Person()},
        language="es",
        offered_to="ada",
    ),
    "a regional language tag matches its language": Scenario(
        "offer",
        {"ada": Person(languages=("es",), idle=60), "grace": Person(idle=900)},
        language="es-MX",
        offered_to="ada",
    ),
    "nobody speaks it: still offered, to the least loaded": Scenario(
        "offer", {"ada": Person(active=1), "grace": Person()}, language="de", offered_to="grace"
    ),
    "at capacity: skipped": Scenario(
        "offer",
        {"ada": Person(capacity=1, active=1, idle=3000), "grace": Person(active=2)},
        offered_to="grace",
    ),
    "running offers hold capacity": Scenario(
        "offer",
        {"ada": Person(capacity=2, active=1, offers=1), "grace": Person(active=1)},
        offered_to="grace",
    ),
    "running offers count as load": Scenario(
        "offer", {"ada": Person(offers=1), "grace": Person(idle=10)}, offered_to="grace"
    ),
    "away: skipped": Scenario(
        "offer", {"ada": Person(presence="away", idle=3000), "grace": Person()}, offered_to="grace"
    ),
    "offline: skipped": Scenario(
        "offer", {"ada": Person(presence="offline", idle=3000), "grace": Person()}, offered_to="grace"
    ),
    "sockets gone but not yet swept offline: skipped": Scenario(
        "offer", {"ada": Person(presence="stale", idle=3000), "grace": Person()}, offered_to="grace"
    ),
    "nobody available: the pool": Scenario(
        "offer", {"ada": Person(presence="away"), "grace": Person(capacity=1, active=1)}, offered_to=None
    ),
    # --- pool mode: who sees it ---
    "pool: everyone in the team, present or not": Scenario(
        "pool", {"ada": Person(), "grace": Person(presence="away")}, seen_by=frozenset({"ada", "grace"})
    ),
    "pool: Spanish goes to Spanish speakers first": Scenario(
        "pool",
        {"ada": Person(), "grace": Person(languages=("en", "es"))},
        language="es",
        seen_by=frozenset({"grace"}),
    ),
    "pool: a regional tag counts as its language": Scenario(
        "pool",
        {"ada": Person(), "grace": Person(languages=("es",))},
        language="es-MX",
        seen_by=frozenset({"grace"}),
    ),
    "pool: nobody in the team speaks it, so everyone sees it at once": Scenario(
        "pool", TWO, language="es", seen_by=frozenset(TWO)
    ),
    "pool: its only speaker is away, so everyone sees it at once": Scenario(
        "pool",
        {"ada": Person(), "grace": Person(languages=("es",), presence="away")},
        language="es",
        seen_by=frozenset({"ada", "grace"}),
    ),
    "pool: English is shown to everyone at once": Scenario(
        "pool",
        {"ada": Person(languages=("es",)), "grace": Person()},
        language="en-GB",
        seen_by=frozenset({"ada", "grace"}),
    ),
    # --- pool mode: where it lands in the queue ---
    "queue: urgency orders fresh arrivals": Scenario(
        "pool",
        TWO,
        urgency="normal",
        waiting=(Waiting("low", "low", 0), Waiting("high", "high", 0)),
        seen_by=frozenset(TWO),
        order=("high", "new", "low"),
    ),
    "queue: fifteen minutes of waiting outrank a fresh high": Scenario(
        "pool",
        TWO,
        urgency="high",
        waiting=(Waiting("patient", "low", 900),),
        seen_by=frozenset(TWO),
        order=("patient", "new"),
    ),
    "queue: critical goes ahead of a normal that waited ten minutes": Scenario(
        "pool",
        TWO,
        urgency="critical",
        waiting=(Waiting("normal", "normal", 600), Waiting("low", "low", 60)),
        seen_by=frozenset(TWO),
        order=("new", "normal", "low"),
    ),
}


@pytest.fixture
def world(bot_client, support_team):
    """Builds a scenario's team and people; returns a function that escalates a conversation."""
    counter = iter(range(1000))

    def escalate(*, urgency="normal", language="", skills=(), waited=0) -> Handoff:
        conversation = f"c-{next(counter)}"
        at = (datetime.now(tz=UTC) - timedelta(seconds=waited)).isoformat()
        opening = turn("Hello, I need help with an order.", conversation=conversation, first=True)
        bot_client.post(opening | {"occurred_at": at})
        body = escalation(conversation, urgency=urgency, language=language, skills=list(skills))
        response = bot_client.post(body | {"occurred_at": at})
        assert response.status_code == 201, response.content
        return Handoff.objects.get(pk=response.json()["handoff"]["id"])

    return escalate


def build(scenario: Scenario, team, escalate) -> dict:
    """The people of a scenario, with their load made of real handoffs (escalated while the team is a pool
    and nobody is present, so the setup offers nothing)."""
    now = timezone.now()
    profiles = {}
    for name, person in scenario.people.items():
        profile = AgentFactory(
            user__username=name,
            teams=[team],
            capacity=person.capacity,
            skills=list(person.skills),
            languages=list(person.languages),
        )
        profiles[name] = profile
        for index in range(max(person.active, 1)):
            held = escalate()
            claimed = now - timedelta(seconds=person.idle + index)
            if index < person.active:
                Handoff.objects.filter(pk=held.pk).update(
                    status="connected", agent=profile.user, claimed_at=claimed
                )
            else:  # an earlier, finished claim: only when they last claimed matters
                Handoff.objects.filter(pk=held.pk).update(
                    status="resolved", agent=profile.user, claimed_at=claimed, ended_at=claimed
                )
        for _ in range(person.offers):
            offer = escalate()
            Handoff.objects.filter(pk=offer.pk).update(
                offered_to=profile.user, offer_expires_at=now + timedelta(seconds=60)
            )
    team.routing_mode = scenario.mode
    team.save()
    for name, person in scenario.people.items():
        presence = "available" if person.presence == "stale" else person.presence
        seen = now - timedelta(minutes=5) if person.presence == "stale" else now
        type(profiles[name]).objects.filter(pk=profiles[name].pk).update(presence=presence, last_seen_at=seen)
        profiles[name].refresh_from_db()
    return profiles


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_routing_scenario(scenario: Scenario, world, support_team):
    # given
    profiles = build(scenario, support_team, world)
    labels = {}
    for row in scenario.waiting:
        labels[world(urgency=row.urgency, waited=row.waited).pk] = row.label
    # when
    new = world(urgency=scenario.urgency, language=scenario.language, skills=scenario.skills)
    labels[new.pk] = "new"
    # then
    new.refresh_from_db()
    if scenario.mode == "offer":
        offered = new.offered_to.get_username() if new.offered_to else None
        assert offered == scenario.offered_to
        return
    assert new.offered_to is None
    seen = {
        name for name, profile in profiles.items() if new.pk in {h.pk for h in queue_for_agent(agent=profile)}
    }
    assert seen == scenario.seen_by
    if scenario.order:
        viewer = profiles[sorted(scenario.seen_by)[0]]
        queue = [labels[h.pk] for h in queue_for_agent(agent=viewer) if h.pk in labels]
        assert tuple(queue) == scenario.order
