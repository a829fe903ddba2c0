"""The estimated wait a customer is told (the announcement, ``handoff.eta`` callbacks, the bot's GET)."""

import statistics
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from handoffs.models import AgentProfile, Handoff, Team

WAIT_HISTORY = timedelta(days=7)
WAIT_SAMPLE = 50
# With nobody available, the first person to free up must finish a conversation first.
HANDLING_PRIOR_SECONDS = 300


def estimate_wait_seconds(*, team: Team, position: int) -> int:
    """Expected wait: queue position × the team's recent median wait per position, plus, when nobody in
    the team is available right now, the team's median handling time (someone must free up first).

    A handoff that waited 120 s from position 3 says "40 s per place in line". Medians over the team's
    last claims and resolutions of the past week resist outliers; a new team uses the configured prior.
    """
    since = timezone.now() - WAIT_HISTORY
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
    prior = settings.WARMLINE["WAIT_PRIOR_SECONDS_PER_POSITION"]
    seconds = (statistics.median(per_place) if per_place else prior) * position
    if not _anyone_available(team):
        seconds += _median_handling_seconds(team, since)
    return max(15, round(seconds))


def _anyone_available(team: Team) -> bool:
    stale = timezone.now() - timedelta(seconds=settings.WARMLINE["PRESENCE_STALE_SECONDS"])
    return AgentProfile.objects.filter(
        teams=team, presence=AgentProfile.Presence.AVAILABLE, last_seen_at__gte=stale
    ).exists()


def _median_handling_seconds(team: Team, since: object) -> float:
    rows = (
        Handoff.objects.filter(team=team, status="resolved", ended_at__gte=since, connected_at__isnull=False)
        .order_by("-ended_at")
        .values_list("connected_at", "ended_at")[:WAIT_SAMPLE]
    )
    durations = [(ended - connected).total_seconds() for connected, ended in rows if connected and ended]
    return statistics.median(durations) if durations else HANDLING_PRIOR_SECONDS
