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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from handoffs.models import AgentProfile, Commitment, Handoff, MessageWarning


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
    # PostgreSQL text cannot hold U+0000; a filter containing it names nothing, so it is dropped here
    # (the API refuses it earlier with a 422; the dashboard's GET form just shows no match).
    team, bot, issue_type, agent = (value.replace("\x00", "") for value in (team, bot, issue_type, agent))
    return ReportFilter(since=start, until=end, team=team, bot=bot, issue_type=issue_type, agent=agent)


def _moment(value: datetime | date, *, end_of_day: bool) -> datetime:
    """An aware moment in UTC. Python accepts offsets up to ±24 h, PostgreSQL only up to ±15:59, so any
    offset is resolved here; a moment beyond the calendar's ends is clamped to it."""
    if isinstance(value, datetime):
        moment = value if timezone.is_aware(value) else timezone.make_aware(value)
    else:
        moment = timezone.make_aware(
            datetime.combine(value, datetime.max.time() if end_of_day else datetime.min.time())
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.max if moment.year > 1 else datetime.min).replace(tzinfo=UTC)


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
    # The team ids as literals: the planner then knows how many rows a report reads (a subquery over the
    # membership table hides it and turns hash joins into nested loops on 100,000 handoffs).
    return Handoff.objects.filter(team_id__in=list(profile.teams.values_list("id", flat=True)))


@contextmanager
def _analytic() -> Iterator[None]:
    """Report queries on PostgreSQL run in a transaction with room to hash and sort in memory (the
    default 4 MB spills a 100,000-handoff GROUP BY to disk) and without JIT (compiling takes longer
    than these queries run)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL jit = off")
        yield


class Percentile(Func):
    """PostgreSQL ``percentile_cont(p) WITHIN GROUP (ORDER BY expr)``."""

    function = "percentile_cont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    contains_aggregate = True

    def __init__(self, expression: Any, percentile: float) -> None:
        super().__init__(expression, percentile=percentile)

    def get_group_by_cols(self) -> list[Any]:
        return []  # an aggregate: its inputs must not become GROUP BY columns


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


def _epoch(expression: Any) -> Func:
    return Func(expression, function="EXTRACT", template="EXTRACT(EPOCH FROM %(expressions)s)")


@_analytic()
def handoff_quality(*, scope: QuerySet[Handoff], flt: ReportFilter) -> dict[str, Any]:
    """Every metric of docs/metrics.md over the period's handoffs (``quality_report`` without the days)."""
    report = _quality(handoffs_in(scope, flt), flt)
    del report["by_day"]
    return report


@_analytic()
def quality_report(*, scope: QuerySet[Handoff], flt: ReportFilter) -> dict[str, Any]:
    """``handoff_quality`` and its ``by_day`` rows from one set of queries: what the API answers and the
    dashboard shows. The totals are sums of the per-day counts (exact), so one GROUP BY over the
    period serves both; only the percentiles need a pass of their own."""
    return _quality(handoffs_in(scope, flt), flt)


def _quality(rows: QuerySet[Handoff], flt: ReportFilter) -> dict[str, Any]:
    days = _day_groups(rows)
    totals = {
        name: sum(day[name] for day in days)
        for name in (
            "handoffs",
            "connected",
            "resolved",
            "abandoned",
            "transferred",
            "repeat",
            "re_escalated",
            "bot_sum",
            "bot_n",
            "human_sum",
            "human_n",
        )
    }
    durations, sentiment_delta = _period_aggregates(rows)
    wait, prepare, resolution = durations["wait"], durations["prepare"], durations["resolution"]
    bot_avg, human_avg = _csat_mean(totals, "bot"), _csat_mean(totals, "human")
    return {
        "handoffs": totals["handoffs"],
        "repeat_question_rate": _rate(totals["repeat"], totals["connected"]),
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
        "re_escalation_rate": _rate(totals["re_escalated"], totals["resolved"]),
        "transfer_rate": _rate(totals["transferred"], totals["handoffs"]),
        "abandonment_rate": _rate(totals["abandoned"], totals["handoffs"]),
        "sentiment_delta_avg": sentiment_delta,
        "commitments": _commitments(rows),
        "by_day": _day_rows(rows, days),
    }


def _period_aggregates(rows: QuerySet[Handoff]) -> tuple[dict[str, dict[str, float | None]], float | None]:
    """Median and p90 of the wait, the preparation and the resolution, and the sentiment delta: one
    pass on PostgreSQL (six percentile_cont and one AVG over the same rows; a span that did not happen
    is NULL and left out)."""
    if connection.vendor != "postgresql":
        durations = {
            "wait": _durations(rows, "queued_at", "claimed_at"),
            "prepare": _durations(rows, "claimed_at", "connected_at"),
            "resolution": _durations(rows, "connected_at", "ended_at", only=Q(status="resolved")),
        }
        return durations, _round3(rows.aggregate(sentiment=_sentiment_delta())["sentiment"])
    spans = {
        "wait": _epoch(_seconds("queued_at", "claimed_at")),
        "prepare": _epoch(_seconds("claimed_at", "connected_at")),
        "resolution": Case(
            When(status="resolved", then=_epoch(_seconds("connected_at", "ended_at"))),
            output_field=FloatField(),
        ),
    }
    aggregates = {
        f"{name}_{label}": Percentile(span, share)
        for name, span in spans.items()
        for label, share in (("p50", 0.5), ("p90", 0.9))
    }
    result = rows.aggregate(**aggregates, sentiment=_sentiment_delta())
    durations = {
        name: {label: _round1(result[f"{name}_{label}"]) for label in ("p50", "p90")} for name in spans
    }
    return durations, _round3(result["sentiment"])


def _csat_mean(group: dict[str, Any], phase: str) -> float | None:
    """The mean rating of ``phase`` in a group (or the totals), from its rating sum and count (exact)."""
    count = group[f"{phase}_n"]
    return round(group[f"{phase}_sum"] / count, 2) if count else None


def _round1(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _sentiment_delta() -> Avg:
    """Per connected handoff, the mean customer sentiment after connect minus the mean before the
    escalation, averaged over the handoffs with scored customer turns on both sides: an aggregate over
    the sums and counts the turn service stores on each handoff (``sentiment_sides_refresh``), so the
    period's handoffs are read once and no turn is."""
    per_handoff = ExpressionWrapper(
        F("sentiment_after_sum") / F("sentiment_after_count")
        - F("sentiment_before_sum") / F("sentiment_before_count"),
        output_field=FloatField(),
    )
    both_sides = Q(connected_at__isnull=False, sentiment_before_count__gt=0, sentiment_after_count__gt=0)
    return Avg(per_handoff, filter=both_sides, output_field=FloatField())


def _round3(value: float | None) -> float | None:
    return round(float(value), 3) if value is not None else None


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


def _group_counts() -> dict[str, Any]:
    """The counting aggregates shared by ``by_day`` and ``breakdown`` (one row per group)."""
    return {
        "handoffs": Count("id"),
        "connected": Count("id", filter=Q(connected_at__isnull=False)),
        "resolved": Count("id", filter=Q(status="resolved")),
        "abandoned": Count("id", filter=Q(status="abandoned")),
        "transferred": Count("id", filter=Q(status="transferred")),
        "repeat": Count("id", filter=Q(connected_at__isnull=False) & Q(pk__in=_repeat_handoffs())),
        # re-escalations and ratings as the services store them on the handoff (report_columns.py)
        "re_escalated": Count("id", filter=Q(status="resolved", re_escalated=True)),
        "bot_sum": Sum("csat_bot_sum"),
        "bot_n": Sum("csat_bot_count"),
        "human_sum": Sum("csat_human_sum"),
        "human_n": Sum("csat_human_count"),
    }


def _group_counts_and_median() -> dict[str, Any]:
    """``_group_counts``, and on PostgreSQL the median wait in the same GROUP BY (``wait_p50``)."""
    if connection.vendor == "postgresql":
        return _group_counts() | {"wait_p50": Percentile(_wait_epoch(), 0.5)}
    return _group_counts()


def _group_medians(rows: QuerySet[Handoff], group: str, groups: Any) -> dict[Any, float | None]:
    """Median wait per ``group`` value: already in ``groups`` on PostgreSQL (percentile_cont)."""
    if connection.vendor == "postgresql":
        return {row[group]: _round1(row["wait_p50"]) for row in groups}
    # Embedded SQLite (demo-sized): no percentile aggregate, so the waits are sorted here.
    waits: dict[Any, list[float]] = {}
    for key, queued, claimed in rows.filter(claimed_at__isnull=False).values_list(
        group, "queued_at", "claimed_at"
    ):
        waits.setdefault(key, []).append((claimed - queued).total_seconds())
    return {key: _percentile(sorted(values), 0.5) for key, values in waits.items()}


def _day_groups(rows: QuerySet[Handoff]) -> list[dict[str, Any]]:
    """The period's handoffs per day queued: every count, the rating sums and, on PostgreSQL, the
    median wait, in one GROUP BY."""
    groups: Any = (
        rows.annotate(day=TruncDate("queued_at"))
        .values("day")
        .annotate(**_group_counts_and_median())
        .order_by("day")
    )
    return list(groups)


def _day_rows(rows: QuerySet[Handoff], days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    medians = _group_medians(rows.annotate(day=TruncDate("queued_at")), "day", days) if days else {}
    return [
        {
            "day": day["day"].isoformat(),
            "handoffs": day["handoffs"],
            "connected": day["connected"],
            "resolved": day["resolved"],
            "abandoned": day["abandoned"],
            "transferred": day["transferred"],
            "repeat_question_rate": _rate(day["repeat"], day["connected"]),
            "abandonment_rate": _rate(day["abandoned"], day["handoffs"]),
            "csat_bot_avg": _csat_mean(day, "bot"),
            "csat_human_avg": _csat_mean(day, "human"),
            "median_wait_seconds": medians.get(day["day"]),
        }
        for day in days
    ]


@_analytic()
def by_day(*, scope: QuerySet[Handoff], flt: ReportFilter) -> list[dict[str, Any]]:
    """One row per day of the period that has handoffs: counts, the main rates, CSAT by phase and the
    median wait, each aggregated by the database (GROUP BY the day the handoff was queued)."""
    rows = handoffs_in(scope, flt)
    return _day_rows(rows, _day_groups(rows))


# Breakdown dimensions: the column a group is keyed by (also the filter's value) and its label.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "team": ("team__name", "team__name"),
    "bot": ("conversation__bot__bot_id", "conversation__bot__name"),
    "issue_type": ("conversation__issue_type", "conversation__issue_type"),
    "agent": ("agent__username", "agent__agent__display_name"),
}


@_analytic()
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
    groups = rows.values(key, label).annotate(**_group_counts_and_median()).order_by("-handoffs", key)
    medians = _group_medians(rows, key, groups) if groups else {}
    result = []
    for group in groups:
        value = group[key] or None
        bot_avg, human_avg = _csat_mean(group, "bot"), _csat_mean(group, "human")
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
