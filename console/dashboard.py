"""Supervisor pages: the quality dashboard, the live floor, the handoff list and one handoff's frame.

Every number comes from ``handoffs.reports`` (the functions behind ``GET /api/v1/reports/handoff-quality``),
so the page, the API and the CSV agree by construction. Supervisors see only their teams' handoffs
(``scope_for``); anybody else gets 403 on every page here and on the floor socket.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from console import partials
from console.dashboard_charts import Chart, bar_chart, line_chart, period_days
from handoffs.api import csv_response
from handoffs.models import (
    OPEN_HANDOFF_STATUSES,
    AgentProfile,
    Bot,
    CsatRating,
    Handoff,
    HandoffStatus,
    MessageWarning,
    Turn,
)
from handoffs.reports import (
    DIMENSIONS,
    ReportFilter,
    breakdown,
    by_day,
    handoff_quality,
    handoffs_in,
    previous_period,
    quality_report,
    report_filter,
    scope_for,
)
from handoffs.selectors import agents_present, handoff_ending, presence_seen_since

SUPERVISORS_ONLY = "The dashboard is for supervisors."
PERIODS = {"7": 7, "14": 14, "30": 30, "90": 90}
DEFAULT_PERIOD = "30"
PAGE_SIZE = 25
TRANSCRIPT_LIMIT = 500
FLOOR = "supervisor/floor.html"
WARNING_LABELS = {
    "repeat_question": "Asked again for something already given",
    "contradicts_commitment": "Contradicted an earlier promise",
}


def supervisor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, with an agent profile that is a supervisor's; the profile is passed to the view."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        profile = getattr(request.user, "agent", None)
        if profile is None or not profile.is_supervisor:
            return HttpResponseForbidden(SUPERVISORS_ONLY)
        return view(request, profile, *args, **kwargs)

    return wrapper


# --- filters --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the filter form shows (strings as typed) and the report filter it means."""

    period: str
    since: str
    until: str
    team: str
    bot: str
    issue_type: str
    agent: str
    status: str
    report: ReportFilter

    def query(self, **override: str) -> str:
        """The query string of these filters (empty values left out), with ``override`` applied."""
        values = {
            "period": self.period if not (self.since or self.until) else "",
            "since": self.since,
            "until": self.until,
            "team": self.team,
            "bot": self.bot,
            "issue_type": self.issue_type,
            "agent": self.agent,
            "status": self.status,
        } | override
        return urlencode({key: value for key, value in values.items() if value})


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def read_filters(request: HttpRequest) -> Filters:
    """Period (last 7/14/30/90 days, or since/until dates), team, bot, issue type, agent, status."""
    get = request.GET
    text = {name: get.get(name, "").strip()[:200] for name in ("team", "bot", "issue_type", "agent")}
    since, until = _day(get.get("since", "")), _day(get.get("until", ""))
    period = get.get("period", DEFAULT_PERIOD)
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    if since or until:
        flt = report_filter(since=since, until=until, **text)
    else:
        now = timezone.now()
        flt = report_filter(since=now - timedelta(days=PERIODS[period]), until=now, **text)
    status = get.get("status", "")
    return Filters(
        period=period,
        since=since.isoformat() if since else "",
        until=until.isoformat() if until else "",
        status=status if status in HandoffStatus.values else "",
        report=flt,
        **text,
    )


def filter_options(profile: AgentProfile, flt: ReportFilter) -> dict[str, Any]:
    """Choices for the form: the supervisor's teams, their bots, agents and the issue types seen."""
    teams = list(profile.teams.order_by("name"))
    issue_types = (
        handoffs_in(scope_for(profile), ReportFilter(since=flt.since, until=flt.until))
        .exclude(conversation__issue_type="")
        .values_list("conversation__issue_type", flat=True)
        .distinct()
        .order_by("conversation__issue_type")
    )
    return {
        "teams": teams,
        "bots": Bot.objects.filter(Q(team__in=teams) | Q(allowed_teams__in=teams))
        .distinct()
        .order_by("name"),
        "agents": AgentProfile.objects.filter(teams__in=teams)
        .select_related("user")
        .distinct()
        .order_by("user__username"),
        "issue_types": list(issue_types[:200]),
        "periods": [(key, f"Last {days} days") for key, days in PERIODS.items()],
        "statuses": HandoffStatus.choices,
    }


# --- KPIs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    kind: str  # count, rate, seconds, score, delta
    better: str  # up, down or "" (neither)
    hint: str


KPIS = (
    Kpi("handoffs", "Handoffs", "count", "", "queued in the period"),
    Kpi("repeat_question_rate", "Repeat questions", "rate", "down", "of connected handoffs"),
    Kpi("csat_human_avg", "CSAT with a person", "score", "up", "1–5, after the handoff"),
    Kpi("csat_delta", "CSAT person − bot", "delta", "up", "bot phase → human phase"),
    Kpi("median_wait_seconds", "Median wait", "seconds", "down", "queued → claimed"),
    Kpi("median_prepare_seconds", "Median preparation", "seconds", "", "claimed → connected"),
    Kpi("median_resolution_seconds", "Median resolution", "seconds", "down", "connected → resolved"),
    Kpi("re_escalation_rate", "Re-escalation", "rate", "down", "back within 72 h of a resolve"),
    Kpi("abandonment_rate", "Abandonment", "rate", "down", "left before a person connected"),
    Kpi("transfer_rate", "Transfers", "rate", "down", "ended in a warm transfer"),
    Kpi("sentiment_delta_avg", "Mood change", "delta", "up", "customer sentiment after − before"),
    Kpi("commitments_broken", "Promises broken", "count", "down", "incl. open ones past due"),
)


def format_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    seconds = round(value)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_value(kind: str, value: float | None) -> str:
    if value is None:
        return "–"
    if kind == "rate":
        return f"{value * 100:.1f} %"
    if kind == "seconds":
        return format_seconds(value)
    if kind == "score":
        return f"{value:.2f}"
    if kind == "delta":
        return f"{value:+.2f}"
    return f"{value:,.0f}"


def _change(kpi: Kpi, now: float | None, before: float | None) -> tuple[str, str]:
    """The change against the previous period as text, and its tone (good, bad, flat or none)."""
    if now is None or before is None:
        return "no comparison", "none"
    difference = now - before
    if kpi.kind == "rate":
        text = f"{difference * 100:+.1f} pp"
    elif kpi.kind in ("count", "seconds"):
        text = f"{difference / before * 100:+.0f} %" if before else ("+∞" if difference else "±0")
    else:
        text = f"{difference:+.2f}"
    if format_value(kpi.kind, now) == format_value(kpi.kind, before) or not kpi.better:
        return text, "flat"  # no change at the precision shown
    rising_is_good = kpi.better == "up"
    return text, "good" if (difference > 0) == rising_is_good else "bad"


def _flat(report: dict[str, Any]) -> dict[str, Any]:
    flat = dict(report)
    for name, count in report["commitments"].items():
        flat[f"commitments_{name}"] = count
    return flat


def kpi_cards(current: dict[str, Any], before: dict[str, Any]) -> list[dict[str, Any]]:
    now, then = _flat(current), _flat(before)
    cards = []
    for kpi in KPIS:
        change, tone = _change(kpi, now[kpi.key], then[kpi.key])
        cards.append(
            {
                "key": kpi.key,
                "label": kpi.label,
                "hint": kpi.hint,
                "value": now[kpi.key],
                "text": format_value(kpi.kind, now[kpi.key]),
                "before": format_value(kpi.kind, then[kpi.key]),
                "change": change,
                "tone": tone,
                "detail": _detail(kpi.key, now),
            }
        )
    return cards


# Every figure of the report, as listed under "All figures" (the KPI cards show the main ones).
FIGURES = (
    ("handoffs", "Handoffs", "count"),
    ("repeat_question_rate", "Repeat-question rate", "rate"),
    ("csat_bot_avg", "CSAT, bot phase", "score"),
    ("csat_human_avg", "CSAT, with a person", "score"),
    ("csat_delta", "CSAT delta (person − bot)", "delta"),
    ("median_wait_seconds", "Median wait", "seconds"),
    ("p90_wait_seconds", "p90 wait", "seconds"),
    ("median_prepare_seconds", "Median preparation", "seconds"),
    ("p90_prepare_seconds", "p90 preparation", "seconds"),
    ("median_resolution_seconds", "Median resolution", "seconds"),
    ("p90_resolution_seconds", "p90 resolution", "seconds"),
    ("re_escalation_rate", "Re-escalation rate", "rate"),
    ("transfer_rate", "Transfer rate", "rate"),
    ("abandonment_rate", "Abandonment rate", "rate"),
    ("sentiment_delta_avg", "Sentiment delta", "delta"),
    ("commitments_open", "Promises open", "count"),
    ("commitments_kept", "Promises kept", "count"),
    ("commitments_broken", "Promises broken", "count"),
)


def all_figures(current: dict[str, Any], before: dict[str, Any]) -> list[dict[str, Any]]:
    now, then = _flat(current), _flat(before)
    return [
        {
            "key": key,
            "label": label,
            "value": now[key],
            "text": format_value(kind, now[key]),
            "before": format_value(kind, then[key]),
        }
        for key, label, kind in FIGURES
    ]


def _detail(key: str, report: dict[str, Any]) -> str:
    if key == "median_wait_seconds":
        return f"p90 {format_seconds(report['p90_wait_seconds'])}"
    if key == "median_prepare_seconds":
        return f"p90 {format_seconds(report['p90_prepare_seconds'])}"
    if key == "median_resolution_seconds":
        return f"p90 {format_seconds(report['p90_resolution_seconds'])}"
    if key in ("csat_human_avg", "csat_delta"):
        bot, human = report["csat_bot_avg"], report["csat_human_avg"]
        return f"bot {format_value('score', bot)} → person {format_value('score', human)}"
    if key == "commitments_broken":
        return f"open {report['commitments_open']} · kept {report['commitments_kept']}"
    return ""


# --- charts ---------------------------------------------------------------------------------------


def charts(rows: list[dict[str, Any]], flt: ReportFilter) -> list[Chart]:
    days = period_days(timezone.localdate(flt.since), timezone.localdate(flt.until))
    by_date = {row["day"]: row for row in rows}

    def series(name: str) -> list[Any]:
        return [by_date.get(day.isoformat(), {}).get(name) for day in days]

    def percent(value: float) -> str:
        return f"{value * 100:g}%"

    def minutes(value: float) -> str:
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes}:{seconds:02d}"

    return [
        bar_chart(
            "Handoffs per day",
            days,
            [value or 0 for value in series("handoffs")],
            [value or 0 for value in series("abandoned")],
            total_label="handoffs",
            part_label="abandoned",
        ),
        line_chart(
            "Repeat questions and abandonment",
            days,
            [
                ("repeat-question rate", "series-a", series("repeat_question_rate")),
                ("abandonment rate", "series-b", series("abandonment_rate")),
            ],
            unit="share",
            fmt=percent,
        ),
        line_chart(
            "CSAT: bot phase and with a person",
            days,
            [("bot", "series-b", series("csat_bot_avg")), ("person", "series-a", series("csat_human_avg"))],
            unit="score 1–5",
            low=1,
            high=5,
        ),
        line_chart(
            "Median wait (queued → claimed, m:ss)",
            days,
            [("median wait", "series-a", series("median_wait_seconds"))],
            unit="seconds",
            fmt=minutes,
        ),
    ]


# --- dashboard ------------------------------------------------------------------------------------

BREAKDOWNS = (
    ("team", "By team", "Team"),
    ("bot", "By bot", "Bot"),
    ("issue_type", "By issue type", "Issue type"),
    ("agent", "By agent", "Agent"),
)


@require_GET
@supervisor_required
def dashboard_page(request: HttpRequest, profile: AgentProfile) -> HttpResponse:
    filters = read_filters(request)
    flt, scope = filters.report, scope_for(profile)
    current = quality_report(scope=scope, flt=flt)
    rows = current.pop("by_day")
    before = handoff_quality(scope=scope, flt=previous_period(flt))
    # The four breakdowns are GROUP BYs of their own: the page asks for them once it is shown.
    breakdowns = [{"by": by, "title": title} for by, title, _ in BREAKDOWNS]
    previous = previous_period(flt)
    context = {
        "profile": profile,
        "filters": filters,
        "options": filter_options(profile, flt),
        "report": current,
        "kpis": kpi_cards(current, before),
        "figures": all_figures(current, before),
        "charts": charts(rows, flt),
        "breakdowns": breakdowns,
        "period": {"since": flt.since, "until": flt.until},
        "previous": {"since": previous.since, "until": previous.until},
        "query": filters.query(),
        "floor": floor_context(profile),
    }
    return render(request, "supervisor/dashboard.html", context)


@require_GET
@supervisor_required
def breakdown_partial(request: HttpRequest, profile: AgentProfile, by: str) -> HttpResponse:
    """One breakdown table (team, bot, issue type or agent) for the dashboard's filters."""
    found = next(((title, column) for key, title, column in BREAKDOWNS if key == by), None)
    if found is None:
        raise Http404("No such breakdown.")
    filters = read_filters(request)
    table = {
        "by": by,
        "title": found[0],
        "column": found[1],
        "rows": [
            row | {"query": filters.query(**{by: row["key"]}) if row["key"] else ""}
            for row in breakdown(scope=scope_for(profile), flt=filters.report, by=by)
        ],
    }
    return render(request, "supervisor/dashboard.html#breakdown", {"table": table})


@require_GET
@supervisor_required
def report_csv(request: HttpRequest, profile: AgentProfile) -> HttpResponse:
    """The ``by_day`` rows of the filtered report: the same CSV as the API's ``format=csv``."""
    filters = read_filters(request)
    return csv_response(by_day(scope=scope_for(profile), flt=filters.report), filename="handoff-quality.csv")


# --- the live floor -------------------------------------------------------------------------------

ACTIVE = (HandoffStatus.PREPARING, HandoffStatus.CONNECTED)
FLOOR_STATES = ("available", "busy", "away", "offline")


def floor_context(profile: AgentProfile) -> dict[str, Any]:
    """Right now, in the supervisor's teams: queue depth and longest wait per team, who is available,
    busy (preparing or talking), away or offline, and the handoffs being prepared."""
    now = timezone.now()
    teams = list(profile.teams.order_by("name"))
    team_ids = [team.id for team in teams]
    open_rows = Handoff.objects.filter(team_id__in=team_ids, status__in=OPEN_HANDOFF_STATUSES)
    counts: dict[int, dict[str, Any]] = {
        row["team_id"]: dict(row)
        for row in open_rows.values("team_id")
        .annotate(
            queued=Count("id", filter=Q(status=HandoffStatus.QUEUED)),
            preparing=Count("id", filter=Q(status=HandoffStatus.PREPARING)),
            connected=Count("id", filter=Q(status=HandoffStatus.CONNECTED)),
            oldest=Min("queued_at", filter=Q(status=HandoffStatus.QUEUED)),
        )
        .order_by()
    }
    people = list(
        AgentProfile.objects.filter(teams__in=team_ids, is_supervisor=False)
        .distinct()
        .select_related("user")
        .prefetch_related("teams")
        .order_by("user__username")
    )
    holding = dict(
        Handoff.objects.filter(status__in=ACTIVE, agent_id__in=[person.user_id for person in people])
        .values("agent_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("agent_id", "n")
    )
    available = set(
        agents_present(now=now).filter(pk__in=[person.pk for person in people]).values_list("pk", flat=True)
    )
    seen_since = presence_seen_since(now)

    def state(person: AgentProfile) -> str:
        if holding.get(person.user_id):
            return "busy"
        if person.pk in available:
            return "available"
        # Away only while their console is still seen; otherwise they have gone: offline.
        away = person.presence == AgentProfile.Presence.AWAY
        return "away" if away and person.last_seen_at and person.last_seen_at >= seen_since else "offline"

    agents: list[dict[str, Any]] = [
        {
            "name": person.name,
            "state": state(person),
            "holding": holding.get(person.user_id, 0),
            "person": person,
        }
        for person in people
    ]
    rows = []
    for team in teams:
        row = counts.get(team.id, {})
        members = [agent for agent in agents if team in agent["person"].teams.all()]
        rows.append(
            {
                "team": team,
                "queued": row.get("queued", 0),
                "preparing": row.get("preparing", 0),
                "connected": row.get("connected", 0),
                "oldest": row.get("oldest"),
                "longest_wait": int((now - row["oldest"]).total_seconds()) if row.get("oldest") else None,
                "states": {
                    name: sum(1 for agent in members if agent["state"] == name) for name in FLOOR_STATES
                },
            }
        )
    preparing = list(
        open_rows.filter(status=HandoffStatus.PREPARING)
        .select_related("team", "agent__agent", "conversation__customer")
        .order_by("prepare_until")[:20]
    )
    waits = [row["longest_wait"] for row in rows if row["longest_wait"] is not None]
    return {
        "teams": rows,
        "agents": agents,
        "states": {name: sum(1 for agent in agents if agent["state"] == name) for name in FLOOR_STATES},
        "queued": sum(row["queued"] for row in rows),
        "longest_wait": max(waits, default=None),
        "oldest": min((row["oldest"] for row in rows if row["oldest"]), default=None),
        "preparing": preparing,
        "now": now,
    }


def floor_frame(profile: AgentProfile) -> str:
    """The floor as a live frame (swapped in by id)."""
    return render_to_string(f"{FLOOR}#floor", {"floor": floor_context(profile), "oob": True})


@require_GET
@supervisor_required
def floor_partial(request: HttpRequest, profile: AgentProfile) -> HttpResponse:
    """The floor alone (what the socket sends), for a refresh without the socket."""
    return render(request, f"{FLOOR}#floor", {"floor": floor_context(profile)})


# --- handoff list ---------------------------------------------------------------------------------


def _csat(phase: str) -> Subquery:
    return Subquery(
        CsatRating.objects.filter(handoff=OuterRef("pk"), phase=phase)
        .order_by("-created_at")
        .values("score")[:1],
        output_field=IntegerField(),
    )


def listed_handoffs(profile: AgentProfile, filters: Filters) -> QuerySet[Handoff]:
    rows = handoffs_in(scope_for(profile), filters.report)
    if filters.status:
        rows = rows.filter(status=filters.status)
    return (
        rows.select_related("team", "agent__agent", "conversation__customer", "conversation__bot")
        .annotate(
            repeats=Count("message_warnings", filter=Q(message_warnings__kind="repeat_question")),
            contradictions=Count(
                "message_warnings", filter=Q(message_warnings__kind="contradicts_commitment")
            ),
            csat_bot=_csat("bot"),
            csat_human=_csat("human"),
        )
        .order_by("-queued_at", "-id")
    )


@require_GET
@supervisor_required
def handoff_list(request: HttpRequest, profile: AgentProfile) -> HttpResponse:
    filters = read_filters(request)
    page = Paginator(listed_handoffs(profile, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    for handoff in page:
        handoff.wait_seconds = (  # type: ignore[attr-defined]
            (handoff.claimed_at - handoff.queued_at).total_seconds() if handoff.claimed_at else None
        )
    context = {
        "profile": profile,
        "filters": filters,
        "options": filter_options(profile, filters.report),
        "page": page,
        "query": filters.query(),
        "dimensions": DIMENSIONS,
    }
    return render(request, "supervisor/handoffs.html", context)


# --- one handoff's frame --------------------------------------------------------------------------


def _handoff_in_scope(profile: AgentProfile, handoff_id: Any) -> Handoff:
    handoff = (
        scope_for(profile)
        .select_related(
            "team",
            "agent__agent",
            "conversation__customer",
            "conversation__bot",
            "previous__team",
            "next__team",
        )
        .filter(pk=handoff_id)
        .first()
    )
    if handoff is None:
        raise Http404("No such handoff in your teams.")  # another team's looks exactly like a missing one
    return handoff


def timeline(handoff: Handoff) -> list[dict[str, Any]]:
    """Queued, claimed, connected, ended: each step with the time since the one before."""
    steps = [
        ("queued", "Escalated and queued", handoff.queued_at, ""),
        ("claimed", "Claimed", handoff.claimed_at, "wait"),
        ("connected", "Connected", handoff.connected_at, "preparation"),
    ]
    if handoff.ended_at:
        key, detail = handoff_ending(handoff)
        label = key.replace("_", " ").capitalize() + (f": {detail}" if detail else "")
        steps.append((key, label, handoff.ended_at, "to the end"))
    result, last = [], None
    for key, label, at, span in steps:
        if at is None:
            continue
        result.append(
            {
                "key": key,
                "label": label,
                "at": at,
                "span": span,
                "duration": format_seconds((at - last).total_seconds()) if last else "",
                "seconds": (at - last).total_seconds() if last else None,
            }
        )
        last = at
    return result


def transcript(handoff: Handoff) -> list[dict[str, Any]]:
    """The conversation's turns up to this handoff's end, each with the warnings raised on it, and
    markers where the handoff was queued and where the person connected."""
    turns = Turn.objects.filter(conversation_id=handoff.conversation_id).order_by("seq")
    if handoff.ended_at:
        turns = turns.filter(occurred_at__lte=handoff.ended_at + timedelta(seconds=1))
    turns = turns.prefetch_related(
        Prefetch("warnings", queryset=MessageWarning.objects.order_by("created_at"), to_attr="shown_warnings")
    )
    lines: list[dict[str, Any]] = []
    marks = [
        ("queued", "Handed off", handoff.queued_at),
        ("connected", "Person connected", handoff.connected_at),
    ]
    pending = [(key, label, at) for key, label, at in marks if at is not None]
    for turn in turns[:TRANSCRIPT_LIMIT]:
        while pending and turn.occurred_at >= pending[0][2]:
            key, label, at = pending.pop(0)
            lines.append({"marker": key, "label": label, "at": at})
        warnings = [
            {
                "kind": warning.kind,
                "label": WARNING_LABELS.get(warning.kind, warning.kind),
                "message": warning.message,
            }
            for warning in getattr(turn, "shown_warnings", [])
        ]
        lines.append({"turn": turn, "warnings": warnings, "this_handoff": turn.handoff_id == handoff.pk})
    for key, label, at in pending:
        lines.append({"marker": key, "label": label, "at": at})
    return lines


MOOD_W, MOOD_H, MOOD_PAD = 560, 120, 14


def mood_trajectory(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The customer's sentiment per message (−1 bottom, 1 top), one step per scored message, with the
    handoff and connect points drawn in the gap where they happened (spread out when they share one)."""
    scored = [
        line["turn"]
        for line in lines
        if "turn" in line and line["turn"].role == "customer" and line["turn"].sentiment is not None
    ]
    step = (MOOD_W - 2 * MOOD_PAD) / max(1, len(scored) - 1)
    points = [
        {
            "x": round(MOOD_PAD + index * step, 1),
            "y": round(MOOD_PAD + (1 - (float(turn.sentiment) + 1) / 2) * (MOOD_H - 2 * MOOD_PAD), 1),
            "score": round(float(turn.sentiment), 2),
            "seq": turn.seq,
        }
        for index, turn in enumerate(scored)
    ]
    gaps: dict[int, list[dict[str, Any]]] = {}  # markers by the number of scored messages before them
    scored_ids, seen = {turn.pk for turn in scored}, 0
    for line in lines:
        if "marker" in line:
            gaps.setdefault(seen, []).append(line)
        elif line["turn"].pk in scored_ids:
            seen += 1
    markers = []
    for before, group in gaps.items():
        for number, line in enumerate(group, start=1):
            share = number / (len(group) + 1)  # spread within the gap
            if not scored:
                x = MOOD_W * share
            elif before == 0:
                x = MOOD_PAD * share
            elif before >= len(scored):
                x = MOOD_W - MOOD_PAD + MOOD_PAD * share
            else:
                x = MOOD_PAD + (before - 1 + share) * step
            # "Handed off" reads leftwards of its line and "Person connected" rightwards, unless an edge is near
            right = x < 90 if line["marker"] == "queued" else x < MOOD_W - 120
            markers.append({"x": round(x, 1), "label": line["label"], "key": line["marker"], "right": right})
    return {
        "width": MOOD_W,
        "height": MOOD_H,
        "mid": MOOD_H / 2,
        "points": points,
        "polyline": " ".join(f"{point['x']},{point['y']}" for point in points),
        "markers": markers,
    }


@require_GET
@supervisor_required
def handoff_frame(request: HttpRequest, profile: AgentProfile, handoff_id: Any) -> HttpResponse:
    handoff = _handoff_in_scope(profile, handoff_id)
    lines = transcript(handoff)
    ratings = {
        rating.phase: rating
        for rating in CsatRating.objects.filter(handoff=handoff).order_by("created_at")  # the latest wins
    }
    frame = handoff.frame or {}
    warnings = [warning for line in lines for warning in line.get("warnings", [])]
    context = {
        "profile": profile,
        "handoff": handoff,
        "customer": handoff.conversation.customer,
        "frame": frame,
        "frame_json": json.dumps(frame, indent=2, ensure_ascii=False, sort_keys=True),
        "timeline": timeline(handoff),
        "lines": lines,
        "turn_count": sum(1 for line in lines if "turn" in line),
        "warning_counts": {
            kind: sum(1 for warning in warnings if warning["kind"] == kind) for kind in WARNING_LABELS
        },
        "mood": mood_trajectory(lines),
        "csat_bot": ratings.get("bot"),
        "csat_human": ratings.get("human"),
        "is_open": handoff.status in OPEN_HANDOFF_STATUSES,
        "next": getattr(handoff, "next", None),
    }
    return render(request, "supervisor/frame.html", context)


@require_GET
@supervisor_required
def handoff_observe(request: HttpRequest, profile: AgentProfile, handoff_id: Any) -> HttpResponse:
    """An open handoff's chat, live over the observe socket (the handoff socket without presence: watching
    is not working), read-only; beside it the supervisor's live actions: whisper to the agent, reassign
    (as a warm transfer), take over."""
    handoff = _handoff_in_scope(profile, handoff_id)
    package = handoff.conversation.context or {}
    scores = {point["seq"]: point["score"] for point in package.get("emotion", {}).get("trajectory", [])}
    lines = [
        turn | {"score": scores.get(turn["seq"]), "at_dt": _when(turn.get("at"))}
        for turn in package.get("transcript", [])
    ]
    context = (
        partials.handoff_core(handoff, profile)
        | partials.notes_part(handoff, profile)
        | partials.supervise_part(handoff, profile)
        | {"transcript": lines, "is_open": handoff.status in OPEN_HANDOFF_STATUSES}
    )
    return render(request, "supervisor/observe.html", context)


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
