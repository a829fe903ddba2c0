"""What the handoff-quality report reads off each handoff row (docs/metrics.md, "How it is computed").

- ``sentiment_before_sum/_count``, ``sentiment_after_sum/_count``: the conversation's scored customer
  turns before the handoff was queued and from its connect on (the sentiment delta);
- ``csat_bot_sum/_count``, ``csat_human_sum/_count``: the ratings given on the handoff, by phase;
- ``re_escalated``: resolved, and the conversation was escalated again within 72 h.

The services keep them in the transaction that changes their source (handoffs/services/report_columns.py);
this migration fills them for the handoffs that exist, with the same functions. The report then reads
the period's handoffs alone instead of joining their turns, ratings and later handoffs.
"""

from typing import Any

from django.db import migrations, models


def backfill(apps: Any, schema_editor: Any) -> None:
    from handoffs.services.report_columns import report_columns_refresh

    if schema_editor.connection.vendor == "postgresql":
        # JIT would compile the statement's dozens of expressions slower than it runs
        schema_editor.execute("SET LOCAL jit = off")
    models = {name: apps.get_model("handoffs", name) for name in ("Handoff", "Turn", "CsatRating")}
    report_columns_refresh(models["Handoff"].objects.all(), models)


def _count() -> models.PositiveIntegerField:
    return models.PositiveIntegerField(db_default=0, default=0)


class Migration(migrations.Migration):
    dependencies = [
        ("handoffs", "0011_routing_timers"),
    ]

    operations = [
        migrations.AddField("handoff", "sentiment_before_sum", models.FloatField(db_default=0, default=0)),
        migrations.AddField("handoff", "sentiment_before_count", _count()),
        migrations.AddField("handoff", "sentiment_after_sum", models.FloatField(db_default=0, default=0)),
        migrations.AddField("handoff", "sentiment_after_count", _count()),
        migrations.AddField("handoff", "csat_bot_sum", _count()),
        migrations.AddField("handoff", "csat_bot_count", _count()),
        migrations.AddField("handoff", "csat_human_sum", _count()),
        migrations.AddField("handoff", "csat_human_count", _count()),
        migrations.AddField("handoff", "re_escalated", models.BooleanField(db_default=False, default=False)),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
