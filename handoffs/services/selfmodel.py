"""Self-model writes: observations in, the key's belief recomputed under the customer's row lock."""

from datetime import datetime
from typing import Any

from django.db import transaction

from handoffs.models import Belief, Conversation, Customer, Observation
from handoffs.selfmodel import rules


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
) -> Observation:
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
        )
        belief_refresh(customer=customer, key=key)
    return observation


def belief_refresh(*, customer: Customer, key: str) -> Belief | None:
    observations = [
        rules.Observation(
            id=row.pk,
            key=row.key,
            value=row.value,
            confidence=row.confidence,
            scope=row.scope,
            source=row.source,
            source_ref=row.source_ref,
            observed_at=row.observed_at,
        )
        for row in Observation.objects.filter(customer=customer, key=key)
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
