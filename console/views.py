"""Console pages: thin views over handoffs.selectors and handoffs.services.

Every form works as a plain POST and, with htmx, as an ``hx-post``: errors come back as a readable flash
message (409/422, swapped in place; see console.js's response handling), successes redirect or re-render
the partial the page shows.
"""

import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from console import partials
from handoffs import ratelimits, selectors
from handoffs.errors import DomainError, InvalidInput, NotFound, RateLimited
from handoffs.models import NOTE_MAX_CHARS, AgentProfile
from handoffs.services.agents import agent_presence_set
from handoffs.services.assist import commitment_mark
from handoffs.services.drafts import draft_check
from handoffs.services.handoffs import (
    handoff_claim,
    handoff_connect,
    handoff_connect_due,
    handoff_message_send,
    handoff_resolve,
    handoff_return_to_bot,
    handoff_transfer,
)
from handoffs.services.handover import HandoverChoice, handover_apply
from handoffs.services.selfmodel import agent_observation_record
from handoffs.services.transfers import (
    handoff_take_over,
    private_note_add,
    supervisor_reassign,
    transfer_cancel,
)

MAX_TEXT = 5000


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in and holding an agent profile; the profile is passed to the view."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        profile = getattr(request.user, "agent", None)
        if profile is None:
            return HttpResponseForbidden("Only support agents use the console.")
        try:
            return view(request, profile, *args, **kwargs)
        except NotFound as error:
            # Another team's handoff looks exactly like a missing one.
            raise Http404(error.detail) from None

    return wrapper


def _flash(request: HttpRequest, error: DomainError, *, back: str) -> HttpResponse:
    """A readable message: in place for htmx, as a Django message on the page ``back`` otherwise."""
    if isinstance(error, NotFound):
        raise Http404(error.detail)  # another team's handoff looks exactly like a missing one
    if request.htmx:  # type: ignore[attr-defined]
        html = render_to_string("console/flash.html", {"message": error.detail, "level": "error"})
        return HttpResponse(html, status=error.status)
    messages.error(request, error.detail)
    return redirect(back)


def _go(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)  # type: ignore[attr-defined]


def _text(request: HttpRequest, name: str, limit: int = MAX_TEXT) -> str:
    value = request.POST.get(name, "").replace("\x00", "")
    return value[:limit]


# --- pages ----------------------------------------------------------------------------------------


@require_GET
@agent_required
def home(request: HttpRequest, profile: AgentProfile) -> HttpResponse:
    return render(request, "console/queue.html", partials.queue_context(profile))


@require_GET
@agent_required
def handoff_page(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    handoff = selectors.handoff_for_agent(agent=profile, handoff_id=handoff_id)
    context = partials.handoff_context(handoff, profile) | {"message_key": uuid.uuid4().hex}
    return render(request, "console/handoff.html", context)


@require_GET
@agent_required
def handoff_state(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    """The state panel; when the preparation window is over it also connects (the countdown's fallback)."""
    handoff = selectors.handoff_for_agent(agent=profile, handoff_id=handoff_id)
    if handoff.status == "preparing":
        handoff_connect_due(handoff_id=str(handoff.pk))
        handoff = selectors.handoff_for_agent(agent=profile, handoff_id=handoff_id)
    return render(request, "console/handoff.html#state", partials.handoff_core(handoff, profile))


# --- actions --------------------------------------------------------------------------------------


@require_POST
@agent_required
def claim(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    try:
        handoff_claim(handoff_id=str(handoff_id), agent=profile)
    except DomainError as error:
        return _flash(request, error, back=reverse("console:home"))
    return _go(request, reverse("console:handoff", args=[handoff_id]))


@require_POST
@agent_required
def connect(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    try:
        handoff_connect(handoff_id=str(handoff_id), agent=profile)
    except DomainError as error:
        return _flash(request, error, back=reverse("console:handoff", args=[handoff_id]))
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse(partials.handoff_state_event(handoff_id, profile))
    return redirect("console:handoff", handoff_id)


@require_POST
@agent_required
def message(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    text = _text(request, "text")
    key = request.POST.get("key", "")[:100]
    error = ""
    try:
        handoff_message_send(handoff_id=str(handoff_id), agent=profile, text=text, idempotency_key=key)
    except DomainError as exc:
        if not request.htmx:  # type: ignore[attr-defined]
            return _flash(request, exc, back=reverse("console:handoff", args=[handoff_id]))
        error = exc.detail
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("console:handoff", handoff_id)
    handoff = selectors.handoff_for_agent(agent=profile, handoff_id=handoff_id)
    # A fresh composer (and a fresh idempotency key) after a send; the failed text is kept on an error.
    context = partials.handoff_core(handoff, profile) | {
        "message_key": key if error else uuid.uuid4().hex,
        "draft": text if error else "",
        "error": error,
    }
    return render(request, "console/handoff.html#composer", context, status=422 if error else 200)


@require_POST
@agent_required
def resolve(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    try:
        handoff_resolve(handoff_id=str(handoff_id), agent=profile, resolution=_text(request, "resolution"))
    except DomainError as error:
        return _flash(request, error, back=reverse("console:handoff", args=[handoff_id]))
    messages.success(request, "Resolved. Nice work.")
    return _go(request, reverse("console:home"))


@require_POST
@agent_required
def transfer(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    """A warm transfer with an overlap window (the target team's): the sender stays on the chat page,
    keeps talking and exchanges private notes until the receiver takes over."""
    team, to_agent = _target(request)
    try:
        new = handoff_transfer(
            handoff_id=str(handoff_id),
            agent=profile,
            note=_text(request, "note", NOTE_MAX_CHARS),
            team=team,
            to_agent=to_agent,
            overlap=True,
        )
    except DomainError as error:
        return _flash(request, error, back=reverse("console:handoff", args=[handoff_id]))
    if new.overlap_until is not None:
        messages.success(request, "Transfer started: keep chatting until they take over.")
        return _go(request, reverse("console:handoff", args=[handoff_id]))
    messages.success(request, f"Transferred to {new.team.name} with your note.")
    return _go(request, reverse("console:home"))


def _target(request: HttpRequest) -> tuple[str, str]:
    """A transfer's ``to`` field, ``team:<name>`` or ``agent:<username>``, as (team, agent)."""
    kind, _, name = request.POST.get("to", "").partition(":")
    return (name if kind == "team" else "", name if kind == "agent" else "")


@require_POST
@agent_required
def note(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    """A private note (warm transfer) or a supervisor's whisper; it reaches every page live, this one too."""
    try:
        private_note_add(
            handoff_id=str(handoff_id), agent=profile, text=_text(request, "text", NOTE_MAX_CHARS)
        )
    except DomainError as error:
        return _flash(request, error, back=reverse("console:handoff", args=[handoff_id]))
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse(status=204)
    return redirect("console:handoff", handoff_id)


@require_POST
@agent_required
def take_over(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    try:
        handoff = handoff_take_over(handoff_id=str(handoff_id), agent=profile)
    except DomainError as error:
        return _flash(request, error, back=reverse("console:handoff", args=[handoff_id]))
    return _go(request, reverse("console:handoff", args=[handoff.pk]))


@require_POST
@agent_required
def cancel_transfer(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    try:
        sender = transfer_cancel(handoff_id=str(handoff_id), agent=profile)
    except DomainError as error:
        return _flash(request, error, back=reverse("console:handoff", args=[handoff_id]))
    messages.success(request, "Transfer cancelled: the conversation stays with you.")
    return _go(request, reverse("console:handoff", args=[sender.pk]))


@require_POST
@agent_required
def reassign(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    """A supervisor moves a live chat to a colleague or a queue, as a warm transfer."""
    team, to_agent = _target(request)
    try:
        new = supervisor_reassign(
            handoff_id=str(handoff_id),
            supervisor=profile,
            note=_text(request, "note", NOTE_MAX_CHARS),
            team=team,
            to_agent=to_agent,
        )
    except DomainError as error:
        return _flash(request, error, back=reverse("console:handoff", args=[handoff_id]))
    messages.success(request, f"Reassigned to {new.team.name} with your note.")
    return _go(request, reverse("console:supervisor-observe", args=[handoff_id]))


@require_POST
@agent_required
def return_to_bot(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    try:
        handoff_return_to_bot(
            handoff_id=str(handoff_id), agent=profile, note=_text(request, "note", NOTE_MAX_CHARS)
        )
    except DomainError as error:
        return _flash(request, error, back=reverse("console:handoff", args=[handoff_id]))
    messages.success(request, "Handed back to the assistant.")
    return _go(request, reverse("console:home"))


@require_POST
@agent_required
def presence(request: HttpRequest, profile: AgentProfile) -> HttpResponse:
    try:
        agent_presence_set(agent=profile, presence=request.POST.get("presence", ""))
    except DomainError as error:
        return _flash(request, error, back=reverse("console:home"))
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "console/presence.html", {"profile": profile})
    return redirect("console:home")


@require_POST
@agent_required
def belief(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    """Confirm, correct or add a self-model belief in one click (an agent's observation, which outranks
    bots' and inferred ones for the same key)."""
    handoff = selectors.handoff_for_agent(agent=profile, handoff_id=handoff_id)
    error = ""
    try:
        agent_observation_record(
            agent=profile,
            customer_external_id=handoff.conversation.customer.external_id,
            key=_text(request, "key", 100).strip(),
            value=_belief_value(request),
            confidence=0.95,
            scope=request.POST.get("scope", "general"),
        )
    except DomainError as exc:
        error = exc.detail
    if not request.htmx:  # type: ignore[attr-defined]
        if error:
            messages.error(request, error)
        return redirect("console:handoff", handoff_id)
    context = partials.handoff_core(handoff, profile) | partials.beliefs_part(handoff, profile)
    context["belief_error"] = error
    return render(request, "console/handoff.html#beliefs", context, status=422 if error else 200)


def _belief_value(request: HttpRequest) -> Any:
    """A confirmed belief keeps its JSON value; a typed one is the text the agent wrote."""
    if "value_json" in request.POST:
        try:
            return json.loads(request.POST["value_json"])
        except ValueError:
            raise InvalidInput("The confirmed value is malformed; reload the page.") from None
    value = _text(request, "value", 500).strip()
    if not value:
        raise InvalidInput("Write the value.")
    return value


@require_POST
@agent_required
def draft_check_view(request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID) -> HttpResponse:
    """Warnings for the draft in the composer, as the agent types (debounced by htmx)."""
    handoff = selectors.handoff_for_agent(agent=profile, handoff_id=handoff_id)
    warnings = draft_check(context=handoff.conversation.context, text=_text(request, "text"))
    return render(request, "console/handoff.html#draft-warnings", {"warnings": warnings})


@require_POST
@agent_required
def commitment(
    request: HttpRequest, profile: AgentProfile, handoff_id: uuid.UUID, commitment_id: int
) -> HttpResponse:
    try:
        commitment_mark(
            handoff_id=str(handoff_id),
            agent=profile,
            commitment_id=commitment_id,
            status=request.POST.get("status", ""),
        )
    except DomainError as error:
        return _flash(request, error, back=reverse("console:handoff", args=[handoff_id]))
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("console:handoff", handoff_id)
    handoff = selectors.handoff_for_agent(agent=profile, handoff_id=handoff_id)
    context = partials.handoff_core(handoff, profile) | partials.commitments_part(handoff)
    return render(request, "console/handoff.html#commitments", context)


@require_http_methods(["GET", "POST"])
@agent_required
def handover(request: HttpRequest, profile: AgentProfile) -> HttpResponse:
    """Hand over my shift: every open conversation, most critical first, with an editable snapshot and a
    target each; one submit transfers them all (or, with a readable reason, none)."""
    if request.method == "GET":
        return render(request, "console/handover.html", partials.handover_context(profile))
    choices = _handover_choices(request)
    key = request.POST.get("key", "")[:100]
    away = request.POST.get("away") == "on"
    try:
        done, _ = handover_apply(agent=profile, items=choices, key=key, away=away)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise Http404(error.detail) from None
        edits = {
            c.handoff_id: (c.snapshot, f"agent:{c.agent}" if c.agent else f"team:{c.team}") for c in choices
        }
        context = partials.handover_context(profile, edits=edits, key=key, away=away) | {
            "error": error.detail,
            "error_for": _item_in_error(error, choices),
        }
        template = "console/handover.html#handover-form" if request.htmx else "console/handover.html"  # type: ignore[attr-defined]
        return render(request, template, context, status=error.status)
    count = len(done.items)
    where = " You are set to away." if done.went_away else ""
    messages.success(request, f"Handed over {count} conversation{'s' if count != 1 else ''}.{where}")
    return _go(request, reverse("console:home"))


def _handover_choices(request: HttpRequest) -> list[HandoverChoice]:
    choices = []
    for handoff_id in request.POST.getlist("handoff")[:100]:
        kind, _, name = request.POST.get(f"to-{handoff_id}", "").partition(":")
        choices.append(
            HandoverChoice(
                handoff_id=handoff_id[:40],
                snapshot=_text(request, f"snapshot-{handoff_id}", 4000),
                team=name if kind == "team" else "",
                agent=name if kind == "agent" else "",
            )
        )
    return choices


def _item_in_error(error: DomainError, choices: list[HandoverChoice]) -> str:
    """The handoff an error is about (its ``loc`` names the item's index), to show the message beside it."""
    for entry in error.errors or []:
        loc = entry.get("loc") or []
        if len(loc) > 2 and loc[1] == "items" and isinstance(loc[2], int) and loc[2] < len(choices):
            return choices[loc[2]].handoff_id
    return ""


class LoginView(auth_views.LoginView):
    """Django's sign-in, rate limited per username and per address (429 with Retry-After)."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limit = ratelimits.rate("login")
        try:
            username = request.POST.get("username", "")[:150].strip().lower()
            ratelimits.enforce(group="login-user", key=username, rate=limit, request=request)
            ratelimits.enforce(
                group="login-address",
                key=request.META.get("REMOTE_ADDR", ""),
                rate=_times(limit, 5),
                request=request,
            )
        except RateLimited as exc:
            form = self.get_form()
            form.is_valid()  # bound, so the page shows what was typed
            form.add_error(None, exc.detail)
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        return super().post(request, *args, **kwargs)


def _times(rate: str | None, factor: int) -> str | None:
    """A looser limit for a whole address (several people may share one)."""
    if not rate:
        return rate
    count, _, period = rate.partition("/")
    return f"{int(count) * factor}/{period}"
