"""The estimated wait a customer is told (the announcement, ``handoff.eta`` callbacks, the bot's GET).

The line moves when a place frees up. The team's available agents have ``slots`` places in all
(their capacities), ``busy`` of them taken by handoffs they are preparing or in. A customer who finds a
free place waits only for someone to notice and claim (``pickup``); anyone further down waits for
places to free up, which happens on average every ``occupancy / slots`` seconds when all are taken
(``occupancy``: how long a claimed handoff holds its place, claim to end, over the team's recent
ones). So, at position ``p`` with ``free`` places::

    wait = pickup + max(0, p − free) × occupancy / slots

With nobody available, someone must come back or free up first: ``pickup × p + occupancy``.

``bench/eta.py`` measures this against actual waits in a simulated queue (see README, ``make bench``).
An earlier estimator (position × the team's median wait per place, plus the median handling time only
when nobody was available at all) ignored capacity: in a rush every agent is "available" yet full, so it
told customers a third to a half of their real wait.
"""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from handoffs.models import Handoff, HandoffStatus, Team
from handoffs.selectors import agents_present

WAIT_HISTORY = timedelta(days=7)
WAIT_SAMPLE = 50
# A claimed handoff holds a place this long when the team has no history yet.
HANDLING_PRIOR_SECONDS = 300
MIN_WAIT_SECONDS = 15
HOLDING = (HandoffStatus.PREPARING, HandoffStatus.CONNECTED)
# Overtaking can at most triple the time to drain the line (beyond that the history is too thin to trust).
MAX_OVERTAKING_LOAD = 2 / 3


@dataclass(frozen=True)
class TeamLoad:
    """What the line's speed depends on, read once per team and reused for every position in it."""

    slots: int  # places the available agents have in all (their capacities)
    busy: int  # of those, taken by handoffs the agents are preparing or in
    occupancy: float  # seconds a claimed handoff holds its place (claim to end), recent mean
    pickup: float  # seconds from a free place to a claim (recent median wait per place in line)
    overtaking: float = 0.0  # later arrivals claimed first, per second a customer waits (priority)

    @property
    def free(self) -> int:
        return max(0, self.slots - self.busy)


def team_load(team: Team, *, now: datetime | None = None) -> TeamLoad:
    now = now or timezone.now()
    since = now - WAIT_HISTORY
    available = (
        agents_present(now=now)
        .filter(teams=team)
        .annotate(holding=Count("user__handoffs", filter=Q(user__handoffs__status__in=HOLDING)))
    )
    slots, busy = 0, 0
    for capacity, holding in available.values_list("capacity", "holding"):
        slots += capacity
        busy += min(capacity, holding)
    return TeamLoad(
        slots=slots,
        busy=busy,
        occupancy=_occupancy_seconds(team, since),
        pickup=_pickup_seconds(team, since),
        overtaking=_overtaking_per_second(team, since),
    )


def estimate_wait_seconds(*, team: Team, position: int, load: TeamLoad | None = None) -> int:
    """Expected seconds from now to a claim for the customer at ``position`` (see the module docstring)."""
    load = load or team_load(team)
    if load.slots == 0:
        seconds = load.pickup * position + load.occupancy
    else:
        behind = max(0, position - load.free)
        per_place = load.occupancy / load.slots
        # More urgent customers arriving meanwhile go first: each second waited lets ``overtaking``
        # of them in ahead, so the line in front grows while it drains (a geometric series).
        slowdown = 1 / (1 - min(MAX_OVERTAKING_LOAD, load.overtaking * per_place))
        seconds = load.pickup + behind * per_place * slowdown
    return max(MIN_WAIT_SECONDS, round(seconds))


def _pickup_seconds(team: Team, since: datetime) -> float:
    """Median wait per place in line of the team's recent claims; a new team uses the configured prior.

    A handoff that waited 120 s from position 3 says "40 s per place"; medians resist outliers.
    """
    recent = (
        Handoff.objects.filter(team=team, claimed_at__gte=since)
        .order_by("-claimed_at")
        .values_list("queued_at", "claimed_at", "queue_position_at_queue")[:WAIT_SAMPLE]
    )
    per_place = [
        max(0.0, (claimed - queued).total_seconds()) / max(1, place)
        for queued, claimed, place in recent
        if claimed is not None
    ]
    return statistics.median(per_place) if per_place else settings.WARMLINE["WAIT_PRIOR_SECONDS_PER_POSITION"]


def _occupancy_seconds(team: Team, since: datetime) -> float:
    rows = (
        Handoff.objects.filter(team=team, ended_at__gte=since, claimed_at__isnull=False)
        .exclude(status__in=[HandoffStatus.QUEUED, *HOLDING])
        .order_by("-ended_at")
        .values_list("claimed_at", "ended_at")[:WAIT_SAMPLE]
    )
    durations = [(ended - claimed).total_seconds() for claimed, ended in rows if claimed and ended]
    return statistics.fmean(durations) if durations else HANDLING_PRIOR_SECONDS


def _overtaking_per_second(team: Team, since: datetime) -> float:
    """How fast later, more urgent arrivals went ahead of a waiting customer, over recent claims: the
    handoffs queued after each one and claimed before it, per second of all their waits."""
    later_first = (
        Handoff.objects.filter(
            team=OuterRef("team"), queued_at__gt=OuterRef("queued_at"), claimed_at__lt=OuterRef("claimed_at")
        )
        .order_by()
        .values("team")
        .annotate(count=Count("pk"))
        .values("count")
    )
    recent = (
        Handoff.objects.filter(team=team, claimed_at__gte=since)
        .order_by("-claimed_at")
        .annotate(overtaken=Coalesce(Subquery(later_first), 0))
        .values_list("queued_at", "claimed_at", "overtaken")[:WAIT_SAMPLE]
    )
    waited = overtaken = 0.0
    for queued, claimed, count in recent:
        if claimed is not None:
            waited += max(0.0, (claimed - queued).total_seconds())
            overtaken += count
    return overtaken / waited if waited else 0.0
