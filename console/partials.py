"""What the console renders, for views and sockets alike: page contexts and the live frames.

A live frame is a template partial the htmx ws extension swaps in by id (``hx-swap-oob``); views render
the same partials inside whole pages. No HTML is built here, only chosen.
"""

import json
import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from handoffs import selectors
from handoffs.errors import NotFound
from handoffs.models import (
    AgentProfile,
    AssistItem,
    Commitment,
    Handoff,
    HandoffStatus,
    PrivateNote,
    Team,
    Turn,
    TurnRole,
)
from handoffs.services.agents import team_scopes
from handoffs.services.assist import assist_items_for
from handoffs.services.handoffs import pending_transfer
from handoffs.services.handover import handover_colleagues, handover_plan
from handoffs.services.selfmodel import selfmodel_read
from handoffs.services.transfers import (
    is_supervisor_of,
    note_shown_on,
    private_notes_for,
    private_notes_readable,
    receiver_of,
)

QUEUE = "console/queue.html"
HANDOFF = "console/handoff.html"


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


# --- queue ----------------------------------------------------------------------------------------


def queue_context(profile: AgentProfile) -> dict[str, Any]:
    now = timezone.now()
    rows = [selectors.queue_item_public(row, now=now) for row in selectors.queue_for_agent(agent=profile)]
    return {
        "queue": [_row(item) for item in rows],
        "mine": selectors.active_handoffs_for_agent(agent=profile),
        "profile": profile,
    }


def _row(item: dict[str, Any]) -> dict[str, Any]:
    return item | {"queued_at_dt": _when(item["queued_at"])}


def _language_first(item: dict[str, Any], languages: list[str]) -> bool:
    """Whether this person must wait for the language-first window (see handoffs.services.routing)."""
    until = _when(item.get("speakers_first_until"))
    first = selectors.speaker_first(item.get("language") or "", until=until, now=timezone.now())
    return bool(first) and first not in {selectors.language_base(lang) for lang in languages}


def queue_resync(profile: AgentProfile) -> str:
    """The whole queue list, replacing whatever a (re)connecting browser shows."""
    return render_to_string(f"{QUEUE}#queue-list", queue_context(profile) | {"oob": True})


@lru_cache(maxsize=256)
def _queue_row_frame(item_json: str) -> str:
    """A new row's frame depends on the row alone (no user, no request), so the fifty consoles of a team in
    one process render it once: rendering per socket was half the cost of a fan-out (make bench)."""
    return render_to_string(f"{QUEUE}#queue-row-oob", {"item": _row(json.loads(item_json))})


def queue_event(event: dict[str, Any], *, username: str, languages: list[str]) -> str:
    """A team-queue event as a frame: a new row, or a row leaving the queue."""
    if event["type"] == "handoff.queued":
        item = event["item"]
        if item.get("reserved_for") not in (None, username):
            return ""  # a transfer reserved for a colleague
        if item.get("offered_to") not in (None, username):
            # offered to a colleague right now: not in this queue (a row shown before the offer leaves)
            return render_to_string(f"{QUEUE}#queue-row-gone", {"handoff_id": event["handoff_id"]})
        if _language_first(item, languages):
            return ""  # announced again to everyone when the language-first window ends
        return _queue_row_frame(json.dumps(item, sort_keys=True))
    if (
        event["type"] in ("handoff.updated", "handoff.removed")
        and event.get("status") != HandoffStatus.QUEUED
    ):
        return render_to_string(f"{QUEUE}#queue-row-gone", {"handoff_id": event["handoff_id"]})
    return ""


# --- one handoff ----------------------------------------------------------------------------------


def handoff_core(handoff: Handoff, profile: AgentProfile) -> dict[str, Any]:
    """What every part of the handoff page needs: who is looking, what they may do, the state panel.

    Live pushes and partial responses render from this alone; the whole page adds the rest (below), so a
    state change pushed to every watching socket does not reread, and audit, the customer's beliefs."""
    is_mine = handoff.agent_id == profile.user_id
    live = handoff.status in (HandoffStatus.PREPARING, HandoffStatus.CONNECTED)
    overlap = handoff.overlap_until is not None
    can_claim = handoff.status == HandoffStatus.QUEUED and handoff.reserved_for_id in (None, profile.user_id)
    pending = pending_transfer(handoff) if live else None
    supervisor = is_supervisor_of(profile, handoff)
    receiving = overlap and (receiver_of(handoff) == profile.user_id or can_claim)
    sending = pending is not None and is_mine
    by_supervisor = bool(pending is not None and pending.frame.get("transfer", {}).get("by_supervisor"))
    notes_readable = private_notes_readable(handoff, profile)
    can_act = is_mine and live and not overlap
    return {
        "handoff": handoff,
        "profile": profile,
        "package": handoff.conversation.context,
        "customer": handoff.conversation.customer,
        "is_mine": is_mine,
        "can_claim": can_claim and not overlap,  # a transfer in its overlap window is taken over instead
        "can_act": can_act,
        # the warm transfer's overlap window (handoffs.services.transfers)
        "overlap": overlap,
        "transfer": handoff.frame.get("transfer") if handoff.previous_id else None,
        "pending": pending,
        "can_take_over": receiving,
        "can_cancel_transfer": (sending and not by_supervisor) or (pending is not None and supervisor),
        "is_supervisor_here": supervisor,
        "notes_readable": notes_readable,
        "whispering": supervisor and not is_mine and not sending and not (overlap and receiving),
        "whisper_to": _whisper_to(handoff),
        "can_note": notes_readable
        and (
            (overlap and receiver_of(handoff) == profile.user_id)
            or sending
            or (supervisor and not is_mine and (live or overlap))
        ),
        # what the page was built for: a live state that means otherwise makes console.js reload it
        "page_mode": f"{int(can_act)}{int(overlap)}{int(pending is not None)}{int(notes_readable)}",
        "timeline": [step | {"at_dt": _when(step["at"])} for step in selectors.handoff_timeline(handoff)],
        "ending": [word.replace("_", " ") for word in selectors.handoff_ending(handoff)],
        "priority": selectors.priority_now(handoff),
        "now": timezone.now(),
    }


def _whisper_to(handoff: Handoff) -> str:
    """Whom a supervisor's whisper on this page reaches: whoever the customer is with."""
    holder = (
        handoff.previous.agent if handoff.overlap_until is not None and handoff.previous else handoff.agent
    )
    return selectors.person_name(holder) if holder is not None else ""


def supervise_part(handoff: Handoff, profile: AgentProfile) -> dict[str, Any]:
    """A supervisor's reassign choices: their teams' queues and the people of the handoff's team."""
    if not is_supervisor_of(profile, handoff):
        return {}
    return {
        "supervised_teams": profile.teams.order_by("name"),
        "reassign_colleagues": AgentProfile.objects.filter(teams=handoff.team_id)
        .exclude(user_id__in=[profile.user_id, handoff.agent_id or 0])
        .select_related("user")
        .distinct(),
    }


def notes_part(handoff: Handoff, profile: AgentProfile) -> dict[str, Any]:
    """The private notes this person may read on this page (nothing for those who may not)."""
    notes = private_notes_for(handoff) if private_notes_readable(handoff, profile) else []
    return {"notes": [_note(note) for note in notes]}


def _note(note: PrivateNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "kind": note.kind,
        "author": note.author_name,
        "author_id": note.author_id,
        "text": note.text,
        "at_dt": note.created_at,
    }


def note_event(handoff_id: Any, profile: AgentProfile, note_id: int) -> str:
    """A new private note, for a socket whose person may read it on this page; "" for everyone else."""
    try:
        handoff = _fresh(handoff_id, profile)
    except NotFound:
        return ""
    note = PrivateNote.objects.filter(pk=note_id).first()
    if note is None or not note_shown_on(note, handoff) or not private_notes_readable(handoff, profile):
        return ""
    return render_to_string(f"{HANDOFF}#note-line-oob", {"note": _note(note), "profile": profile})


def transcript_part(handoff: Handoff) -> dict[str, Any]:
    conversation = handoff.conversation
    package = conversation.context
    scores = {point["seq"]: point["score"] for point in package["emotion"]["trajectory"]}
    authors = _agent_authors(conversation)
    return {
        "transcript": [
            turn
            | {
                "score": scores.get(turn["seq"]),
                "at_dt": _when(turn["at"]),
                "author": authors.get(turn["seq"]),
            }
            for turn in package["transcript"]
        ]
    }


def beliefs_part(handoff: Handoff, profile: AgentProfile) -> dict[str, Any]:
    """The customer's beliefs this person may see (a read that audits sensitive beliefs)."""
    scopes = team_scopes(profile)
    beliefs = selfmodel_read(
        customer=handoff.conversation.customer,
        scopes=scopes,
        actor_type="agent",
        actor_ref=profile.user.get_username(),
    )
    return {
        "beliefs": [
            belief | {"updated_at_dt": _when(belief["updated_at"]), "value_json": json.dumps(belief["value"])}
            for belief in beliefs
        ],
        "writable_scopes": sorted(scopes),
    }


def commitments_part(handoff: Handoff) -> dict[str, Any]:
    """The package's commitments, each with its row's id (for the tracker's buttons)."""
    conversation = handoff.conversation
    rows = {
        (row.source, row.seq, row.text): row.pk
        for row in Commitment.objects.filter(conversation=conversation).only("source", "seq", "text")
    }
    return {
        "commitments": [
            item | {"id": rows.get((item.get("source"), item.get("seq"), item.get("text")))}
            for item in conversation.context["commitments"]
        ]
    }


def handoff_context(handoff: Handoff, profile: AgentProfile) -> dict[str, Any]:
    """Everything the handoff page shows, most important first."""
    core = handoff_core(handoff, profile)
    return (
        core
        | transcript_part(handoff)
        | beliefs_part(handoff, profile)
        | commitments_part(handoff)
        | notes_part(handoff, profile)
        | supervise_part(handoff, profile)
        | {
            "assist_items": assist_items_for(handoff) if core["is_mine"] else [],
            "frame_handoffs": [
                entry | {"queued_at_dt": _when(entry.get("queued_at"))}
                for entry in core["package"]["handoffs"]
                if entry["id"] != str(handoff.id)
            ],
            "previous": handoff.previous,
            "teams": Team.objects.exclude(pk=handoff.team_id).order_by("name"),
            "colleagues": AgentProfile.objects.filter(teams__in=profile.teams.all())
            .exclude(pk=profile.pk)
            .select_related("user")
            .distinct(),
        }
    )


def _agent_authors(conversation: Any) -> dict[int, str]:
    """Who wrote each agent turn (the package's transcript has roles, not people): seq -> display name."""
    turns = Turn.objects.filter(conversation=conversation, role=TurnRole.AGENT, author__isnull=False)
    return {turn.seq: selectors.person_name(turn.author) for turn in turns.select_related("author__agent")}


def _fresh(handoff_id: Any, profile: AgentProfile) -> Handoff:
    return selectors.handoff_for_agent(agent=profile, handoff_id=handoff_id)


def handoff_resync(handoff_id: Any, profile: AgentProfile) -> str:
    """State and the whole chat log, replacing what a (re)connecting browser shows."""
    handoff = _fresh(handoff_id, profile)
    context = handoff_core(handoff, profile) | transcript_part(handoff) | {"oob": True}
    html = render_to_string(f"{HANDOFF}#state", context) + render_to_string(f"{HANDOFF}#chat-log", context)
    if context["notes_readable"]:
        html += render_to_string(f"{HANDOFF}#note-list", context | notes_part(handoff, profile))
    return html


def handoff_state_event(handoff_id: Any, profile: AgentProfile) -> str:
    try:
        handoff = _fresh(handoff_id, profile)
    except NotFound:  # a warm transfer its sender cancelled (the pending handoff is gone)
        return render_to_string(f"{HANDOFF}#state-withdrawn", {})
    context = handoff_core(handoff, profile) | {"oob": True}
    return render_to_string(f"{HANDOFF}#state", context)


def chat_line_event(event: dict[str, Any], *, customer: Any = None) -> str:
    line = {
        "seq": event["seq"],
        "role": event["role"],
        "text": event["text"],
        "at_dt": _when(event["at"]),
        "score": event.get("score"),
        "author": event.get("author"),  # an agent turn's display name, when the event carries it
    }
    return render_to_string(f"{HANDOFF}#chat-line-oob", {"turn": line, "customer": customer})


def assist_event(handoff_id: Any, profile: AgentProfile, item_id: int) -> str:
    """A new assist item for the agent holding the handoff (others watching get nothing)."""
    handoff = _fresh(handoff_id, profile)
    if handoff.agent_id != profile.user_id:
        return ""
    item = AssistItem.objects.filter(pk=item_id, handoff=handoff).first()
    if item is None:
        return ""
    html = render_to_string(
        f"{HANDOFF}#assist-item-oob", {"item": {"id": item.pk, "kind": item.kind, **item.payload}}
    )
    if item.kind == AssistItem.Kind.COMMITMENT_UPDATE:
        context = handoff_core(handoff, profile) | commitments_part(handoff) | {"oob": True}
        html += render_to_string(f"{HANDOFF}#commitments", context)
    return html


# --- shift handover -------------------------------------------------------------------------------


def handover_context(
    profile: AgentProfile,
    *,
    edits: dict[str, tuple[str, str]] | None = None,
    key: str = "",
    away: bool = True,
) -> dict[str, Any]:
    """The handover page: the agent's handoffs most critical first, each with its snapshot and target.

    ``edits`` (handoff id → (snapshot, target)) are what the agent sent when the handover was refused, so a
    readable error never throws their writing away; a handoff claimed since then shows its fresh draft."""
    edits = edits or {}
    rows = []
    for item in handover_plan(agent=profile):
        handoff_id = str(item.handoff.id)
        snapshot, target = edits.get(handoff_id, (item.snapshot.text(), item.default_target))
        rows.append(
            {
                "item": item,
                "handoff": item.handoff,
                "customer": item.handoff.conversation.customer,
                "emotion": item.handoff.conversation.context["emotion"],
                "other_reasons": [r for r in item.reasons if r not in item.fragility.reasons],
                "snapshot": snapshot,
                "rows": _rows_for(snapshot),
                "target": target,
            }
        )
    return {
        "rows": rows,
        "teams": list(profile.teams.all()),
        "colleagues": handover_colleagues(agent=profile),
        "key": key or uuid.uuid4().hex,
        "away": away,
        "profile": profile,
    }


def _rows_for(text: str, *, width: int = 95) -> int:
    """Enough textarea rows for the draft as it wraps at about ``width`` characters, plus one to add to."""
    lines = sum(1 + len(line) // width for line in text.splitlines())
    return min(18, max(5, lines + 1))
