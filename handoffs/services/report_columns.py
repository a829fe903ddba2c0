"""What the handoff-quality report reads from each handoff row instead of joining other tables: the
customer's sentiment on either side of the handoff, the CSAT ratings given on it, and whether it came
back within 72 h of its resolve (docs/metrics.md, "How it is computed").

Each rule lives here once, as a recomputation from the source rows (not an increment), so a retried or
repeated call writes the same values. The services call them in the transaction that changes a source:
a scored customer turn (``turn_add``), a new escalation or transfer, a connect, a resolve, a rating.
Migration 0012 (``0012_handoff_report_columns``), ``seed_history`` and the report benchmark fill history with ``report_columns_refresh``.

The functions take the handoffs to refresh as a queryset; ``models`` lets a migration pass its historical
models (``apps.get_model``) instead of the current ones.
"""

from datetime import timedelta
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

RE_ESCALATION_WINDOW = timedelta(hours=72)


def _models(models: dict[str, Any] | None) -> dict[str, Any]:
    if models is not None:
        return models
    from handoffs.models import CsatRating, Handoff, Turn

    return {"Handoff": Handoff, "Turn": Turn, "CsatRating": CsatRating}


def _scalar(rows: QuerySet[Any], key: str, aggregate: Any, field: FloatField | IntegerField) -> Coalesce:
    """One aggregate over ``rows`` (correlated to a handoff) as a scalar subquery, 0 when none."""
    total = rows.order_by().values(key).annotate(value=aggregate).values("value")
    return Coalesce(Subquery(total, output_field=field), Value(0), output_field=field)


def sentiment_sides_refresh(handoffs: QuerySet[Any], models: dict[str, Any] | None = None) -> int:
    """Recompute the ``sentiment_*`` columns of ``handoffs`` (see ``_sentiment_sides``)."""
    return handoffs.update(**_sentiment_sides(models))


def _sentiment_sides(models: dict[str, Any] | None) -> dict[str, Any]:
    """``sentiment_before_*``: the sum and number of the conversation's scored customer turns that
    occurred before the handoff was queued; ``sentiment_after_*``: those from its connect on (none while
    it is not connected), whenever they arrived (after a transfer or the end too). The report's
    ``sentiment_delta_avg`` is the mean of after/after_n − before/before_n over the connected handoffs
    with both sides."""
    scored = _models(models)["Turn"].objects.filter(
        conversation_id=OuterRef("conversation_id"), role="customer", sentiment__isnull=False
    )
    before = scored.filter(occurred_at__lt=OuterRef("queued_at"))
    after = scored.filter(occurred_at__gte=OuterRef("connected_at"))  # NULL connected_at matches nothing
    key = "conversation_id"
    return {
        "sentiment_before_sum": _scalar(before, key, Sum("sentiment"), FloatField()),
        "sentiment_before_count": _scalar(before, key, Count("sentiment"), IntegerField()),
        "sentiment_after_sum": _scalar(after, key, Sum("sentiment"), FloatField()),
        "sentiment_after_count": _scalar(after, key, Count("sentiment"), IntegerField()),
    }


def csat_sums_refresh(handoffs: QuerySet[Any], models: dict[str, Any] | None = None) -> int:
    """Recompute the ``csat_*`` columns of ``handoffs`` (see ``_csat_sums``)."""
    return handoffs.update(**_csat_sums(models))


def _csat_sums(models: dict[str, Any] | None) -> dict[str, Any]:
    """The sum and number of the ``bot``-phase and ``human``-phase ratings given on each handoff."""
    ratings = _models(models)["CsatRating"].objects.filter(handoff_id=OuterRef("pk"))
    bot, human = ratings.filter(phase="bot"), ratings.filter(phase="human")
    key = "handoff_id"
    return {
        "csat_bot_sum": _scalar(bot, key, Sum("score"), IntegerField()),
        "csat_bot_count": _scalar(bot, key, Count("score"), IntegerField()),
        "csat_human_sum": _scalar(human, key, Sum("score"), IntegerField()),
        "csat_human_count": _scalar(human, key, Count("score"), IntegerField()),
    }


def re_escalated_refresh(handoffs: QuerySet[Any], models: dict[str, Any] | None = None) -> int:
    """Recompute ``re_escalated`` of ``handoffs`` (see ``_re_escalated``)."""
    return handoffs.update(**_re_escalated(models))


def _re_escalated(models: dict[str, Any] | None) -> dict[str, Any]:
    """``re_escalated``: the handoff was resolved and its conversation was escalated again (a new
    escalation, not a transfer) within 72 h after the resolve."""
    later = (
        _models(models)["Handoff"]
        .objects.filter(
            conversation_id=OuterRef("conversation_id"),
            previous__isnull=True,
            queued_at__gt=OuterRef("ended_at"),
            queued_at__lte=OuterRef("ended_at") + RE_ESCALATION_WINDOW,
        )
        .order_by()
    )
    came_back = ExpressionWrapper(Q(status="resolved") & Exists(later), output_field=BooleanField())
    return {"re_escalated": came_back}


def report_columns_refresh(handoffs: QuerySet[Any], models: dict[str, Any] | None = None) -> int:
    """Every stored report column of ``handoffs`` (history written without the services), in one UPDATE."""
    return handoffs.update(**_sentiment_sides(models), **_csat_sums(models), **_re_escalated(models))
