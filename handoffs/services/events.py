"""Applying validated bot events to conversations, inside the caller's transaction.

A batch locks every conversation it touches up front, in a fixed order, so two concurrent batches
over the same conversations wait for each other instead of deadlocking. Each conversation's row
(status, sequence counter and denormalised context package) is saved once at the end.
"""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from handoffs.broadcast import broadcast_on_commit, conversation_group, team_queue_group
from handoffs.clock import iso
from handoffs.context import package as pkg
from handoffs.errors import Conflict, DomainError, InvalidInput
from handoffs.models import (
    NOT_IN_OVERLAP_WINDOW,
    Bot,
    Conversation,
    ConversationStatus,
    CsatRating,
    Customer,
    Handoff,
    HandoffStatus,
    Observation,
    Step,
    Turn,
)
from handoffs.scheduling import enqueue_on_commit
from handoffs.schemas import CustomerIn, TurnData
from handoffs.selfmodel.inference import infer_from_customer_text
from handoffs.services.escalation import handoff_escalate, handoff_public
from handoffs.services.handoffs import handoff_customer_wrote, handoff_take_back
from handoffs.services.report_columns import csat_sums_refresh
from handoffs.services.selfmodel import observation_record
from handoffs.services.turns import commitment_record, turn_add, turn_event
from handoffs.tasks import assist_for_turn, infer_recurring_issue, infer_self_model_from_turn

# A person is reading (preparing) or talking: the assist engines work beside them.
ASSISTED_STATUSES = frozenset({ConversationStatus.PREPARING, ConversationStatus.CONNECTED})
# Statuses in which people follow the conversation live (queue previews, preparation, chat).
WATCHED_STATUSES = frozenset(
    {ConversationStatus.QUEUED, ConversationStatus.PREPARING, ConversationStatus.CONNECTED}
)


class BatchApplier:
    def __init__(self, *, bot: Bot) -> None:
        self.bot = bot
        self.now = timezone.now()
        self.conversations: dict[str, Conversation] = {}

    def apply(self, events: list[Any]) -> tuple[int, dict[str, Any]]:
        self._lock_existing({event.conversation_id for event in events})
        escalated: tuple[Handoff, bool] | None = None
        last: Conversation | None = None
        for index, event in enumerate(events):
            try:
                conversation = self._conversation(event)
                outcome = getattr(self, f"_on_{event.type}")(
                    conversation, event, event.occurred_at or self.now
                )
            except DomainError as error:
                if len(events) > 1:
                    error.detail = f"events[{index}]: {error.detail}"
                    if error.errors:
                        for item in error.errors:
                            item["loc"] = ["body", "events", index, *item["loc"][1:]]
                raise
            if event.type == "escalation":
                escalated = outcome
            last = conversation
        for conversation in self.conversations.values():
            conversation.save(
                update_fields=[
                    "status",
                    "last_seq",
                    "issue_type",
                    "complexity",
                    "context",
                    "customer_left_at",
                    "updated_at",
                ]
            )
        assert last is not None
        conversation_ref = {"id": str(last.id), "conversation_id": last.external_id, "status": last.status}
        if escalated is not None:
            handoff, created = escalated
            return (201 if created else 200), {
                "handoff": handoff_public(
                    handoff, conversation=last, with_announcement=True, just_queued=created
                ),
                "conversation": conversation_ref,
            }
        return 200, {
            "conversation": conversation_ref,
            "escalation_advice": pkg.escalation_advice(last.context),
        }

    # --- conversations and customers --------------------------------------------------------------

    def _lock_existing(self, external_ids: set[str]) -> None:
        # FOR NO KEY UPDATE (no_key): batches on a conversation still queue behind each other, but rows that
        # only reference it (a task's observation, with the customer locked) are not blocked: FOR UPDATE
        # here deadlocked with the self-model inference task for the same customer.
        rows = (
            Conversation.objects.select_for_update(no_key=True)
            .select_related("customer")
            .filter(bot=self.bot, external_id__in=sorted(external_ids))
            .order_by("external_id")
        )
        self.conversations.update({row.external_id: row for row in rows})

    def _conversation(self, event: Any) -> Conversation:
        conversation = self.conversations.get(event.conversation_id)
        if conversation is None:
            conversation = self._start_conversation(event)
            self.conversations[event.conversation_id] = conversation
        elif event.customer is not None:
            if event.customer.id != conversation.customer.external_id:
                raise InvalidInput(
                    "customer.id differs from the customer this conversation started with.",
                    errors=[{"loc": ["body", "customer", "id"], "msg": "does not match the conversation"}],
                )
            self._update_customer(conversation.customer, event.customer)
            pkg.set_customer(
                conversation.context, name=conversation.customer.name, locale=conversation.customer.locale
            )
        return conversation

    def _start_conversation(self, event: Any) -> Conversation:
        if event.customer is None:
            raise InvalidInput(
                "A conversation's first event must carry the customer.",
                errors=[{"loc": ["body", "customer"], "msg": "required on a conversation's first event"}],
            )
        customer = self._customer(event.customer)
        context = pkg.new_package(customer_name=customer.name, locale=customer.locale)
        context["earlier_handoffs"] = earlier_handoffs(customer)
        try:
            with transaction.atomic():
                return Conversation.objects.create(
                    bot=self.bot, external_id=event.conversation_id, customer=customer, context=context
                )
        except IntegrityError:
            # Created by a concurrent request since we looked: wait for its lock and continue with it.
            return (
                Conversation.objects.select_for_update(no_key=True)
                .select_related("customer")
                .get(bot=self.bot, external_id=event.conversation_id)
            )

    def _customer(self, data: CustomerIn) -> Customer:
        customer, created = Customer.objects.get_or_create(
            external_id=data.id,
            defaults={"name": data.name or "", "email": data.email or "", "locale": data.locale or ""},
        )
        if not created:
            self._update_customer(customer, data)
        return customer

    @staticmethod
    def _update_customer(customer: Customer, data: CustomerIn) -> None:
        changed = [
            field
            for field in ("name", "email", "locale")
            if getattr(data, field) and getattr(data, field) != getattr(customer, field)
        ]
        for field in changed:
            setattr(customer, field, getattr(data, field))
        if changed:
            customer.save(update_fields=[*changed, "updated_at"])

    # --- turns ------------------------------------------------------------------------------------

    def add_turn(
        self, conversation: Conversation, *, role: str, text: str, at: datetime, external_id: str = ""
    ) -> Turn | None:
        return turn_add(conversation, role=role, text=text, at=at, external_id=external_id)

    def _on_turn(self, conversation: Conversation, event: Any, at: datetime) -> None:
        data: TurnData = event.data
        if data.role == "bot" and conversation.status == ConversationStatus.CONNECTED:
            raise Conflict(
                "A person is connected to this conversation; bot turns are refused until it is returned.",
                code="conversation_human_owned",
            )
        turn = self.add_turn(conversation, role=data.role, text=data.text, at=at, external_id=data.id or "")
        if turn is None:
            return
        if data.role == "customer":
            conversation.customer_left_at = None  # they are back (or never left)
        if data.role == "customer" and _suggests_something_new(conversation, data.text):
            enqueue_on_commit(infer_self_model_from_turn, turn.pk)
        if data.role == "customer" and conversation.status in (
            ConversationStatus.RESOLVED,
            ConversationStatus.ABANDONED,
        ):
            conversation.status = ConversationStatus.BOT  # the customer came back: the bot has them again
        if conversation.status not in WATCHED_STATUSES:
            return  # nobody watches a conversation live before it is handed off: skip the push
        if data.role == "customer" and conversation.status in ASSISTED_STATUSES:
            enqueue_on_commit(assist_for_turn, turn.pk)
        if data.role == "customer" and conversation.status == ConversationStatus.CONNECTED:
            handoff_customer_wrote(conversation)  # an answer is now due (see the timing rules)
        broadcast_on_commit(conversation_group(conversation.id), turn_event(turn))

    # --- other event types ------------------------------------------------------------------------

    def _on_step(self, conversation: Conversation, event: Any, at: datetime) -> None:
        data = event.data
        Step.objects.create(
            conversation=conversation,
            action=data.action,
            outcome=data.outcome,
            detail=data.detail or "",
            occurred_at=at,
        )
        pkg.add_step(
            conversation.context,
            action=data.action,
            outcome=data.outcome,
            detail=data.detail or "",
            at=iso(at),
        )

    def _on_commitment(self, conversation: Conversation, event: Any, at: datetime) -> None:
        commitment_record(conversation, event.data)

    def _on_observation(self, conversation: Conversation, event: Any, at: datetime) -> None:
        data = event.data
        observation_record(
            customer=conversation.customer,
            key=data.key,
            value=data.value,
            confidence=data.confidence,
            scope=data.scope,
            source=Observation.Source.BOT,
            source_ref=self.bot.bot_id,
            observed_at=at,
            conversation=conversation,
        )

    def _on_classification(self, conversation: Conversation, event: Any, at: datetime) -> None:
        data = event.data
        conversation.issue_type = data.issue_type
        conversation.complexity = data.complexity
        enqueue_on_commit(infer_recurring_issue, str(conversation.pk))
        pkg.set_classification(
            conversation.context,
            issue_type=data.issue_type,
            complexity=data.complexity,
            intent=data.intent or "",
            confidence=data.confidence,
        )

    def _on_escalation(self, conversation: Conversation, event: Any, at: datetime) -> tuple[Handoff, bool]:
        return handoff_escalate(conversation=conversation, data=event.data, at=at, add_turn=self.add_turn)

    def _on_takeback(self, conversation: Conversation, event: Any, at: datetime) -> None:
        handoff_take_back(
            conversation=conversation, note=event.data.note or "", callback=event.data.callback, at=at
        )

    def _on_csat(self, conversation: Conversation, event: Any, at: datetime) -> None:
        data = event.data
        # The handoff the customer was with: not a warm transfer still in its overlap window (they have
        # not met its receiver yet, and a cancelled one is deleted with what hangs on it).
        handoff = conversation.handoffs.filter(NOT_IN_OVERLAP_WINDOW).order_by("-queued_at").first()
        CsatRating.objects.create(
            conversation=conversation, handoff=handoff, phase=data.phase, score=data.score, created_at=at
        )
        if handoff is not None:
            csat_sums_refresh(Handoff.objects.filter(pk=handoff.pk))  # what the quality report reads

    def _on_customer_left(self, conversation: Conversation, event: Any, at: datetime) -> None:
        # A warm transfer in its overlap window stays: the sender, still connected, wraps up or cancels it.
        waiting = conversation.handoffs.filter(
            NOT_IN_OVERLAP_WINDOW, status__in=[HandoffStatus.QUEUED, HandoffStatus.PREPARING]
        ).first()
        if waiting is not None:
            waiting.status = HandoffStatus.ABANDONED
            waiting.ended_at = at
            waiting.save(update_fields=["status", "ended_at", "updated_at"])
            pkg.record_handoff(conversation.context, {"id": str(waiting.id), "status": waiting.status})
            broadcast_on_commit(
                team_queue_group(waiting.team_id), {"type": "handoff.removed", "handoff_id": str(waiting.id)}
            )
        if conversation.status == ConversationStatus.CONNECTED:
            # A person is with them: keep the handoff open for the agent to wrap up, and tell them. Nothing
            # is due to someone who is gone: no reply deadline, so nobody is reassigned a dead chat.
            conversation.customer_left_at = at
            self.add_turn(conversation, role="system", text="The customer left the chat.", at=at)
            for handoff in conversation.handoffs.filter(
                status=HandoffStatus.CONNECTED, reply_due_at__isnull=False
            ).select_for_update(of=("self",)):
                handoff.reply_due_at = None
                handoff.save(update_fields=["reply_due_at", "updated_at"])
                event = {"type": "handoff.updated", "handoff_id": str(handoff.id), "status": handoff.status}
                broadcast_on_commit(conversation_group(conversation.id), event)
        else:
            conversation.status = ConversationStatus.ABANDONED


def _suggests_something_new(conversation: Conversation, text: str) -> bool:
    """Whether a customer turn hints at a self-model value this conversation has not hinted at before.

    The task that records inferences is worth a message only then (one per conversation and key, not
    one per turn); the cues themselves are a few regexes, cheap enough to run here.
    """
    signals = conversation.context.setdefault("customer", {}).setdefault("signals", {})
    fresh = {
        item.key: item.value for item in infer_from_customer_text(text) if signals.get(item.key) != item.value
    }
    signals.update(fresh)
    return bool(fresh)


def earlier_handoffs(customer: Customer, limit: int = 5) -> list[dict[str, Any]]:
    """A returning customer's latest handoffs elsewhere, so the next person can open their frames."""
    rows = (
        Handoff.objects.filter(conversation__customer=customer)
        .select_related("conversation", "team")
        .order_by("-queued_at")[:limit]
    )
    return [
        {
            "id": str(row.id),
            "conversation_id": row.conversation.external_id,
            "status": row.status,
            "team": row.team.name,
            "reason": row.reason,
            "queued_at": iso(row.queued_at),
        }
        for row in rows
    ]
