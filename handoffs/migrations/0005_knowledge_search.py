"""Full-text search for knowledge articles on PostgreSQL: a stored generated ``search`` tsvector and its GIN index.

The column is weighted title (A) + tags (B) + body (C), built with the text-search configuration of the
article's language ('english' for en, 'spanish' for es, 'simple' otherwise) over accent-folded text, so
"devolucion" and "devolución" meet. It lives only in the database: the model does not declare it (the
ORM never writes it, PostgreSQL computes it), so the migration state is unchanged and ``makemigrations
--check`` stays clean. On SQLite (the embedded demo) both steps do nothing; handoffs.knowledge falls back
to a term-overlap scorer in Python.

Keep FOLD_FROM / FOLD_TO equal to handoffs.knowledge's (a test checks).
"""

from django.db import migrations

TABLE = "handoffs_knowledgearticle"
FOLD_FROM = "ÁÀÂÄÃÉÈÊËÍÌÎÏÓÒÔÖÕÚÙÛÜÑÇáàâäãéèêëíìîïóòôöõúùûüñç"
FOLD_TO = "AAAAAEEEEIIIIOOOOOUUUUNCaaaaaeeeeiiiiooooouuuunc"

# A CASE over regconfig constants is immutable (a text-to-regconfig cast would not be), as a generated
# column requires.
CONFIG = (
    "(CASE lower(split_part(replace(language, '_', '-'), '-', 1))"
    " WHEN 'en' THEN 'english'::regconfig"
    " WHEN 'es' THEN 'spanish'::regconfig"
    " ELSE 'simple'::regconfig END)"
)


def _weighted(expression: str, weight: str) -> str:
    return f"setweight(to_tsvector({CONFIG}, translate({expression}, '{FOLD_FROM}', '{FOLD_TO}')), '{weight}')"


ADD_COLUMN = (
    f"ALTER TABLE {TABLE} ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    f"{_weighted('title', 'A')} || {_weighted('tags::text', 'B')} || {_weighted('body', 'C')}"
    ") STORED"
)
ADD_INDEX = f"CREATE INDEX handoffs_kb_search_gin ON {TABLE} USING GIN (search)"
DROP_INDEX = "DROP INDEX IF EXISTS handoffs_kb_search_gin"
DROP_COLUMN = f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS search"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(ADD_COLUMN)
    schema_editor.execute(ADD_INDEX)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP_INDEX)
    schema_editor.execute(DROP_COLUMN)


class Migration(migrations.Migration):
    dependencies = [
        ("handoffs", "0004_assist"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
