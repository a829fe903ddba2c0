"""The HTTP contract of spec §Bots (and later §Agents, §Reports): thin handlers over services.

Every error leaves as an RFC 9457 problem document. The events endpoint reads its body itself (the
schema is published in OpenAPI) so that HTTP and the bot websocket share one ingest path and answer
byte-for-byte alike.
"""

import csv
import logging
from dataclasses import asdict
from datetime import date, datetime
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import NinjaAPI, Router, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyHeader
from pydantic import TypeAdapter

from handoffs import ratelimits, selectors
from handoffs.errors import DomainError, Forbidden, PayloadTooLarge, problem, problem_from
from handoffs.models import AgentProfile, Bot
from handoffs.reports import BY_DAY_FIELDS, by_day, quality_report, report_filter, scope_for
from handoffs.schemas import (
    AgentHandoffOut,
    AgentObservationIn,
    CommitmentMarkIn,
    CommitmentMarkOut,
    ConversationOut,
    DraftCheckOut,
    DraftIn,
    EscalationOk,
    Event,
    EventBatch,
    EventsOk,
    FilterText,
    HandoffOut,
    HandoffStateOut,
    HandoverIn,
    HandoverOut,
    HandoverPlanOut,
    MessageIn,
    MessageOut,
    ObservationCreated,
    PresenceIn,
    PresenceOut,
    PrivateNoteIn,
    PrivateNoteOut,
    PrivateNotesOut,
    ProblemOut,
    QualityReportOut,
    QueueOut,
    ReassignIn,
    ResolveIn,
    ReturnIn,
    SelfModelOut,
    TransferIn,
    TransferOut,
)
from handoffs.services.agents import agent_for_token, agent_presence_set, team_scopes
from handoffs.services.assist import assist_items_for, commitment_mark
from handoffs.services.bots import bot_authenticate
from handoffs.services.drafts import draft_check
from handoffs.services.escalation import handoff_public
from handoffs.services.handoffs import (
    handoff_claim,
    handoff_connect,
    handoff_message_send,
    handoff_resolve,
    handoff_return_to_bot,
    handoff_transfer,
)
from handoffs.services.handover import HandoverChoice, handover_apply, handover_colleagues, handover_plan
from handoffs.services.ingest import events_ingest
from handoffs.services.selfmodel import agent_observation_record, selfmodel_read
from handoffs.services.transfers import (
    handoff_take_over,
    private_note_add,
    private_notes_for,
    private_notes_readable,
    supervisor_reassign,
    transfer_cancel,
)

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


class WarmlineAPI(NinjaAPI):
    """NinjaAPI that also publishes schemas referenced from hand-written request bodies, and documents
    errors with the media type they are sent with (RFC 9457 problem documents)."""

    extra_schemas: dict[str, Any] = {}

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(self.extra_schemas)
        for operation in (op for item in schema.get("paths", {}).values() for op in item.values()):
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
        return schema


api = WarmlineAPI(
    title="Warmline API",
    version="1",
    description="Warm AI-to-human handoffs. Bot requests are signed with Standard Webhooks; "
    "see the project README and spec for the contract.",
    urls_namespace="api",
)


def problem_response(doc: dict[str, Any], *, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(doc, status=doc["status"], content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return problem_response(problem_from(exc), headers=headers)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem_response(problem_from(PayloadTooLarge("The body is over 256 KiB.")))


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [{"loc": list(error.get("loc", [])), "msg": error.get("msg", "")} for error in exc.errors]
    return problem_response(
        problem(
            422,
            "Invalid input",
            "The request does not match the schema.",
            code="invalid_input",
            errors=errors,
        )
    )


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(
        problem(401, "Not authenticated", "Credentials are missing or wrong.", code="not_authenticated")
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    status = exc.status_code
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return problem_response(problem(status, title, str(exc), code=title.lower().replace(" ", "_")))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(problem(404, "Not found", "No such resource.", code="not_found"))


# Seconds a client is asked to wait when the database is unreachable (a restart or failover takes a few).
DATABASE_RETRY_AFTER_SECONDS = 5


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """PostgreSQL unreachable (restarting, failing over, the pool timed out): a clear 503, not a 500. Retrying
    the same request (same webhook-id or Idempotency-Key) once it is back is safe."""
    logger.warning("database unavailable in %s %s: %s", request.method, request.path, exc)
    return problem_response(
        problem(
            503,
            "Service unavailable",
            "The database is unavailable; retry the same request shortly.",
            code="service_unavailable",
        ),
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error in %s %s", request.method, request.path)
    return problem_response(
        problem(500, "Internal error", "Something went wrong on our side.", code="internal_error")
    )


# --- bot authentication ---------------------------------------------------------------------------


class BotSignature(APIKeyHeader):
    """Standard Webhooks signature over the exact body (an empty one for GETs), under any active secret."""

    param_name = "webhook-signature"

    def __call__(self, request: HttpRequest) -> Bot | None:
        body = request.body  # raises RequestDataTooBig past 256 KiB → 413
        bot_id = (request.resolver_match.kwargs if request.resolver_match else {}).get("bot_id", "")
        bot, webhook_id = bot_authenticate(bot_id=bot_id, body=body, headers=request.headers)
        ratelimits.enforce(group="bot", key=bot.bot_id, rate=ratelimits.rate("bot"), request=request)
        request.webhook_id = webhook_id  # type: ignore[attr-defined]
        return bot

    def authenticate(
        self, request: HttpRequest, key: str | None
    ) -> Any:  # pragma: no cover - __call__ decides
        return None


bot_auth = BotSignature()
bots = Router(tags=["bots"], auth=bot_auth)

_events_schema = TypeAdapter(Event | EventBatch).json_schema(ref_template="#/components/schemas/{model}")
api.extra_schemas = _events_schema.pop("$defs", {})
_PROBLEMS = {
    400: ProblemOut,
    401: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    409: ProblemOut,
    413: ProblemOut,
    422: ProblemOut,
    429: ProblemOut,
}


@bots.post(
    "/bots/{bot_id}/events",
    # 200 also answers an escalation while the conversation's handoff is still open (that handoff).
    response={200: EventsOk | EscalationOk, 201: EscalationOk, **_PROBLEMS},
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _events_schema}}}
    },
    summary="Post one event or a batch of up to 100",
)
def post_events(request: HttpRequest, bot_id: str) -> HttpResponse:
    result = events_ingest(bot=request.auth, webhook_id=request.webhook_id, body=request.body)  # type: ignore[attr-defined]
    response: HttpResponse
    if result.status >= 400:
        response = problem_response(result.body)
    else:
        response = JsonResponse(result.body, status=result.status)
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@bots.get("/bots/{bot_id}/conversations/{conversation_id}", response={200: ConversationOut, **_PROBLEMS})
def get_conversation(request: HttpRequest, bot_id: str, conversation_id: str) -> dict[str, Any]:
    bot: Bot = request.auth  # type: ignore[attr-defined]
    conversation = selectors.conversation_for_bot(bot=bot, external_id=conversation_id)
    self_model = selfmodel_read(
        customer=conversation.customer, scopes=bot.scopes, actor_type="bot", actor_ref=bot.bot_id
    )
    return selectors.conversation_public(conversation=conversation, self_model=self_model)


@bots.get("/bots/{bot_id}/handoffs/{handoff_id}", response={200: HandoffOut, **_PROBLEMS})
def get_handoff(request: HttpRequest, bot_id: str, handoff_id: str) -> dict[str, Any]:
    handoff = selectors.handoff_for_bot(bot=request.auth, handoff_id=handoff_id)  # type: ignore[attr-defined]
    return handoff_public(handoff, conversation=handoff.conversation)


@bots.get("/bots/{bot_id}/customers/{customer_id}/self-model", response={200: SelfModelOut, **_PROBLEMS})
def get_self_model(request: HttpRequest, bot_id: str, customer_id: str) -> dict[str, Any]:
    bot: Bot = request.auth  # type: ignore[attr-defined]
    customer = selectors.customer_for_bot(bot=bot, external_id=customer_id)
    beliefs = selfmodel_read(customer=customer, scopes=bot.scopes, actor_type="bot", actor_ref=bot.bot_id)
    return {"customer_id": customer.external_id, "beliefs": beliefs}


# --- agents (token auth) --------------------------------------------------------------------------


class AgentToken(APIKeyHeader):
    """``Authorization: Token <token>``; only the token's SHA-256 digest is stored."""

    param_name = "Authorization"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        scheme, _, token = (key or "").partition(" ")
        if scheme != "Token" or not token:
            return None
        return agent_for_token(token=token.strip())


agents = Router(tags=["agents"], auth=AgentToken())


@agents.post(
    "/agent/customers/{customer_id}/observations",
    response={201: ObservationCreated, **_PROBLEMS},
    summary="Record an agent's observation in the customer's self-model",
)
def post_agent_observation(
    request: HttpRequest, customer_id: str, payload: AgentObservationIn
) -> Status[Any]:
    profile: AgentProfile = request.auth  # type: ignore[attr-defined]
    belief = agent_observation_record(
        agent=profile,
        customer_external_id=customer_id,
        key=payload.key,
        value=payload.value,
        confidence=payload.confidence,
        scope=payload.scope,
    )
    return Status(201, {"belief": belief})


def _agent(request: HttpRequest) -> AgentProfile:
    return request.auth  # type: ignore[attr-defined]


@agents.get(
    "/agent/queue", response={200: QueueOut, **_PROBLEMS}, summary="Handoffs you may take, best first"
)
def get_queue(request: HttpRequest) -> dict[str, Any]:
    now = timezone.now()
    rows = selectors.queue_for_agent(agent=_agent(request))
    return {"handoffs": [selectors.queue_item_public(row, now=now) for row in rows]}


@agents.get("/agent/handoffs/{handoff_id}", response={200: AgentHandoffOut, **_PROBLEMS})
def get_agent_handoff(request: HttpRequest, handoff_id: str) -> dict[str, Any]:
    agent = _agent(request)
    handoff = selectors.handoff_for_agent(agent=agent, handoff_id=handoff_id)
    self_model = selfmodel_read(
        customer=handoff.conversation.customer,
        scopes=team_scopes(agent),
        actor_type="agent",
        actor_ref=agent.user.get_username(),
    )
    return selectors.handoff_for_agent_public(
        handoff, self_model=self_model, assist=assist_items_for(handoff)
    )


def _state(handoff: Any) -> dict[str, Any]:
    return {
        "id": str(handoff.id),
        "status": handoff.status,
        "agent": handoff.agent.get_username() if handoff.agent else None,
        "prepare_until": handoff.prepare_until,
        "connected_at": handoff.connected_at,
        "ended_at": handoff.ended_at,
        "overlap_until": handoff.overlap_until,
    }


@agents.post(
    "/agent/handoffs/{handoff_id}/claim",
    response={200: HandoffStateOut, **_PROBLEMS},
    summary="Take a queued handoff: 409 if someone else has it",
)
def post_claim(request: HttpRequest, handoff_id: str) -> dict[str, Any]:
    return _state(handoff_claim(handoff_id=handoff_id, agent=_agent(request)))


@agents.post(
    "/agent/handoffs/{handoff_id}/connect",
    response={200: HandoffStateOut, **_PROBLEMS},
    summary="End the preparation window now",
)
def post_connect(request: HttpRequest, handoff_id: str) -> dict[str, Any]:
    return _state(handoff_connect(handoff_id=handoff_id, agent=_agent(request)))


@agents.post("/agent/handoffs/{handoff_id}/draft-check", response={200: DraftCheckOut, **_PROBLEMS})
def post_draft_check(request: HttpRequest, handoff_id: str, payload: DraftIn) -> dict[str, Any]:
    agent = _agent(request)
    handoff = selectors.handoff_for_agent(agent=agent, handoff_id=handoff_id)
    return {"warnings": draft_check(context=handoff.conversation.context, text=payload.text)}


@agents.post(
    "/agent/handoffs/{handoff_id}/messages",
    response={201: MessageOut, 200: MessageOut, **_PROBLEMS},
    summary="Send a message to the customer (an Idempotency-Key header makes retries safe)",
)
def post_message(request: HttpRequest, handoff_id: str, payload: MessageIn) -> Status[Any]:
    turn, created = handoff_message_send(
        handoff_id=handoff_id,
        agent=_agent(request),
        text=payload.text,
        idempotency_key=request.headers.get("Idempotency-Key", "")[:100],
    )
    body = {"seq": turn.seq, "role": turn.role, "text": turn.text, "at": turn.occurred_at}
    return Status(201 if created else 200, body)


@agents.post("/agent/handoffs/{handoff_id}/resolve", response={200: HandoffStateOut, **_PROBLEMS})
def post_resolve(request: HttpRequest, handoff_id: str, payload: ResolveIn) -> dict[str, Any]:
    return _state(
        handoff_resolve(handoff_id=handoff_id, agent=_agent(request), resolution=payload.resolution)
    )


@agents.post(
    "/agent/handoffs/{handoff_id}/transfer",
    response={200: TransferOut, **_PROBLEMS},
    summary="Warm transfer to a team or a named agent, with a note",
)
def post_transfer(request: HttpRequest, handoff_id: str, payload: TransferIn) -> dict[str, Any]:
    new = handoff_transfer(
        handoff_id=handoff_id,
        agent=_agent(request),
        note=payload.note,
        team=payload.team or "",
        to_agent=payload.agent or "",
        overlap=payload.overlap,
    )
    return _transfer_out(new)


def _transfer_out(new: Any) -> dict[str, Any]:
    """The transferred handoff (still connected while an overlap window runs) and its successor."""
    status = "connected" if new.overlap_until is not None else "transferred"
    return {"id": str(new.previous_id), "status": status, "next_handoff": _state(new)}


# --- extensions: the warm transfer's overlap window and supervisors' live actions ----------------------


def _note_public(note: Any) -> dict[str, Any]:
    return {
        "id": note.pk,
        "handoff_id": str(note.handoff_id),
        "kind": note.kind,
        "author": note.author_name,
        "text": note.text,
        "at": note.created_at,
    }


@agents.get(
    "/agent/handoffs/{handoff_id}/notes",
    response={200: PrivateNotesOut, **_PROBLEMS},
    summary="Private notes on this chat (warm transfer, supervisor whispers); 403 if they are not yours to read",
)
def get_private_notes(request: HttpRequest, handoff_id: str) -> dict[str, Any]:
    agent = _agent(request)
    handoff = selectors.handoff_for_agent(agent=agent, handoff_id=handoff_id)
    if not private_notes_readable(handoff, agent):
        raise Forbidden("These private notes are for the people of the transfer and the team's supervisors.")
    return {"notes": [_note_public(note) for note in private_notes_for(handoff)]}


@agents.post(
    "/agent/handoffs/{handoff_id}/notes",
    response={201: PrivateNoteOut, **_PROBLEMS},
    summary="A private note: sender and receiver of a warm transfer, or a supervisor's whisper",
)
def post_private_note(request: HttpRequest, handoff_id: str, payload: PrivateNoteIn) -> Status[Any]:
    note = private_note_add(handoff_id=handoff_id, agent=_agent(request), text=payload.text)
    return Status(201, _note_public(note))


@agents.post(
    "/agent/handoffs/{handoff_id}/take-over",
    response={200: HandoffStateOut, **_PROBLEMS},
    summary="Take over: a warm transfer in its overlap window (its receiver), or a live chat (a supervisor)",
)
def post_take_over(request: HttpRequest, handoff_id: str) -> dict[str, Any]:
    return _state(handoff_take_over(handoff_id=handoff_id, agent=_agent(request)))


@agents.post(
    "/agent/handoffs/{handoff_id}/cancel-transfer",
    response={200: HandoffStateOut, **_PROBLEMS},
    summary="Withdraw a warm transfer before the receiver takes over; the sender keeps the chat",
)
def post_cancel_transfer(request: HttpRequest, handoff_id: str) -> dict[str, Any]:
    return _state(transfer_cancel(handoff_id=handoff_id, agent=_agent(request)))


@agents.post(
    "/agent/handoffs/{handoff_id}/reassign",
    response={200: TransferOut, **_PROBLEMS},
    summary="A supervisor moves a live chat to an agent or back to a queue, as a warm transfer",
)
def post_reassign(request: HttpRequest, handoff_id: str, payload: ReassignIn) -> dict[str, Any]:
    new = supervisor_reassign(
        handoff_id=handoff_id,
        supervisor=_agent(request),
        note=payload.note,
        team=payload.team or "",
        to_agent=payload.agent or "",
    )
    return _transfer_out(new)


@agents.post("/agent/handoffs/{handoff_id}/return-to-bot", response={200: HandoffStateOut, **_PROBLEMS})
def post_return(request: HttpRequest, handoff_id: str, payload: ReturnIn) -> dict[str, Any]:
    return _state(handoff_return_to_bot(handoff_id=handoff_id, agent=_agent(request), note=payload.note))


@agents.post(
    "/agent/handoffs/{handoff_id}/commitments/{commitment_id}",
    response={200: CommitmentMarkOut, **_PROBLEMS},
    summary="Mark an AI commitment kept or broken (the commitment tracker)",
)
def post_commitment(
    request: HttpRequest, handoff_id: str, commitment_id: int, payload: CommitmentMarkIn
) -> dict[str, Any]:
    return commitment_mark(
        handoff_id=handoff_id, agent=_agent(request), commitment_id=commitment_id, status=payload.status
    )


@agents.put("/agent/presence", response={200: PresenceOut, **_PROBLEMS}, summary="Available or away")
def put_presence(request: HttpRequest, payload: PresenceIn) -> dict[str, Any]:
    return {"presence": agent_presence_set(agent=_agent(request), presence=payload.presence).presence}


@agents.get(
    "/agent/handover",
    response={200: HandoverPlanOut, **_PROBLEMS},
    summary="Shift handover: your open handoffs, most critical first, each with a drafted snapshot",
)
def get_handover(request: HttpRequest) -> dict[str, Any]:
    agent = _agent(request)
    return {
        "handoffs": [
            {
                "handoff_id": str(item.handoff.id),
                "rank": item.rank,
                "priority": item.priority,
                "reasons": item.reasons,
                "fragility": item.fragility.reasons,
                "status": item.handoff.status,
                "conversation_id": item.handoff.conversation.external_id,
                "customer_name": item.handoff.conversation.customer.name,
                "team": item.handoff.team.name,
                "snapshot": item.snapshot.text(),
                "sections": asdict(item.snapshot),
            }
            for item in handover_plan(agent=agent)
        ],
        "colleagues": [
            {"username": person.username, "name": person.name, "room": person.room}
            for person in handover_colleagues(agent=agent)
        ],
        "teams": [team.name for team in agent.teams.all()],
    }


@agents.post(
    "/agent/handover",
    response={201: HandoverOut, 200: HandoverOut, **_PROBLEMS},
    summary="Hand over every open handoff at once, all or nothing (the Idempotency-Key header is required)",
)
def post_handover(request: HttpRequest, payload: HandoverIn) -> Status[Any]:
    handover, created = handover_apply(
        agent=_agent(request),
        items=[
            HandoverChoice(
                handoff_id=item.handoff_id,
                snapshot=item.snapshot,
                team=item.team or "",
                agent=item.agent or "",
            )
            for item in payload.handoffs
        ],
        key=request.headers.get("Idempotency-Key", ""),
        away=payload.away,
    )
    body = {
        "id": str(handover.id),
        "handoffs": handover.items,
        "went_away": handover.went_away,
        "created_at": handover.created_at,
    }
    return Status(201 if created else 200, body)


# --- reports (supervisors) ------------------------------------------------------------------------

reports = Router(tags=["reports"], auth=AgentToken())


@reports.get(
    "/reports/handoff-quality",
    response={200: QualityReportOut, **_PROBLEMS},
    summary="Handoff quality for your teams (supervisors); format=csv gives the by_day rows",
    openapi_extra={"responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def get_handoff_quality(
    request: HttpRequest,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    team: FilterText = "",
    bot: FilterText = "",
    issue_type: FilterText = "",
    agent: FilterText = "",
    format: str = "json",
) -> Any:
    profile = _agent(request)
    if not profile.is_supervisor:
        raise Forbidden("Reports are for supervisors.", code="not_a_supervisor")
    flt = report_filter(since=since, until=until, team=team, bot=bot, issue_type=issue_type, agent=agent)
    scope = scope_for(profile)
    if format == "csv":
        return csv_response(by_day(scope=scope, flt=flt), filename="handoff-quality.csv")
    return quality_report(scope=scope, flt=flt)


def csv_response(rows: list[dict[str, Any]], *, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    fields = list(rows[0]) if rows else list(BY_DAY_FIELDS)
    writer = csv.DictWriter(response, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return response


api.add_router("", bots)
api.add_router("", agents)
api.add_router("", reports)
