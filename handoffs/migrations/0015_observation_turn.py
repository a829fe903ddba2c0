"""Inferred observations name the customer turn they were drawn from, once per turn and key.

The inference task used to recognise its own earlier work by (conversation, the turn's time, key); the
customer turns of one batch without ``occurred_at`` share the batch's time, so the second was skipped.
Existing inferences are linked to their turn where that time names exactly one customer turn."""

import django.db.models.deletion
from django.db import migrations, models


def link_inferences_to_turns(apps, schema_editor):
    Observation = apps.get_model("handoffs", "Observation")
    Turn = apps.get_model("handoffs", "Turn")
    taken: set[tuple[int, str]] = set()
    inferred = Observation.objects.filter(source="inferred", turn__isnull=True, conversation__isnull=False)
    for observation in inferred.order_by("pk").iterator():
        turns = list(
            Turn.objects.filter(
                conversation_id=observation.conversation_id,
                role="customer",
                occurred_at=observation.observed_at,
            ).values_list("pk", flat=True)[:2]
        )
        if len(turns) != 1 or (turns[0], observation.key) in taken:
            continue  # ambiguous (a batch's turns) or not from a turn (a recurring issue): left unlinked
        taken.add((turns[0], observation.key))
        Observation.objects.filter(pk=observation.pk).update(turn_id=turns[0])
    if schema_editor.connection.vendor == "postgresql":
        # The new key's checks are deferred; PostgreSQL refuses to index a table with pending ones.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("handoffs", "0014_pending_tasks"),
    ]

    operations = [
        migrations.AddField(
            model_name="observation",
            name="turn",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="handoffs.turn",
            ),
        ),
        migrations.RunPython(link_inferences_to_turns, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="observation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("turn__isnull", False)),
                fields=("turn", "key"),
                name="observation_once_per_turn_key",
            ),
        ),
    ]
