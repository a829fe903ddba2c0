"""Warmline's domain models.

Writes go through ``handoffs.services`` only; reads that shape data for callers live in
``handoffs.selectors``. The conversation keeps its live context package denormalised in
``Conversation.context`` so that reading it is one indexed row.
"""

import secrets
import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Scope(models.TextChoices):
    GENERAL = "general"
    BILLING = "billing"
    TECHNICAL = "technical"
    SENSITIVE = "sensitive"


def default_scopes() -> list[str]:
    return [Scope.GENERAL.value]


class Team(TimeStamped):
    class RoutingMode(models.TextChoices):
        POOL = "pool"
        OFFER = "offer"

    name = models.CharField(max_length=80, unique=True)
    prepare_seconds = models.PositiveIntegerField(
        default=45, help_text="Length of the preparation window after a claim."
    )
    routing_mode = models.CharField(max_length=10, choices=RoutingMode.choices, default=RoutingMode.POOL)
    offer_seconds = models.PositiveIntegerField(
        default=30, help_text="Offer mode: how long one agent has to accept before it moves to the next."
    )
    scopes = models.JSONField(default=default_scopes, help_text="Self-model scopes this team may read.")
    overlap_seconds = models.PositiveIntegerField(
        default=180,
        help_text="Warm transfers to this team: how long the sender keeps the chat while the receiver reads in "
        "and exchanges private notes; then the transfer completes by itself. 0: no overlap.",
    )
    # Timing rules (see the README's routing section); 0 turns a rule off.
    first_reply_seconds = models.PositiveIntegerField(
        default=120,
        help_text="Once connected, the claimer's first message to the customer is due within this; "
        "otherwise the handoff goes back to the queue. 0: never.",
    )
    answer_seconds = models.PositiveIntegerField(
        default=300,
        help_text="A customer message the connected agent leaves unanswered this long sends the handoff back "
        "to the queue. 0: never.",
    )
    takeback_after_seconds = models.PositiveIntegerField(
        default=600,
        help_text="Unclaimed this long, the bot is offered to take the customer back with a callback "
        "promise (handoff.takeback_offered). 0: never.",
    )
    callback_promise_seconds = models.PositiveIntegerField(
        default=4 * 3600, help_text="The callback promised with a take-back offer is due within this."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentProfile(TimeStamped):
    class Presence(models.TextChoices):
        AVAILABLE = "available"
        AWAY = "away"
        OFFLINE = "offline"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    display_name = models.CharField(max_length=80, blank=True)
    teams = models.ManyToManyField(Team, related_name="agents", blank=True)
    skills = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    capacity = models.PositiveSmallIntegerField(default=3)
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.OFFLINE)
    is_supervisor = models.BooleanField(default=False)
    # Refreshed while any console socket of this person is open; presence reads "offline" once it is stale.
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user__username"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(capacity__gte=1), name="agent_capacity_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.get_username()


class ApiToken(TimeStamped):
    """A person's API token. Only a SHA-256 digest is stored; the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to tell tokens apart.")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


def new_bot_id() -> str:
    return "bot_" + secrets.token_hex(8)


class Bot(TimeStamped):
    bot_id = models.CharField(max_length=40, unique=True, default=new_bot_id, editable=False)
    name = models.CharField(max_length=80)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="bots", help_text="Default team.")
    allowed_teams = models.ManyToManyField(Team, related_name="+", blank=True)
    callback_url = models.URLField(blank=True, max_length=500)
    scopes = models.JSONField(default=default_scopes, help_text="Self-model scopes this bot may read.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.bot_id})"


class BotSecret(TimeStamped):
    """A signing secret (``whsec_…``). Two are active while a bot rotates; old ones get an expiry."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=120)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"secret of {self.bot.bot_id} from {self.created_at:%Y-%m-%d}"


class BotSocket(models.Model):
    """A bot's open websocket, kept alive by its consumer's heartbeat (``seen_at``).

    Callbacks go over a live socket instead of HTTP; a socket whose heartbeat stopped (its web process
    crashed without closing it) stops counting after a few missed beats, so it never holds events back.
    Closed sockets are kept a while: a bot that used the websocket recently still has its callbacks
    recorded, and gets them when it reconnects.

    ``acks``: the bot opted in (``?acks=1`` on the upgrade) to ack each callback; the spec defines no ack,
    so without it a callback handed to the socket counts as delivered at once."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="sockets")
    channel_name = models.CharField(max_length=200, unique=True)
    acks = models.BooleanField(default=False)
    connected_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["bot", "seen_at"], name="botsocket_bot_seen")]

    def __str__(self) -> str:
        return f"socket of {self.bot.bot_id} since {self.connected_at:%Y-%m-%d %H:%M:%S}"


class Customer(TimeStamped):
    """A customer, shared across bots; holds the self-model (observations and beliefs)."""

    external_id = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True, max_length=254)
    locale = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["external_id"]

    def __str__(self) -> str:
        return self.name or self.external_id


class ConversationStatus(models.TextChoices):
    BOT = "bot"
    QUEUED = "queued"
    PREPARING = "preparing"
    CONNECTED = "connected"
    RESOLVED = "resolved"
    RETURNED_TO_BOT = "returned_to_bot"
    ABANDONED = "abandoned"


class Conversation(TimeStamped):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="conversations")
    external_id = models.CharField(max_length=200)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(
        max_length=20, choices=ConversationStatus.choices, default=ConversationStatus.BOT
    )
    last_seq = models.PositiveIntegerField(default=0)
    issue_type = models.CharField(max_length=80, blank=True)
    complexity = models.CharField(max_length=10, blank=True)
    context = models.JSONField(default=dict)
    # When the customer closed the chat (a ``customer_left`` event) while a person had it; cleared when they
    # write again. Nothing is due to a customer who is gone: no reply deadline, no reassignment, no queue.
    customer_left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["bot", "external_id"], name="conversation_unique_per_bot"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.bot.bot_id})"


class TurnRole(models.TextChoices):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class Turn(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=TurnRole.choices)
    text = models.TextField()
    sentiment = models.FloatField(null=True, blank=True)
    external_id = models.CharField(max_length=200, blank=True, help_text="The bot's own message id.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handoff = models.ForeignKey("Handoff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["conversation", "seq"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="turn_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "external_id"],
                condition=~Q(external_id=""),
                name="turn_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.role}"


class StepOutcome(models.TextChoices):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"


class Step(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(max_length=300)
    outcome = models.CharField(max_length=10, choices=StepOutcome.choices)
    detail = models.TextField(blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["conversation", "occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.action}: {self.outcome}"


class CommitmentKind(models.TextChoices):
    REFUND = "refund"
    CREDIT = "credit"
    REPLACEMENT = "replacement"
    CALLBACK = "callback"
    FOLLOW_UP = "follow_up"
    OTHER = "other"


class Commitment(TimeStamped):
    class Source(models.TextChoices):
        EVENT = "event"
        DETECTED = "detected"

    class Status(models.TextChoices):
        OPEN = "open"
        KEPT = "kept"
        BROKEN = "broken"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="commitments")
    text = models.TextField()
    kind = models.CharField(max_length=20, choices=CommitmentKind.choices, default=CommitmentKind.OTHER)
    due = models.CharField(max_length=40, blank=True, help_text="As stated: a date or a date-time.")
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    seq = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["conversation", "created_at", "id"]

    def __str__(self) -> str:
        return self.text[:60]


class ProvidedInfo(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="provided_info")
    slot = models.CharField(max_length=40)
    value = models.CharField(max_length=500)
    seq = models.PositiveIntegerField()

    class Meta:
        ordering = ["conversation", "seq", "id"]

    def __str__(self) -> str:
        return f"{self.slot}={self.value}"


class Observation(models.Model):
    """One piece of evidence about a customer; beliefs are aggregated from these."""

    class Source(models.TextChoices):
        BOT = "bot"
        AGENT = "agent"
        INFERRED = "inferred"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="observations")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    key = models.CharField(max_length=100)
    value = models.JSONField()
    confidence = models.FloatField()
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.GENERAL)
    source = models.CharField(max_length=10, choices=Source.choices)
    source_ref = models.CharField(max_length=100, help_text="Bot id or username.")
    observed_at = models.DateTimeField()
    # The customer turn an inference was drawn from. The inference task is durable (it may be resent, and
    # two runs may overlap), so it is idempotent on the turn itself: turns of one batch share a timestamp.
    turn = models.ForeignKey(Turn, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["customer", "key", "observed_at", "id"]
        indexes: ClassVar = [models.Index(fields=["customer", "key", "observed_at"], name="obs_customer_key")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="observation_confidence_range"
            ),
            models.UniqueConstraint(
                fields=["turn", "key"], condition=Q(turn__isnull=False), name="observation_once_per_turn_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value!r}"


class Belief(models.Model):
    """The aggregate of a customer's observations for one key (see docs/self-model.md)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="beliefs")
    key = models.CharField(max_length=100)
    value = models.JSONField()
    confidence = models.FloatField(help_text="Confidence at updated_at, before decay.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.GENERAL)
    updated_at = models.DateTimeField()
    sources = models.JSONField(default=list)
    history = models.JSONField(default=list)

    class Meta:
        ordering = ["customer", "key"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["customer", "key"], name="belief_unique_key"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="belief_confidence_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value!r} ({self.confidence:.2f})"


class HandoffStatus(models.TextChoices):
    QUEUED = "queued"
    PREPARING = "preparing"
    CONNECTED = "connected"
    RESOLVED = "resolved"
    RETURNED_TO_BOT = "returned_to_bot"
    TRANSFERRED = "transferred"
    ABANDONED = "abandoned"


OPEN_HANDOFF_STATUSES = (HandoffStatus.QUEUED, HandoffStatus.PREPARING, HandoffStatus.CONNECTED)
# Handoffs that are not a warm transfer still in its overlap window (``Handoff.overlap_until`` is cleared
# when it completes). During the window the customer is still with the sender: "the conversation's
# handoff" (the one a new escalation, a customer who leaves, the assist engines or a rating concern) is
# never the pending one, which the sender may yet cancel (and cancelling deletes it).
NOT_IN_OVERLAP_WINDOW = Q(overlap_until__isnull=True)


class Urgency(models.TextChoices):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class ReasonCode(models.TextChoices):
    AUTHORITY_REQUIRED = "authority_required"
    CUSTOMER_REQUEST = "customer_request"
    FRUSTRATION = "frustration"
    COMPLEXITY = "complexity"
    REPEATED_FAILURE = "repeated_failure"
    OUT_OF_SCOPE = "out_of_scope"
    LANGUAGE = "language"
    OTHER = "other"


class Handoff(TimeStamped):
    """One escalation or transfer. Its ``frame`` (package snapshot + note) is immutable once written."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="handoffs")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="handoffs")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs"
    )
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next"
    )
    # Offer routing: the handoff is held for one person until the offer expires, then offered to the next.
    offered_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    offered_before = models.JSONField(default=list, blank=True, help_text="User ids already offered it.")
    # The last estimate the customer was given (handoff.eta callbacks are sent when it moves enough).
    eta_sent_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Timing (handoffs.services.handoffs / routing): when the connected agent's next message is due, and
    # when the bot was offered to take the customer back.
    reply_due_at = models.DateTimeField(null=True, blank=True)
    takeback_offered_at = models.DateTimeField(null=True, blank=True)
    # Why it ended, where the status alone does not say: reassigned for want of a reply, taken back by the bot.
    end_reason = models.CharField(max_length=30, blank=True)
    # A warm transfer to a named person: it waits in their team's queue, but only they may claim it.
    reserved_for = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=HandoffStatus.choices, default=HandoffStatus.QUEUED)
    reason = models.TextField()
    reason_code = models.CharField(max_length=30, choices=ReasonCode.choices)
    focus = models.TextField(blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    skills = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=20, blank=True)
    # Pool teams: until then the handoff is shown only to the team's speakers of its language (see
    # handoffs.services.routing); null when everyone may see it at once (English, or no speaker present).
    speakers_first_until = models.DateTimeField(null=True, blank=True)
    # Queue order: priority(t) = base_priority + AGING_PER_SECOND * (t - queued_at). Ordering a queue at any
    # common t only needs base_priority - AGING_PER_SECOND * queued_at, kept here as an indexed static key.
    base_priority = models.FloatField(default=0)
    priority_reasons = models.JSONField(default=list, blank=True, help_text="Why it sits where it does.")
    queue_key = models.FloatField(default=0)
    queue_position_at_queue = models.PositiveIntegerField(default=1)
    estimated_wait_seconds = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    prepare_until = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # A warm transfer in its overlap window: the sender still chats with the customer while the receiver
    # observes and exchanges private notes; cleared when the receiver takes over or the window ends.
    overlap_until = models.DateTimeField(null=True, blank=True)
    frame = models.JSONField(default=dict, help_text="The package as it was at escalation or transfer.")
    note = models.TextField(blank=True, help_text="The predecessor's note (transfers, returns).")
    resolution = models.TextField(blank=True)
    # Read by the quality report instead of joining turns, ratings and later handoffs, kept by the
    # services in the transaction that changes their source (handoffs/services/report_columns.py):
    # the sum and number of the conversation's scored customer turns before ``queued_at`` and from
    # ``connected_at`` on; of the bot-phase and human-phase CSAT ratings given on this handoff; and
    # whether it was resolved and its conversation escalated again within 72 h.
    sentiment_before_sum = models.FloatField(default=0, db_default=0)
    sentiment_before_count = models.PositiveIntegerField(default=0, db_default=0)
    sentiment_after_sum = models.FloatField(default=0, db_default=0)
    sentiment_after_count = models.PositiveIntegerField(default=0, db_default=0)
    csat_bot_sum = models.PositiveIntegerField(default=0, db_default=0)
    csat_bot_count = models.PositiveIntegerField(default=0, db_default=0)
    csat_human_sum = models.PositiveIntegerField(default=0, db_default=0)
    csat_human_count = models.PositiveIntegerField(default=0, db_default=0)
    re_escalated = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-queued_at"]
        indexes: ClassVar = [
            models.Index(fields=["team", "status", "-queue_key"], name="handoff_queue"),
            models.Index(fields=["team", "claimed_at"], name="handoff_team_claimed"),
            models.Index(fields=["status", "prepare_until"], name="handoff_preparing_due"),
            models.Index(fields=["status", "reply_due_at"], name="handoff_reply_due"),
        ]
        constraints: ClassVar = [
            # At most one open handoff per conversation: a second escalation returns the open one. A warm
            # transfer in its overlap window is the one exception (the sender's stays open beside it), and
            # there is at most one of those.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status__in=["queued", "preparing", "connected"], overlap_until__isnull=True),
                name="handoff_one_open_per_conversation",
            ),
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status__in=["queued", "preparing", "connected"], overlap_until__isnull=False),
                name="handoff_one_overlap_per_conversation",
            ),
        ]

    def __str__(self) -> str:
        return f"handoff {self.id} ({self.status})"


# The longest note a person may write: a transfer or return note, a private note or whisper, a handover
# snapshot (the API's schemas, the console's forms and the services all hold to it).
NOTE_MAX_CHARS = 2000


class PrivateNote(models.Model):
    """A note between people about a live chat, never shown to the customer nor sent in callbacks: the
    sender and receiver of a warm transfer in its overlap window, or a supervisor whispering to the agent.

    It hangs on the handoff the customer is with when it is written (the sender's, for a transfer), so a
    cancelled transfer keeps its exchange; the receiver's frame copies it at take-over."""

    class Kind(models.TextChoices):
        TRANSFER = "transfer"
        WHISPER = "whisper"

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="private_notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=150, help_text="As the author was named when writing.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["handoff", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.author_name}"


class CsatRating(models.Model):
    class Phase(models.TextChoices):
        BOT = "bot"
        HUMAN = "human"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="csat_ratings")
    handoff = models.ForeignKey(Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    phase = models.CharField(max_length=10, choices=Phase.choices)
    score = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["conversation", "created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(score__gte=1) & Q(score__lte=5), name="csat_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.phase}: {self.score}"


class InboundRequest(models.Model):
    """An applied bot request, remembered for idempotent replay (unique per bot and webhook-id)."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="+")
    webhook_id = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(default=0)
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["bot", "webhook_id"], name="inbound_unique_webhook_id"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} → {self.response_status}"


class AuditEvent(models.Model):
    """Who read or changed what about a customer, where it matters (sensitive reads, exports, erasure)."""

    class Action(models.TextChoices):
        SENSITIVE_READ = "sensitive_read"
        EXPORT = "export"
        ERASE = "erase"

    actor_type = models.CharField(max_length=20, help_text="bot, agent or operator")
    actor_ref = models.CharField(max_length=100)
    action = models.CharField(max_length=20, choices=Action.choices)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    customer_ref = models.CharField(
        max_length=200, help_text="Customer id at the time (pseudonym after erasure)."
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.actor_type}:{self.actor_ref} {self.action} {self.customer_ref}"


class OutboundDelivery(TimeStamped):
    """A callback to a bot (spec §Callbacks): written in the transaction of the change it reports, then
    delivered by Celery in order per conversation, retried with backoff, every attempt recorded."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="deliveries")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="deliveries")
    handoff = models.ForeignKey(Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    webhook_id = models.CharField(max_length=60, unique=True)
    type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    retry_until = models.DateTimeField(help_text="Failing attempts are retried until then, then given up.")
    # A worker sending this delivery holds it until then; another worker leaves it (and its successors) alone.
    leased_until = models.DateTimeField(null=True, blank=True)
    # Sent over the bot's websocket and waiting for its ack (the lease runs until the ack timeout); the
    # channel it went to, so a socket that closes can give back what it had not acked.
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_to = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["conversation", "id"]
        indexes: ClassVar = [
            models.Index(fields=["conversation", "status", "id"], name="delivery_conversation_queue"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
        ]
        verbose_name_plural = "outbound deliveries"

    def __str__(self) -> str:
        return f"{self.type} → {self.bot} ({self.status})"


class PendingTask(models.Model):
    """One ask for a durable task that no run has covered yet (handoffs.scheduling).

    Inserted in the transaction of the change that asks for the task (insert only: no row is shared by
    concurrent requests, so asking never waits on a lock); deleted by the first run that started after it
    committed and succeeded. A row that stays is sent again by beat's ``resend_pending_tasks``: soon when it
    is known not to be in the broker (``lost``), late when it may still be waiting in a backlog or running
    (see handoffs.scheduling)."""

    key = models.CharField(max_length=300, help_text="Task name and arguments.")
    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    asked_at = models.DateTimeField()
    resent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When a run covering it started.")
    lost = models.BooleanField(default=False, help_text="Not in the broker: queueing or its run failed.")

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["key"], name="pendingtask_key"),
            models.Index(fields=["asked_at"], name="pendingtask_asked"),
        ]

    def __str__(self) -> str:
        return self.key


class DeliveryAttempt(models.Model):
    class Channel(models.TextChoices):
        HTTP = "http"
        WEBSOCKET = "websocket"

    delivery = models.ForeignKey(OutboundDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.HTTP)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "at"]

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.at}: {self.status_code or self.error}"


class KnowledgeArticle(TimeStamped):
    """A help-centre article the assist engines retrieve for agents (and the reference bot answers from)."""

    title = models.CharField(max_length=200)
    body = models.TextField()
    tags = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=10, default="en")
    slug = models.SlugField(max_length=200, unique=True)
    is_published = models.BooleanField(default=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class AssistItem(TimeStamped):
    """Something the AI put beside the agent after the handoff: an article, a suggested reply, a mood
    alert, a commitment update. One per handoff, kind and ``dedupe_key`` (the message that caused it), so
    a task that runs twice writes once."""

    class Kind(models.TextChoices):
        KB_ARTICLE = "kb_article"
        REPLY_SUGGESTION = "reply_suggestion"
        MOOD_ALERT = "mood_alert"
        COMMITMENT_UPDATE = "commitment_update"

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="assist_items")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    dedupe_key = models.CharField(max_length=100)
    payload = models.JSONField()
    dismissed = models.BooleanField(default=False)

    class Meta:
        ordering = ["handoff", "-created_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["handoff", "kind", "dedupe_key"], name="assist_item_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.handoff_id}"


class MessageWarning(models.Model):
    """A draft-check warning on a message the agent sent anyway (counted by the quality reports)."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="warnings")
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="message_warnings")
    kind = models.CharField(max_length=40, db_index=True)
    message = models.TextField()
    evidence = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["handoff", "created_at"]

    def __str__(self) -> str:
        return f"{self.kind} on turn {self.turn_id}"


class Handover(models.Model):
    """A shift handover (issue 9): one request that transferred every active handoff of an agent at once.

    Kept per (agent, key) so that a retried request returns what the first one did instead of transferring
    again; ``request_sha256`` tells a retry from a different request reusing the key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="handovers")
    key = models.CharField(max_length=100, help_text="The client's Idempotency-Key (or the form's).")
    request_sha256 = models.CharField(max_length=64)
    items = models.JSONField(default=list, help_text="Per handoff: rank, old and new handoff id, target.")
    went_away = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["agent", "key"], name="handover_unique_key"),
        ]

    def __str__(self) -> str:
        return f"handover by {self.agent} at {self.created_at:%Y-%m-%d %H:%M}"
