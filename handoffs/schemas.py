"""The bot API's request and response shapes (spec §Bots), shared by HTTP and the bot websocket."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from handoffs.models import NOTE_MAX_CHARS

Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Label = Annotated[str, StringConstraints(max_length=200)]


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null")
    return value


# An observation's value: a belief that something is "nothing" is no belief (the column is NOT NULL).
BeliefValue = Annotated[
    Any,
    AfterValidator(_not_null),
    Field(json_schema_extra={"description": "Any JSON value except null.", "not": {"type": "null"}}),
]


class Schema(BaseModel):
    # Unknown fields are ignored so that bots may send more than the contract names.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class CustomerIn(Schema):
    id: Short
    name: Label | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    locale: Annotated[str, StringConstraints(max_length=20)] | None = None


class TurnData(Schema):
    role: Literal["customer", "bot"]
    text: Text
    id: Short | None = None


class TranscriptTurn(TurnData):
    occurred_at: AwareDatetime | None = None


class StepData(Schema):
    action: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    outcome: Literal["succeeded", "failed", "pending"]
    detail: Annotated[str, StringConstraints(max_length=5_000)] | None = None


class CommitmentData(Schema):
    text: Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
    kind: Literal["refund", "credit", "replacement", "callback", "follow_up", "other"] = "other"
    due: AwareDatetime | date | None = None
    amount: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None


class CallbackCommitment(CommitmentData):
    kind: Literal["callback"] = "callback"


class TakebackData(Schema):
    """The bot takes a waiting customer back (after ``handoff.takeback_offered``, or whenever it chooses)."""

    note: Annotated[str, StringConstraints(max_length=2_000)] | None = None
    callback: CallbackCommitment | None = Field(
        default=None,
        description="The callback promised to the customer; without it, the promise offered in "
        "handoff.takeback_offered (if any) is recorded.",
    )


class ObservationData(Schema):
    key: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z][\w.\-]*$")]
    value: BeliefValue
    confidence: Annotated[float, Field(ge=0, le=1)]
    scope: Literal["general", "billing", "technical", "sensitive"] = "general"


class ClassificationData(Schema):
    issue_type: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    complexity: Literal["low", "medium", "high"]
    intent: Label | None = None
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None


ReasonCode = Literal[
    "authority_required",
    "customer_request",
    "frustration",
    "complexity",
    "repeated_failure",
    "out_of_scope",
    "language",
    "other",
]


class EscalationData(Schema):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
    reason_code: ReasonCode
    focus: Annotated[str, StringConstraints(max_length=2_000)] | None = None
    urgency: Literal["low", "normal", "high", "critical"] = "normal"
    skills: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=50)]], Field(max_length=20)
    ] = []
    language: Annotated[str, StringConstraints(max_length=20)] | None = None
    summary: Annotated[str, StringConstraints(max_length=5_000)] | None = None
    transcript: Annotated[list[TranscriptTurn], Field(max_length=1_000)] | None = None


class CsatData(Schema):
    score: Annotated[int, Field(ge=1, le=5, strict=True)]
    phase: Literal["bot", "human"]


class EmptyData(Schema):
    pass


class EventBase(Schema):
    conversation_id: Short
    occurred_at: AwareDatetime | None = None
    customer: CustomerIn | None = None


class TurnEvent(EventBase):
    type: Literal["turn"]
    data: TurnData


class StepEvent(EventBase):
    type: Literal["step"]
    data: StepData


class CommitmentEvent(EventBase):
    type: Literal["commitment"]
    data: CommitmentData


class ObservationEvent(EventBase):
    type: Literal["observation"]
    data: ObservationData


class ClassificationEvent(EventBase):
    type: Literal["classification"]
    data: ClassificationData


class EscalationEvent(EventBase):
    type: Literal["escalation"]
    data: EscalationData


class TakebackEvent(EventBase):
    type: Literal["takeback"]
    data: TakebackData = TakebackData()


class CsatEvent(EventBase):
    type: Literal["csat"]
    data: CsatData


class CustomerLeftEvent(EventBase):
    type: Literal["customer_left"]
    data: EmptyData = EmptyData()


Event = Annotated[
    TurnEvent
    | StepEvent
    | CommitmentEvent
    | ObservationEvent
    | ClassificationEvent
    | EscalationEvent
    | CsatEvent
    | CustomerLeftEvent
    | TakebackEvent,
    Field(discriminator="type"),
]


class EventBatch(Schema):
    events: Annotated[list[Event], Field(min_length=1, max_length=100)]


# --- responses (documented in OpenAPI; handlers return plain dicts of these shapes) ---------------


class ConversationRef(Schema):
    id: str
    conversation_id: str
    status: str


class EscalationAdvice(Schema):
    escalate: bool
    score: float
    reasons: list[str]


class EventsOk(Schema):
    conversation: ConversationRef
    escalation_advice: EscalationAdvice


class HandoffCreated(Schema):
    id: str
    status: str
    queue_position: int | None
    estimated_wait_seconds: int | None
    announcement: str


class EscalationOk(Schema):
    handoff: HandoffCreated
    conversation: ConversationRef


class HandoffOut(Schema):
    id: str
    status: str
    queue_position: int | None
    estimated_wait_seconds: int | None
    agent: str | None


class ConversationOut(Schema):
    id: str
    conversation_id: str
    status: str
    customer_id: str
    context: dict[str, Any]


class BeliefOut(Schema):
    key: str
    value: Any
    confidence: float
    scope: str
    updated_at: AwareDatetime
    sources: list[dict[str, Any]]


class SelfModelOut(Schema):
    customer_id: str
    beliefs: list[BeliefOut]


class ProblemOut(Schema):
    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


class AgentObservationIn(Schema):
    key: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z][\w.\-]*$")]
    value: BeliefValue
    confidence: Annotated[float, Field(ge=0, le=1)] = 0.9
    scope: Literal["general", "billing", "technical", "sensitive"] = "general"


class ObservationCreated(Schema):
    belief: BeliefOut | None


# --- agents ---------------------------------------------------------------------------------------


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


AgentText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), AfterValidator(_no_nul)
]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX_CHARS), AfterValidator(_no_nul)
]
# A query filter compared with stored text: PostgreSQL cannot take NUL in a parameter, so it is a 422.
FilterText = Annotated[str, AfterValidator(_no_nul)]


class QueueItemOut(Schema):
    id: str
    status: str
    conversation_id: str
    customer_id: str
    customer_name: str
    team: str
    reason: str
    reason_code: str
    urgency: str
    emotion: str
    issue_type: str
    priority: float = Field(description="Current priority (see the README: urgency, mood, waiting time, …).")
    priority_reasons: list[str]
    waiting_seconds: int
    queued_at: AwareDatetime
    reserved_for: str | None
    overlap_until: AwareDatetime | None = Field(
        default=None, description="A warm transfer whose sender is still chatting: claim, read in, take over."
    )


class QueueOut(Schema):
    handoffs: list[QueueItemOut]


class TimelineEntry(Schema):
    event: str
    at: AwareDatetime
    detail: str = ""


class AgentHandoffOut(Schema):
    id: str
    status: str
    conversation_id: str
    customer_id: str
    team: str
    agent: str | None
    reason: str
    reason_code: str
    focus: str
    urgency: str
    priority: float
    priority_reasons: list[str]
    waiting_seconds: int
    queued_at: AwareDatetime
    claimed_at: AwareDatetime | None
    prepare_until: AwareDatetime | None
    connected_at: AwareDatetime | None
    ended_at: AwareDatetime | None
    note: str
    resolution: str
    previous_handoff_id: str | None
    timeline: list[TimelineEntry]
    context: dict[str, Any]
    assist: list[dict[str, Any]] = Field(description="Assist items, each with a `kind`.")


class HandoffStateOut(Schema):
    id: str
    status: str
    agent: str | None
    prepare_until: AwareDatetime | None
    connected_at: AwareDatetime | None
    ended_at: AwareDatetime | None
    overlap_until: AwareDatetime | None = Field(
        default=None,
        description="A warm transfer in its overlap window: the sender keeps the customer until the receiver "
        "takes over (POST …/take-over) or this time passes, when it completes by itself.",
    )


class DraftIn(Schema):
    text: Annotated[str, StringConstraints(max_length=5000), AfterValidator(_no_nul)]


class DraftWarning(Schema):
    kind: str
    message: str
    evidence: dict[str, Any]


class DraftCheckOut(Schema):
    warnings: list[DraftWarning]


class MessageIn(Schema):
    text: AgentText


class MessageOut(Schema):
    seq: int
    role: str
    text: str
    at: AwareDatetime


class ResolveIn(Schema):
    resolution: AgentText


RequiredNote = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NOTE_MAX_CHARS),
    AfterValidator(_no_nul),
]


class TransferIn(Schema):
    team: str | None = Field(default=None, max_length=80)
    agent: str | None = Field(default=None, max_length=150, description="A username.")
    note: RequiredNote
    overlap: bool = Field(
        default=False,
        description="Keep the chat through the target team's overlap window: the receiver observes and "
        "exchanges private notes (…/notes) before taking over (…/take-over). Default: one step.",
    )


class TransferOut(Schema):
    id: str = Field(description="The transferred handoff (still connected while an overlap window runs).")
    status: str
    next_handoff: HandoffStateOut


class ReassignIn(Schema):
    """A supervisor's reassignment: to a named agent, or back to a team's queue (one of them), with a note."""

    team: str | None = Field(default=None, max_length=80)
    agent: str | None = Field(default=None, max_length=150, description="A username.")
    note: RequiredNote


class PrivateNoteIn(Schema):
    text: RequiredNote


class PrivateNoteOut(Schema):
    id: int
    handoff_id: str = Field(description="The handoff it hangs on: the one the customer was with.")
    kind: Literal["transfer", "whisper"]
    author: str
    text: str
    at: AwareDatetime


class PrivateNotesOut(Schema):
    notes: list[PrivateNoteOut]


class ReturnIn(Schema):
    note: Note = ""


class PresenceIn(Schema):
    presence: Literal["available", "away"]


class PresenceOut(Schema):
    presence: str


# --- shift handover (issue 9) ---------------------------------------------------------------------


class HandoverSections(Schema):
    state: list[str]
    pending: list[str]
    watch_for: list[str]
    commitments_due: list[str]


class HandoverPlanItemOut(Schema):
    handoff_id: str
    rank: int = Field(description="1 is the most critical: take it first.")
    priority: float = Field(description="The priority it will have in the receiver's queue now.")
    reasons: list[str] = Field(description="Why it ranks where it does.")
    fragility: list[str] = Field(description="What makes it fragile: unanswered message, promises due, …")
    status: str
    conversation_id: str
    customer_name: str
    team: str = Field(description="Its team: the default target (the team queue).")
    snapshot: str = Field(description="The drafted note for the next person: edit it and send it back.")
    sections: HandoverSections


class HandoverColleagueOut(Schema):
    username: str
    name: str
    room: int = Field(description="Conversations they can still take (capacity minus what they hold).")


class HandoverPlanOut(Schema):
    handoffs: list[HandoverPlanItemOut]
    colleagues: list[HandoverColleagueOut] = Field(description="Teammates available now.")
    teams: list[str] = Field(description="Your teams: their queues are targets too.")


class HandoverItemIn(Schema):
    handoff_id: str = Field(max_length=40)
    snapshot: RequiredNote
    team: str | None = Field(default=None, max_length=80, description="A team queue, or:")
    agent: str | None = Field(default=None, max_length=150, description="A colleague's username.")


class HandoverIn(Schema):
    handoffs: list[HandoverItemIn] = Field(min_length=1, max_length=50)
    away: bool = Field(default=True, description="Set yourself away once it is done.")


class HandoverResultItem(Schema):
    rank: int
    handoff_id: str = Field(description="Your handoff, now transferred.")
    next_handoff_id: str = Field(description="The new handoff, with its own frame; the note is the snapshot.")
    team: str
    agent: str | None


class HandoverOut(Schema):
    id: str
    handoffs: list[HandoverResultItem]
    went_away: bool
    created_at: AwareDatetime


class CommitmentMarkIn(Schema):
    status: Literal["open", "kept", "broken"]


class CommitmentMarkOut(Schema):
    commitment_id: int
    text: str
    status: str
    by: str


class CommitmentCounts(Schema):
    open: int
    kept: int
    broken: int


class QualityDay(Schema):
    day: date
    handoffs: int
    connected: int
    resolved: int
    abandoned: int
    transferred: int
    repeat_question_rate: float | None
    abandonment_rate: float | None
    csat_bot_avg: float | None
    csat_human_avg: float | None
    median_wait_seconds: float | None


class QualityReportOut(Schema):
    handoffs: int
    repeat_question_rate: float | None
    csat_bot_avg: float | None
    csat_human_avg: float | None
    csat_delta: float | None
    median_wait_seconds: float | None
    p90_wait_seconds: float | None
    median_prepare_seconds: float | None
    p90_prepare_seconds: float | None
    median_resolution_seconds: float | None
    p90_resolution_seconds: float | None
    re_escalation_rate: float | None
    transfer_rate: float | None
    abandonment_rate: float | None
    sentiment_delta_avg: float | None
    commitments: CommitmentCounts
    by_day: list[QualityDay]
