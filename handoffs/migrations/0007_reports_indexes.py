"""Indexes for the handoff-quality reports (handoffs/reports.py; measured by bench/reports_bench.py).

- ``handoff_queued_team``: handoffs queued in a period (of some teams), the filter every report starts
  from, and the later escalations the re-escalation rate looks for. While the period covers most of the
  table a sequential scan is cheaper and PostgreSQL takes it; once history outgrows the period (30 days
  out of months of handoffs) this index finds the rows.
- ``turn_customer_mood``: the scored customer turns of a conversation in time order, with their
  sentiment (INCLUDE, PostgreSQL): the sentiment delta reads them from the index alone instead of
  the whole turn table (customer turns are half the turns, and the heap rows are wide with text).

They are database-only (``SeparateDatabaseAndState`` with no state change): the covering INCLUDE
exists on PostgreSQL only, and a model ``Meta.indexes`` entry would warn on the embedded SQLite
default at every command. SQLite gets the same partial index without the included column.
"""

from typing import Any

from django.db import migrations

CREATE = {
    "handoff_queued_team": "CREATE INDEX IF NOT EXISTS handoff_queued_team "
    "ON handoffs_handoff (queued_at, team_id)",
    "turn_customer_mood": "CREATE INDEX IF NOT EXISTS turn_customer_mood "
    "ON handoffs_turn (conversation_id, occurred_at){include} "
    "WHERE role = 'customer' AND sentiment IS NOT NULL",
}


def create(apps: Any, schema_editor: Any) -> None:
    include = " INCLUDE (sentiment)" if schema_editor.connection.vendor == "postgresql" else ""
    for statement in CREATE.values():
        schema_editor.execute(statement.format(include=include))


def drop(apps: Any, schema_editor: Any) -> None:
    for name in CREATE:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("handoffs", "0006_routing"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop)],
            state_operations=[],
        ),
    ]
