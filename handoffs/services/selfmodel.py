"""Self-model writes: observations in, the key's belief recomputed under the customer's row lock."""

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from handoffs import selectors
from handoffs.errors import Forbidden, InvalidInput
from handoffs.models import AgentProfile, AuditEvent, Belief, Conversation, Customer, Observation, Scope, Turn
from handoffs.selfmodel import rules
from handoffs.selfmodel.inference import infer_from_customer_text
from handoffs.services.agents import team_scopes

INFERENCE_REF = "warmline"
RECURRENCE_WINDOW = timedelta(days=90)


def observation_record(
    *,
    customer: Customer,
    key: str,
    value: Any,
    confidence: float,
    scope: str,
    source: str,
    source_ref: str,
    observed_at: datetime,
    conversation: Conversation | None = None,
    turn: Turn | None = None,
) -> Observation:
    if value is None:
        # The bodies' schemas refuse null already; this also covers the console's belief form.
        raise InvalidInput(
            "An observation needs a value (null is none).",
            errors=[{"loc": ["body", "value"], "msg": "must not be null"}],
        )
    with transaction.atomic():
        # Serialise writers per customer: each recomputation sees every committed observation, so
        # concurrent writers end at the same belief as if they had written one after another.
        Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True).first()
        observation = Observation.objects.create(
            customer=customer,
            conversation=conversation,
            key=key,
            value=value,
            confidence=confidence,
            scope=scope,
            source=source,
            source_ref=source_ref,
            observed_at=observed_at,
            turn=turn,
        )
        belief_refresh(customer=customer, key=key)
    return observation


def as_rule_observation(row: Observation) -> rules.Observation:
    return rules.Observation(
        id=row.pk,
        key=row.key,
        value=row.value,
        confidence=row.confidence,
        scope=row.scope,
        source=row.source,
        source_ref=row.source_ref,
        observed_at=row.observed_at,
    )


def belief_refresh(*, customer: Customer, key: str) -> Belief | None:
    observations = [
        as_rule_observation(row) for row in Observation.objects.filter(customer=customer, key=key)
    ]
    if not observations:
        Belief.objects.filter(customer=customer, key=key).delete()
        return None
    # Stored as of the newest evidence; readers apply decay from there to their own "now".
    newest = max(observation.observed_at for observation in observations)
    belief = rules.aggregate(observations, now=newest)
    assert belief is not None
    stored, _ = Belief.objects.update_or_create(
        customer=customer,
        key=key,
        defaults={
            "value": belief.value,
            "confidence": belief.confidence,
            "scope": belief.scope,
            "updated_at": belief.updated_at,
            "sources": belief.sources,
            "history": belief.history,
        },
    )
    return stored


def selfmodel_read(
    *, customer: Customer, scopes: Iterable[str], actor_type: str, actor_ref: str
) -> list[dict]:
    """The beliefs a reader may see; reading any ``sensitive`` belief leaves an audit record."""
    beliefs = selectors.beliefs_visible(customer=customer, scopes=scopes)
    sensitive = [belief["key"] for belief in beliefs if belief["scope"] == Scope.SENSITIVE]
    if sensitive:
        AuditEvent.objects.create(
            actor_type=actor_type,
            actor_ref=actor_ref,
            action=AuditEvent.Action.SENSITIVE_READ,
            customer=customer,
            customer_ref=customer.external_id,
            detail={"keys": sensitive},
        )
    return beliefs


def selfmodel_infer_from_turn(*, turn_id: int) -> list[Observation]:
    """Record what a customer turn suggests about them, unless the self-model already holds it as firmly."""
    turn = Turn.objects.select_related("conversation__customer").filter(pk=turn_id, role="customer").first()
    if turn is None:
        return []
    customer = turn.conversation.customer
    current = {belief.key: belief for belief in Belief.objects.filter(customer=customer)}
    # Idempotent per turn (the task is durable: it may be resent after a lost run, or overlap another run):
    # what a run inferred from this same turn is not recorded again. Keyed on the turn, not its time: the
    # turns of one batch without ``occurred_at`` all share the batch's time.
    done = set(Observation.objects.filter(turn=turn).values_list("key", flat=True))
    recorded = []
    for inference in infer_from_customer_text(turn.text):
        if inference.key in done:
            continue
        held = current.get(inference.key)
        if held is not None and held.value == inference.value and held.confidence >= inference.confidence:
            continue  # nothing new: do not pile up identical evidence turn after turn
        try:
            observation = observation_record(
                customer=customer,
                key=inference.key,
                value=inference.value,
                confidence=inference.confidence,
                scope=inference.scope,
                source=Observation.Source.INFERRED,
                source_ref=INFERENCE_REF,
                observed_at=turn.occurred_at,
                conversation=turn.conversation,
                turn=turn,
            )
        except IntegrityError:
            if Observation.objects.filter(turn=turn, key=inference.key).exists():
                continue  # an overlapping run recorded it first (observation_once_per_turn_key)
            raise
        recorded.append(observation)
    return recorded


def selfmodel_infer_recurring_issue(*, conversation_id: Any) -> Observation | None:
    """A customer who comes back with the same kind of issue has a recurring issue."""
    conversation = Conversation.objects.select_related("customer").filter(pk=conversation_id).first()
    if conversation is None or not conversation.issue_type:
        return None
    earlier = (
        Conversation.objects.filter(
            customer=conversation.customer,
            issue_type=conversation.issue_type,
            created_at__gte=conversation.created_at - RECURRENCE_WINDOW,
        )
        .exclude(pk=conversation.pk)
        .count()
    )
    if earlier == 0:
        return None
    already = Observation.objects.filter(
        customer=conversation.customer,
        conversation=conversation,
        key="recurring_issue",
        value=conversation.issue_type,
        source=Observation.Source.INFERRED,
    )
    if already.exists():
        return None  # a resent or repeated run (idempotent per conversation and issue type)
    return observation_record(
        customer=conversation.customer,
        key="recurring_issue",
        value=conversation.issue_type,
        confidence=min(0.5 + 0.1 * earlier, 0.9),
        scope=Scope.GENERAL,
        source=Observation.Source.INFERRED,
        source_ref=INFERENCE_REF,
        observed_at=timezone.now(),
        conversation=conversation,
    )


BELIEF_KEY = re.compile(r"[A-Za-z][\w.\-]{0,99}")


def agent_observation_record(
    *, agent: AgentProfile, customer_external_id: str, key: str, value: Any, confidence: float, scope: str
) -> dict[str, Any] | None:
    """A person's observation (confirm, correct or add a belief); returns the belief as they may see it."""
    if not BELIEF_KEY.fullmatch(key):
        raise InvalidInput(
            "A belief's key is a word such as preferred_language (letters, digits, _ . -).",
            errors=[{"loc": ["body", "key"], "msg": "invalid key"}],
        )
    customer = selectors.customer_for_agent(agent=agent, external_id=customer_external_id)
    readable = team_scopes(agent)
    if scope not in readable:
        raise Forbidden(f"Your teams may not write {scope!r} beliefs.", code="scope_not_granted")
    observation_record(
        customer=customer,
        key=key,
        value=value,
        confidence=confidence,
        scope=scope,
        source=Observation.Source.AGENT,
        source_ref=agent.user.get_username(),
        observed_at=timezone.now(),
    )
    visible = selfmodel_read(
        customer=customer, scopes=readable, actor_type="agent", actor_ref=agent.user.get_username()
    )
    return next((belief for belief in visible if belief["key"] == key), None)
