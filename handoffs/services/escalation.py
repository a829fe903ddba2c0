"""Escalation: a conversation becomes a queued handoff with a frozen frame, a position and a bounded wait."""

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from handoffs.broadcast import broadcast_on_commit, team_queue_group
from handoffs.clock import iso
from handoffs.context import package as pkg
from handoffs.models import (
    NOT_IN_OVERLAP_WINDOW,
    OPEN_HANDOFF_STATUSES,
    Conversation,
    ConversationStatus,
    Handoff,
    HandoffStatus,
    Team,
)
from handoffs.priority import handoff_priority
from handoffs.scheduling import run_later
from handoffs.schemas import EscalationData
from handoffs.selectors import person_name
from handoffs.services.callbacks import callback_enqueue
from handoffs.services.report_columns import re_escalated_refresh, sentiment_sides_refresh
from handoffs.services.routing import (
    eta_refresh_soon,
    needs_speaker,
    offer_next,
    queued_event,
    route_team,
    speakers_first_until,
    takeback_schedule,
)
from handoffs.services.wait import estimate_wait_seconds
from handoffs.tasks import announce_handoff

RE_ESCALATION_WINDOW = timedelta(hours=72)


def handoff_escalate(
    *,
    conversation: Conversation,
    data: EscalationData,
    at: datetime,
    add_turn: Callable[..., Any],
) -> tuple[Handoff, bool]:
    """Queue a handoff for the conversation; return (handoff, created). The caller holds the row lock."""
    # (a warm transfer in its overlap window is not it: the customer is still with its sender)
    existing = conversation.handoffs.filter(NOT_IN_OVERLAP_WINDOW, status__in=OPEN_HANDOFF_STATUSES).first()
    if existing is not None:
        return existing, False

    for turn in _missing_transcript_turns(conversation, data):
        add_turn(
            conversation, role=turn.role, text=turn.text, at=turn.occurred_at or at, external_id=turn.id or ""
        )
    context = conversation.context
    pkg.set_escalation(
        context,
        reason=data.reason,
        reason_code=data.reason_code,
        focus=data.focus or "",
        urgency=data.urgency,
        skills=list(data.skills),
        at=iso(at),
    )
    if data.summary and not context["summary"]:
        context["summary"] = data.summary

    team = route_team(bot=conversation.bot, skills=list(data.skills), language=data.language or "")
    previous = conversation.handoffs.order_by("-queued_at").first()
    re_escalation = (
        previous is not None
        and previous.ended_at is not None
        and (at - previous.ended_at <= RE_ESCALATION_WINDOW)
    )
    priority = handoff_priority(
        urgency=data.urgency,
        emotion=context["emotion"]["current"],
        trend=context["emotion"]["trend"],
        complexity=conversation.complexity,
        reason_code=data.reason_code,
        re_escalation=re_escalation,
    )
    queue_key = priority.queue_key(queued_at=at)
    position = queue_position_for(team_id=team.id, queue_key=queue_key)
    handoff = Handoff.objects.create(
        conversation=conversation,
        team=team,
        previous=None,
        status=HandoffStatus.QUEUED,
        reason=data.reason,
        reason_code=data.reason_code,
        focus=data.focus or "",
        urgency=data.urgency,
        skills=list(data.skills),
        language=data.language or "",
        speakers_first_until=speakers_first_until(team=team, language=data.language or "", at=at),
        base_priority=priority.base,
        priority_reasons=priority.reasons,
        queue_key=queue_key,
        queue_position_at_queue=position,
        estimated_wait_seconds=estimate_wait_seconds(team=team, position=position),
        queued_at=at,
        frame=pkg.frame_of(context),
    )
    sentiment_sides_refresh(Handoff.objects.filter(pk=handoff.pk))  # the customer's mood so far
    # this conversation's earlier handoffs resolved within the last 72 h now count as re-escalated
    re_escalated_refresh(conversation.handoffs.filter(status=HandoffStatus.RESOLVED).exclude(pk=handoff.pk))
    pkg.record_handoff(context, package_entry(handoff))
    conversation.status = ConversationStatus.QUEUED
    callback_enqueue(
        conversation=conversation,
        handoff=handoff,
        type="handoff.queued",
        data={"queue_position": position, "estimated_wait_seconds": handoff.estimated_wait_seconds},
        at=at,
    )
    if team.routing_mode == Team.RoutingMode.OFFER:
        offer_next(handoff)  # announces the row to the person offered it (or to the pool)
    else:
        broadcast_on_commit(team_queue_group(team.id), queued_event(handoff, now=handoff.queued_at))
        if needs_speaker(handoff) and handoff.speakers_first_until is not None:
            delay = (handoff.speakers_first_until - timezone.now()).total_seconds()
            run_later(announce_handoff, str(handoff.id), delay=max(0.0, delay))
    takeback_schedule(handoff)
    eta_refresh_soon(team.id)  # a more urgent arrival moves others back
    return handoff, True


def _missing_transcript_turns(conversation: Conversation, data: EscalationData) -> list[Any]:
    """Turns of ``data.transcript`` the conversation does not hold yet (for bots that did not stream)."""
    if not data.transcript:
        return []
    known = {(item["role"], item["text"]) for item in conversation.context["transcript"]}
    return [turn for turn in data.transcript if (turn.role, turn.text) not in known]


def queue_position_for(*, team_id: int, queue_key: float) -> int:
    ahead = Handoff.objects.filter(
        team_id=team_id, status=HandoffStatus.QUEUED, queue_key__gt=queue_key
    ).count()
    return ahead + 1


def queue_position(handoff: Handoff) -> int | None:
    if handoff.status != HandoffStatus.QUEUED:
        return None
    return queue_position_for(team_id=handoff.team_id, queue_key=handoff.queue_key)


def package_entry(handoff: Handoff) -> dict[str, Any]:
    """This handoff as listed in the package's ``handoffs`` (the conversation's handoff history)."""
    return {
        "id": str(handoff.id),
        "status": handoff.status,
        "team": handoff.team.name,
        "agent": _agent_name(handoff),
        "reason": handoff.reason,
        "note": handoff.note,
        "resolution": handoff.resolution,
        "queued_at": iso(handoff.queued_at),
        "claimed_at": iso(handoff.claimed_at) if handoff.claimed_at else None,
        "connected_at": iso(handoff.connected_at) if handoff.connected_at else None,
        "ended_at": iso(handoff.ended_at) if handoff.ended_at else None,
    }


def handoff_public(
    handoff: Handoff,
    *,
    conversation: Conversation,
    with_announcement: bool = False,
    just_queued: bool = False,
) -> dict[str, Any]:
    """The handoff as a bot sees it. ``just_queued``: created in this very transaction, so the position
    and wait it was queued with are still current (no need to count and estimate again)."""
    position: int | None
    wait: int | None
    if just_queued:
        position, wait = handoff.queue_position_at_queue, handoff.estimated_wait_seconds
    else:
        position = queue_position(handoff)
        wait = estimate_wait_seconds(team=handoff.team, position=position) if position else None
    body: dict[str, Any] = {
        "id": str(handoff.id),
        "status": handoff.status,
        "queue_position": position,
        "estimated_wait_seconds": wait,
        "agent": _agent_name(handoff),
    }
    if with_announcement:
        body["announcement"] = announcement(
            reason_code=handoff.reason_code,
            team=handoff.team.name,
            position=position,
            wait_seconds=wait,
            language=handoff.language or conversation.customer.locale,
        )
    return body


def _agent_name(handoff: Handoff) -> str | None:
    return person_name(handoff.agent) if handoff.agent is not None else None


_WHY = {
    "en": {
        "authority_required": "This needs someone who can approve it,",
        "customer_request": "As you asked,",
        "frustration": "I want to make sure this gets properly sorted,",
        "complexity": "This needs a closer look than I can give it,",
        "repeated_failure": "What I've tried hasn't fixed this,",
        "out_of_scope": "This is outside what I can handle,",
        "language": "So you can carry on in your language,",
        "other": "To get this resolved,",
    },
    "es": {
        "authority_required": "Esto necesita a alguien que pueda aprobarlo,",
        "customer_request": "Como nos pidió,",
        "frustration": "Quiero asegurarme de que esto se resuelva bien,",
        "complexity": "Esto necesita una revisión más detallada de la que puedo dar,",
        "repeated_failure": "Lo que he intentado no lo ha resuelto,",
        "out_of_scope": "Esto está fuera de lo que puedo gestionar,",
        "language": "Para que pueda continuar en su idioma,",
        "other": "Para resolver esto,",
    },
}


def announcement(
    *, reason_code: str, team: str, position: int | None, wait_seconds: int | None, language: str
) -> str:
    """A sentence the bot may say: why, that nothing needs repeating, and the bounded wait."""
    lang = "es" if language.lower().startswith("es") else "en"
    why = _WHY[lang].get(reason_code, _WHY[lang]["other"])
    seconds = wait_seconds or 60
    minutes = math.ceil(seconds / 60)
    if lang == "es":
        wait = (
            "menos de un minuto"
            if seconds < 60
            else f"unos {minutes} minuto{'s' if minutes > 1 else ''} como máximo"
        )
        place = f" Es el número {position} en la fila." if position else ""
        return (
            f"{why} le paso con un especialista del equipo {team}, que verá todo lo que hemos hablado, "
            f"así que no tendrá que repetir nada.{place} La espera será de {wait}."
        )
    wait = (
        "under a minute"
        if seconds < 60
        else f"no more than about {minutes} minute{'s' if minutes > 1 else ''}"
    )
    place = f" You're number {position} in line." if position else ""
    return (
        f"{why} I'm bringing in a specialist from our {team} team who will see everything we've discussed, "
        f"so you won't need to repeat yourself.{place} The wait should be {wait}."
    )
