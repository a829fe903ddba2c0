"""Handoff quality (spec §Reports): every metric is an SQL aggregate over indexed columns.

Definitions (also in docs/metrics.md):

- ``handoffs``: handoffs queued in the period that match the filters (transfers count as handoffs).
- ``repeat_question_rate``: of those that connected, the share in which the agent sent at least one
  message flagged ``repeat_question`` by the draft checker.
- ``csat_bot_avg`` / ``csat_human_avg``: mean rating (1–5) of the ``bot`` / ``human`` phase given on those
  handoffs; ``csat_delta`` = human − bot (None when either is missing).
- ``median_wait_seconds`` (queued → claimed), ``median_prepare_seconds`` (claimed → connected),
  ``median_resolution_seconds`` (connected → resolved, resolved handoffs only), each with its p90.
- ``re_escalation_rate``: of the resolved handoffs, the share whose conversation was handed off again
  (a new escalation) within 72 h of the resolve. Transfers are counted separately in ``transfer_rate``.
- ``abandonment_rate``: the share whose customer left before a person connected.
- ``sentiment_delta_avg``: per connected handoff, the mean customer sentiment after connect minus the mean
  before the escalation; averaged over handoffs with customer turns on both sides.
- ``commitments``: the AI's commitments in those handoffs' conversations, by status (``broken`` includes
  the open ones already past due).
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from handoffs.models import AgentProfile, Commitment, CsatRating, Handoff, MessageWarning, Turn

RE_ESCALATION_WINDOW = timedelta(hours=72)


@dataclass(frozen=True)
class ReportFilter:
    since: datetime
    until: datetime
    team: str = ""
    bot: str = ""
    issue_type: str = ""
    agent: str = ""


def report_filter(
    *,
    since: datetime | date | None,
    until: datetime | date | None,
    team: str = "",
    bot: str = "",
    issue_type: str = "",
    agent: str = "",
) -> ReportFilter:
    """The period defaults to the last 30 days; a bare date means that whole day."""
    now = timezone.now()
    end = _moment(until, end_of_day=True) if until else now
    start = _moment(since, end_of_day=False) if since else end - timedelta(days=30)
    return ReportFilter(since=start, until=end, team=team, bot=bot, issue_type=issue_type, agent=agent)


def _moment(value: datetime | date, *, end_of_day: bool) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    moment = datetime.combine(value, datetime.max.time() if end_of_day else datetime.min.time())
    return timezone.make_aware(moment)


def handoffs_in(scope: QuerySet[Handoff], flt: ReportFilter) -> QuerySet[Handoff]:
    """Handoffs of the period and filters, within ``scope`` (the reader's teams)."""
    rows = scope.filter(queued_at__gte=flt.since, queued_at__lt=flt.until)
    if flt.team:
        rows = rows.filter(team__name=flt.team)
    if flt.bot:
        rows = rows.filter(conversation__bot__bot_id=flt.bot)
    if flt.issue_type:
        rows = rows.filter(conversation__issue_type=flt.issue_type)
    if flt.agent:
        rows = rows.filter(agent__username=flt.agent)
    return rows


def scope_for(profile: AgentProfile) -> QuerySet[Handoff]:
    return Handoff.objects.filter(team__in=profile.teams.all())


class Percentile(Func):
    """PostgreSQL ``percentile_cont(p) WITHIN GROUP (ORDER BY expr)``."""

    function = "percentile_cont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    contains_aggregate = True

    def __init__(self, expression: Any, percentile: float) -> None:
        super().__init__(expression, percentile=percentile)


def _seconds(start: str, end: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _durations(
    rows: QuerySet[Handoff], start: str, end: str, only: Q | None = None
) -> dict[str, float | None]:
    """Median and p90 of ``end - start`` in seconds, over rows where both are set."""
    subset = rows.filter(**{f"{start}__isnull": False, f"{end}__isnull": False})
    if only is not None:
        subset = subset.filter(only)
    if connection.vendor == "postgresql":
        epoch = Func(_seconds(start, end), function="EXTRACT", template="EXTRACT(EPOCH FROM %(expressions)s)")
        result = subset.aggregate(p50=Percentile(epoch, 0.5), p90=Percentile(epoch, 0.9))
        return {key: (round(value, 1) if value is not None else None) for key, value in result.items()}
    # The embedded SQLite default has no percentile aggregate; its demo-sized data is sorted here instead.
    values = sorted(
        (b - a).total_seconds() for a, b in subset.values_list(start, end) if a is not None and b is not None
    )
    return {"p50": _percentile(values, 0.5), "p90": _percentile(values, 0.9)}


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    position = (len(values) - 1) * p
    low, high = int(position), min(int(position) + 1, len(values) - 1)
    return round(values[low] + (values[high] - values[low]) * (position - low), 1)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def handoff_quality(*, scope: QuerySet[Handoff], flt: ReportFilter) -> dict[str, Any]:
    rows = handoffs_in(scope, flt)
    counts = rows.aggregate(
        handoffs=Count("id"),
        connected=Count("id", filter=Q(connected_at__isnull=False)),
        resolved=Count("id", filter=Q(status="resolved")),
        abandoned=Count("id", filter=Q(status="abandoned")),
        transferred=Count("id", filter=Q(status="transferred")),
    )
    repeat = (
        rows.filter(connected_at__isnull=False)
        .filter(Exists(MessageWarning.objects.filter(handoff=OuterRef("pk"), kind="repeat_question")))
        .count()
    )
    re_escalated = rows.filter(status="resolved").filter(_re_escalated()).count()
    csat = CsatRating.objects.filter(handoff__in=rows.values("pk")).aggregate(
        bot=Avg("score", filter=Q(phase="bot")), human=Avg("score", filter=Q(phase="human"))
    )
    wait = _durations(rows, "queued_at", "claimed_at")
    prepare = _durations(rows, "claimed_at", "connected_at")
    resolution = _durations(rows, "connected_at", "ended_at", only=Q(status="resolved"))
    bot_avg = round(csat["bot"], 2) if csat["bot"] is not None else None
    human_avg = round(csat["human"], 2) if csat["human"] is not None else None
    return {
        "handoffs": counts["handoffs"],
        "repeat_question_rate": _rate(repeat, counts["connected"]),
        "csat_bot_avg": bot_avg,
        "csat_human_avg": human_avg,
        "csat_delta": round(human_avg - bot_avg, 2)
        if bot_avg is not None and human_avg is not None
        else None,
        "median_wait_seconds": wait["p50"],
        "p90_wait_seconds": wait["p90"],
        "median_prepare_seconds": prepare["p50"],
        "p90_prepare_seconds": prepare["p90"],
        "median_resolution_seconds": resolution["p50"],
        "p90_resolution_seconds": resolution["p90"],
        "re_escalation_rate": _rate(re_escalated, counts["resolved"]),
        "transfer_rate": _rate(counts["transferred"], counts["handoffs"]),
        "abandonment_rate": _rate(counts["abandoned"], counts["handoffs"]),
        "sentiment_delta_avg": _sentiment_delta(rows),
        "commitments": _commitments(rows),
    }


def _sentiment_delta(rows: QuerySet[Handoff]) -> float | None:
    customer = Turn.objects.filter(
        conversation_id=OuterRef("conversation_id"), role="customer", sentiment__isnull=False
    )
    before = customer.filter(occurred_at__lt=OuterRef("queued_at"))
    after = customer.filter(occurred_at__gte=OuterRef("connected_at"))

    def mean(turns: QuerySet[Turn]) -> Subquery:
        return Subquery(
            turns.order_by().values("conversation_id").annotate(mean=Avg("sentiment")).values("mean")[:1],
            output_field=FloatField(),
        )

    deltas = (
        rows.filter(connected_at__isnull=False)
        .annotate(before=mean(before), after=mean(after))
        .filter(before__isnull=False, after__isnull=False)
        .aggregate(delta=Avg(F("after") - F("before"), output_field=FloatField()))
    )
    return round(deltas["delta"], 3) if deltas["delta"] is not None else None


def _commitments(rows: QuerySet[Handoff]) -> dict[str, int]:
    now = timezone.now()
    counts = Commitment.objects.filter(conversation__in=rows.values("conversation_id")).aggregate(
        open=Count("id", filter=Q(status="open") & (Q(due_at__isnull=True) | Q(due_at__gte=now))),
        kept=Count("id", filter=Q(status="kept")),
        broken=Count("id", filter=Q(status="broken") | (Q(status="open") & Q(due_at__lt=now))),
    )
    return {key: int(value) for key, value in counts.items()}


# The per-day rows (``by_day``, also the CSV's columns, in this order).
BY_DAY_FIELDS = (
    "day",
    "handoffs",
    "connected",
    "resolved",
    "abandoned",
    "transferred",
    "repeat_question_rate",
    "abandonment_rate",
    "csat_bot_avg",
    "csat_human_avg",
    "median_wait_seconds",
)


def _wait_epoch() -> Func:
    """Seconds from queued to claimed (NULL while unclaimed, which percentile_cont ignores)."""
    return Func(
        _seconds("queued_at", "claimed_at"),
        function="EXTRACT",
        template="EXTRACT(EPOCH FROM %(expressions)s)",
    )


def _repeat_handoffs() -> QuerySet[MessageWarning, Any]:
    return MessageWarning.objects.filter(kind="repeat_question").values("handoff_id")


def _re_escalated() -> Exists:
    """A new escalation (not a transfer) of the same conversation within 72 h of this handoff's end."""
    later = Handoff.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        queued_at__gt=OuterRef("ended_at"),
        queued_at__lte=OuterRef("ended_at") + RE_ESCALATION_WINDOW,
    )
    if connection.vendor == "sqlite":
        # SQLite (no statistics) reads "previous_id IS NULL" on the unique index of previous_id as one
        # row and walks every first handoff for each resolved one; a unary + keeps it on conversation_id.
        later = later.alias(
            first=ExpressionWrapper(
                Func(F("previous_id"), template="+%(expressions)s"), output_field=UUIDField()
            )
        ).filter(first__isnull=True)
    else:
        later = later.filter(previous__isnull=True)
    return Exists(later)


def _group_counts() -> dict[str, Any]:
    """The counting aggregates shared by ``by_day`` and ``breakdown`` (one row per group)."""
    return {
        "handoffs": Count("id"),
        "connected": Count("id", filter=Q(connected_at__isnull=False)),
        "resolved": Count("id", filter=Q(status="resolved")),
        "abandoned": Count("id", filter=Q(status="abandoned")),
        "transferred": Count("id", filter=Q(status="transferred")),
        "repeat": Count("id", filter=Q(connected_at__isnull=False) & Q(pk__in=_repeat_handoffs())),
    }


def _group_medians(rows: QuerySet[Handoff], group: str) -> dict[Any, float | None]:
    """Median wait per ``group`` value: one GROUP BY with percentile_cont on PostgreSQL."""
    if connection.vendor == "postgresql":
        medians = rows.values(group).annotate(p50=Percentile(_wait_epoch(), 0.5)).order_by()
        return {row[group]: (round(row["p50"], 1) if row["p50"] is not None else None) for row in medians}
    # Embedded SQLite (demo-sized): no percentile aggregate, so the waits are sorted here.
    waits: dict[Any, list[float]] = {}
    for key, queued, claimed in rows.filter(claimed_at__isnull=False).values_list(
        group, "queued_at", "claimed_at"
    ):
        waits.setdefault(key, []).append((claimed - queued).total_seconds())
    return {key: _percentile(sorted(values), 0.5) for key, values in waits.items()}


def _group_csat(rows: QuerySet[Handoff], group: Any) -> dict[Any, dict[str, float | None]]:
    """Mean bot-phase and human-phase CSAT per ``group`` (an expression over the rated handoff)."""
    ratings = (
        CsatRating.objects.filter(handoff__in=rows.values("pk"))
        .values(group=group)
        .annotate(bot=Avg("score", filter=Q(phase="bot")), human=Avg("score", filter=Q(phase="human")))
        .order_by()
    )
    return {
        row["group"]: {
            "bot": round(row["bot"], 2) if row["bot"] is not None else None,
            "human": round(row["human"], 2) if row["human"] is not None else None,
        }
        for row in ratings
    }


def by_day(*, scope: QuerySet[Handoff], flt: ReportFilter) -> list[dict[str, Any]]:
    """One row per day of the period that has handoffs: counts, the main rates, CSAT by phase and the
    median wait, each aggregated by the database (GROUP BY the day the handoff was queued)."""
    rows = handoffs_in(scope, flt).annotate(day=TruncDate("queued_at"))
    days: Any = rows.values("day").annotate(**_group_counts()).order_by("day")
    csat = _group_csat(rows, TruncDate("handoff__queued_at")) if days else {}
    medians = _group_medians(rows, "day") if days else {}
    result = []
    for day in days:
        scores = csat.get(day["day"], {})
        result.append(
            {
                "day": day["day"].isoformat(),
                "handoffs": day["handoffs"],
                "connected": day["connected"],
                "resolved": day["resolved"],
                "abandoned": day["abandoned"],
                "transferred": day["transferred"],
                "repeat_question_rate": _rate(day["repeat"], day["connected"]),
                "abandonment_rate": _rate(day["abandoned"], day["handoffs"]),
                "csat_bot_avg": scores.get("bot"),
                "csat_human_avg": scores.get("human"),
                "median_wait_seconds": medians.get(day["day"]),
            }
        )
    return result


# Breakdown dimensions: the column a group is keyed by (also the filter's value) and its label.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "team": ("team__name", "team__name"),
    "bot": ("conversation__bot__bot_id", "conversation__bot__name"),
    "issue_type": ("conversation__issue_type", "conversation__issue_type"),
    "agent": ("agent__username", "agent__agent__display_name"),
}


def breakdown(*, scope: QuerySet[Handoff], flt: ReportFilter, by: str) -> list[dict[str, Any]]:
    """The report per team, bot, issue type or agent: one GROUP BY aggregate, largest group first.

    Each row has ``key`` (the value the matching filter takes; None for handoffs nobody claimed or of
    an unclassified issue), ``label`` and the metrics of ``handoff_quality`` that are sums or means over
    handoffs: counts, rates, CSAT by phase and the median wait.
    """
    if by not in DIMENSIONS:
        raise ValueError(f"breakdown by one of {', '.join(DIMENSIONS)}, not {by!r}")
    key, label = DIMENSIONS[by]
    rows = handoffs_in(scope, flt)
    groups = (
        rows.values(key, label)
        .annotate(
            **_group_counts(),
            re_escalated=Count("id", filter=Q(status="resolved") & Q(_re_escalated())),
        )
        .order_by("-handoffs", key)
    )
    csat = _group_csat(rows, F(f"handoff__{key}")) if groups else {}
    medians = _group_medians(rows, key) if groups else {}
    result = []
    for group in groups:
        value = group[key] or None
        scores = csat.get(group[key], {})
        bot_avg, human_avg = scores.get("bot"), scores.get("human")
        result.append(
            {
                "key": value,
                "label": group[label] or value,
                "handoffs": group["handoffs"],
                "connected": group["connected"],
                "resolved": group["resolved"],
                "repeat_question_rate": _rate(group["repeat"], group["connected"]),
                "abandonment_rate": _rate(group["abandoned"], group["handoffs"]),
                "transfer_rate": _rate(group["transferred"], group["handoffs"]),
                "re_escalation_rate": _rate(group["re_escalated"], group["resolved"]),
                "csat_bot_avg": bot_avg,
                "csat_human_avg": human_avg,
                "csat_delta": round(human_avg - bot_avg, 2)
                if bot_avg is not None and human_avg is not None
                else None,
                "median_wait_seconds": medians.get(group[key]),
            }
        )
    return result


def previous_period(flt: ReportFilter) -> ReportFilter:
    """The period of equal length just before ``flt``'s, with the same filters (for "change vs")."""
    length = flt.until - flt.since
    return replace(flt, since=flt.since - length, until=flt.since)
