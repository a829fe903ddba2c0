"""Knowledge base: import_kb (Markdown with and without front matter, JSON, directories, re-import, errors),
ranked retrieval (PostgreSQL full-text search; the SQLite fallback scorer), the demo articles and the admin."""

import importlib
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from handoffs import knowledge
from handoffs.knowledge import kb_search, rank_articles
from handoffs.models import KnowledgeArticle

pytestmark = pytest.mark.django_db

DEMO_KB = Path(knowledge.__file__).parent / "demo" / "kb"
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL full-text search")


def import_kb(*args: str) -> str:
    out = StringIO()
    call_command("import_kb", *args, stdout=out)
    return out.getvalue()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


REFUNDS_MD = """---
title: Refunds for cancelled orders
slug: refunds-cancelled
tags: [Refunds, cancellations, refunds]
language: es-MX
---
# Refunds for cancelled orders

Cancelled orders are refunded within 3 business days.
"""


# Import ------------------------------------------------------------------------------------------------


def test_markdown_with_front_matter(tmp_path):
    # given
    file = write(tmp_path / "refunds.md", REFUNDS_MD)
    # when
    output = import_kb(str(file))
    # then
    article = KnowledgeArticle.objects.get()
    assert "1 new" in output
    assert article.title == "Refunds for cancelled orders"
    assert article.slug == "refunds-cancelled"
    assert article.tags == ["refunds", "cancellations"]  # normalised: lower case, no duplicates
    assert article.language == "es-mx"
    assert article.is_published
    assert (
        article.body == "Cancelled orders are refunded within 3 business days.\n"
    )  # no front matter, no title


def test_markdown_without_front_matter_takes_title_from_first_heading_and_slug_from_file_name(tmp_path):
    # given
    file = write(
        tmp_path / "Lost Parcels.md",
        "Intro line.\n\n# Lost parcels\n\nOpen a claim after 5 days.\n\n# Second heading\n",
    )
    # when
    import_kb(str(file))
    # then
    article = KnowledgeArticle.objects.get()
    assert article.title == "Lost parcels"
    assert article.slug == "lost-parcels"
    assert article.language == "en"
    assert article.tags == []
    assert "# Lost parcels" not in article.body
    assert "Open a claim" in article.body and "# Second heading" in article.body


def test_default_language_option_applies_to_files_that_name_none(tmp_path):
    write(tmp_path / "a.md", "# Envíos\n\nTardan 3 días.\n")
    import_kb(str(tmp_path / "a.md"), "--language", "es")
    assert KnowledgeArticle.objects.get().language == "es"


def test_json_list(tmp_path):
    # given
    file = write(
        tmp_path / "faq.json",
        json.dumps(
            [
                {"title": "Warranty", "body": "Two years.", "tags": ["warranty"]},
                {
                    "title": "Gift cards",
                    "slug": "gift-cards-v2",
                    "body": "Never expire.",
                    "language": "es",
                    "published": False,
                },
            ]
        ),
    )
    # when
    output = import_kb(str(file))
    # then
    assert "2 new" in output
    warranty = KnowledgeArticle.objects.get(slug="warranty")
    assert (warranty.title, warranty.tags, warranty.language, warranty.is_published) == (
        "Warranty",
        ["warranty"],
        "en",
        True,
    )
    gift = KnowledgeArticle.objects.get(slug="gift-cards-v2")
    assert (gift.language, gift.is_published) == ("es", False)


def test_json_single_object(tmp_path):
    file = write(tmp_path / "one.json", json.dumps({"title": "Invoices", "body": "Under Billing."}))
    import_kb(str(file))
    assert KnowledgeArticle.objects.get().slug == "invoices"


def test_directory_recursive_mixed_formats_hidden_files_ignored(tmp_path):
    # given
    write(tmp_path / "refunds.md", REFUNDS_MD)
    write(tmp_path / "billing" / "invoices.json", json.dumps({"title": "Invoices", "body": "Under Billing."}))
    write(tmp_path / "billing" / "notes.txt", "not an article")
    write(tmp_path / ".drafts" / "draft.md", "# Draft\n\nNot yet.\n")
    write(tmp_path / ".hidden.md", "# Hidden\n\nNo.\n")
    # when
    output = import_kb(str(tmp_path))
    # then
    assert sorted(KnowledgeArticle.objects.values_list("slug", flat=True)) == [
        "invoices",
        "refunds-cancelled",
    ]
    assert "2 article(s) from 2 file(s)" in output


def test_reimport_updates_by_slug_and_is_idempotent(tmp_path):
    # given
    file = write(tmp_path / "refunds.md", REFUNDS_MD)
    import_kb(str(file))
    first = KnowledgeArticle.objects.get()
    # when: same file again
    again = import_kb(str(file))
    # then
    assert "1 unchanged" in again
    # when: edited title, tags and body, same slug
    write(
        file, REFUNDS_MD.replace("3 business days", "5 business days").replace("[Refunds, ", "[money back, ")
    )
    edited = import_kb(str(file))
    # then
    assert "1 updated" in edited
    article = KnowledgeArticle.objects.get()
    assert article.pk == first.pk
    assert "5 business days" in article.body
    assert article.tags == ["money back", "cancellations", "refunds"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.json", '[{"title": "A", "body": "B"},', "invalid JSON"),
        ("no-body.json", '[{"title": "A", "body": "B"}, {"title": "C"}]', "item 1"),
        ("scalar.json", '["just text"]', "article object"),
        ("unclosed.md", "---\ntitle: A\n\nBody\n", "never closed"),
        ("bad-yaml.md", "---\ntitle: [unclosed\n---\nBody\n", "not valid YAML"),
        ("list-yaml.md", "---\n- a\n- b\n---\nBody\n", "key: value"),
        ("bad-tags.md", "---\ntitle: A\ntags: {a: 1}\n---\nBody\n", "tags must be a list"),
        ("bad-language.md", "---\ntitle: A\nlanguage: English please\n---\nBody\n", "language"),
        ("no-title.md", "Just a body, no heading.\n", "no title"),
        ("empty-body.md", "# Title only\n", "needs a body"),
        ("bad-slug.md", "---\ntitle: A\nslug: not a slug!\n---\nBody\n", "slug"),
    ],
)
def test_bad_file_names_the_file_and_imports_nothing(tmp_path, name, content, message):
    # given: a good file and a bad one, and an existing article the good file would change
    good = write(tmp_path / "a-good.md", REFUNDS_MD)
    import_kb(str(good))
    write(good, REFUNDS_MD.replace("3 business days", "9 business days"))
    write(tmp_path / name, content)
    # when
    with pytest.raises(CommandError, match=message) as raised:
        import_kb(str(tmp_path))
    # then
    assert name in str(raised.value)
    assert KnowledgeArticle.objects.count() == 1
    assert "3 business days" in KnowledgeArticle.objects.get().body


def test_non_utf8_and_wrong_kinds_of_path(tmp_path):
    (tmp_path / "latin1.md").write_bytes("# Devolución\n\ncañón\n".encode("latin-1"))
    with pytest.raises(CommandError, match=r"latin1\.md: not UTF-8"):
        import_kb(str(tmp_path / "latin1.md"))
    with pytest.raises(CommandError, match=r"notes\.txt: not a Markdown"):
        import_kb(str(write(tmp_path / "notes.txt", "x")))
    with pytest.raises(CommandError, match="no such file"):
        import_kb(str(tmp_path / "missing.md"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match=r"no \.md"):
        import_kb(str(tmp_path / "empty"))


def test_same_slug_in_two_files_is_an_error(tmp_path):
    write(tmp_path / "a.md", REFUNDS_MD)
    write(tmp_path / "b.json", json.dumps({"title": "X", "slug": "refunds-cancelled", "body": "Y"}))
    with pytest.raises(CommandError, match=r"b\.json: slug 'refunds-cancelled' is also used in .*a\.md"):
        import_kb(str(tmp_path))
    assert not KnowledgeArticle.objects.exists()


def test_front_matter_reader_without_pyyaml(tmp_path):
    meta = knowledge._simple_front_matter(
        tmp_path / "x.md", "title: 'Returns: how'\ntags: [a, \"b c\"]\nlanguage: es\npublished: false\n"
    )
    assert meta == {"title": "Returns: how", "tags": ["a", "b c"], "language": "es", "published": False}


# Demo articles and seed_demo ---------------------------------------------------------------------------


def test_demo_articles_import_cleanly(tmp_path):
    report = knowledge.kb_import(DEMO_KB)
    assert report.total == len(report.created) >= 15
    languages = list(KnowledgeArticle.objects.values_list("language", flat=True))
    assert languages.count("es") == 3
    assert all(article.body.strip() and article.title for article in KnowledgeArticle.objects.all())


def test_seed_demo_loads_the_knowledge_base(settings, tmp_path):
    settings.BASE_DIR = tmp_path  # seed_demo writes the demo bot's credentials there
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)  # idempotent
    assert KnowledgeArticle.objects.filter(slug="lost-parcel").exists()
    assert KnowledgeArticle.objects.count() >= 15
    assert "Knowledge base: " in out.getvalue()


# Retrieval ----------------------------------------------------------------------------------------------


@pytest.fixture
def demo_kb(db):
    knowledge.kb_import(DEMO_KB)


def slugs(query: str, language: str = "en", limit: int = 3) -> list[str]:
    return [result["slug"] for result in kb_search(query=query, language=language, limit=limit)]


@pytest.mark.parametrize(
    ("query", "language", "expected"),
    [
        ("my parcel never arrived", "en", "lost-parcel"),
        (
            "Hi, I ordered a jacket two weeks ago and the tracking still says in transit, it never arrived",
            "en",
            "lost-parcel",
        ),
        ("I was charged twice for the same order", "en", "double-charge"),
        ("there is a payment on my card I don't recognise", "en", "billing-dispute"),
        ("I forgot my password and can't log in", "en", "password-reset"),
        ("the verification code from my authenticator app is rejected", "en", "two-factor-authentication"),
        ("how do I cancel my subscription", "en", "cancel-subscription"),
        ("I want to upgrade to the Pro plan", "en", "plan-upgrade"),
        ("the item arrived broken", "en", "damaged-item"),
        ("I want to return these shoes and get a refund", "en", "returns-and-refunds"),
        ("my headphones stopped working after 8 months", "en", "warranty"),
        ("can I change the delivery address of my order", "en", "change-delivery-address"),
        ("how long does express shipping take", "en", "delivery-times"),
        ("mi paquete nunca llegó", "es", "es-paquete-perdido"),
        ("me han cobrado dos veces el mismo pedido", "es", "es-cobro-duplicado"),
        ("quiero hacer una devolucion y que me reembolsen", "es", "es-devoluciones-y-reembolsos"),
    ],
)
def test_customer_words_rank_the_right_article_first(demo_kb, query, language, expected):
    assert slugs(query, language)[0] == expected


def test_spanish_customer_prefers_the_spanish_article_english_customer_the_english_one(demo_kb):
    # Both languages have a lost-parcel article; the tags and titles share "paquete"/"parcel" only within
    # each language, and the customer's language decides.
    assert slugs("paquete perdido, el seguimiento no se mueve", "es-ES")[0] == "es-paquete-perdido"
    assert slugs("lost parcel, tracking has not moved", "en")[0] == "lost-parcel"
    # A Spanish customer typing without accents still finds the Spanish article.
    assert slugs("me cobraron dos veces, cobro duplicado en la tarjeta", "es")[0] == "es-cobro-duplicado"


def test_results_shape_order_limit_and_published_only(demo_kb):
    # given
    KnowledgeArticle.objects.filter(slug="double-charge").update(is_published=False)
    # when
    results = kb_search(
        query="I was charged twice, please refund the duplicate payment", language="en", limit=5
    )
    # then
    assert results and len(results) <= 5
    assert all(set(result) == {"id", "title", "slug", "snippet", "score"} for result in results)
    assert "double-charge" not in [result["slug"] for result in results]
    scores = [result["score"] for result in results]
    assert scores == sorted(scores, reverse=True) and all(0 < score <= 1 for score in scores)
    assert all(len(result["snippet"]) <= knowledge.SNIPPET_CHARS for result in results)
    assert len(kb_search(query="refund", language="en", limit=1)) == 1


def test_snippet_is_the_sentence_that_matches(demo_kb):
    result = kb_search(query="the reset email does not arrive, is it in spam?", language="en")[0]
    assert result["slug"] == "password-reset"
    assert "spam" in result["snippet"]
    assert "*" not in result["snippet"] and "#" not in result["snippet"]


@pytest.mark.parametrize("query", ["", "   ", "hi, thanks!", "¿hola?", "12345678"])
def test_queries_without_content_words_return_nothing(demo_kb, query):
    assert kb_search(query=query, language="en") == []


def test_query_syntax_in_customer_text_is_just_words(demo_kb):
    # tsquery operators and quotes in what the customer typed must not break or steer the query
    assert slugs("parcel & !arrived | (lost) 'never' <-> \"tracking\":*", "en")[0] == "lost-parcel"


@postgres_only
def test_gin_index_over_generated_search_column_is_used():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = 'handoffs_kb_search_gin'",
            [KnowledgeArticle._meta.db_table],
        )
        (indexdef,) = cursor.fetchone()
        assert "gin (search)" in indexdef
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM handoffs_knowledgearticle "
            "WHERE search @@ to_tsquery('english', 'parcel | arrive')"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "handoffs_kb_search_gin" in plan


@postgres_only
def test_search_column_weights_title_tags_body_and_folds_accents():
    article, _ = knowledge.kb_article_upsert(
        title="Devolución rápida", body="Cuerpo con reembolso.", tags=["Envío"], language="es"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT search::text FROM {KnowledgeArticle._meta.db_table} WHERE id = %s",  # noqa: S608
            [article.pk],
        )
        (vector,) = cursor.fetchone()
    assert "'devolucion':1A" in vector and "'envi':3B" in vector and "'reembols':6C" in vector


def test_migration_folds_accents_exactly_like_the_query():
    migration = importlib.import_module("handoffs.migrations.0005_knowledge_search")
    assert (migration.FOLD_FROM, migration.FOLD_TO) == (knowledge.FOLD_FROM, knowledge.FOLD_TO)


def test_models_and_migrations_agree():
    call_command("makemigrations", "handoffs", "--check", "--dry-run", stdout=StringIO())


# The SQLite fallback scorer -----------------------------------------------------------------------------


def article(pk: int, title: str, body: str, tags: list[str] | None = None, language: str = "en") -> dict:
    return {
        "id": pk,
        "title": title,
        "slug": f"a{pk}",
        "body": body,
        "tags": tags or [],
        "language": language,
    }


def test_fallback_ranks_by_shared_words_title_over_tags_over_body():
    articles = [
        article(1, "Delivery times", "Parcels usually come in 3 days."),
        article(2, "Lost parcels", "If a parcel never arrived, open a claim.", ["missing delivery"]),
        article(3, "Password reset", "Use the link we email you."),
        article(4, "Shipping", "Text only.", ["parcel"]),
    ]
    results = rank_articles(query="My parcel never arrived!", language="en", articles=articles, limit=5)
    # a2: title, tags and body; a4: a tag; a1: the body only; a3 shares nothing
    assert [result["slug"] for result in results] == ["a2", "a4", "a1"]
    assert results[0]["snippet"] == "If a parcel never arrived, open a claim."
    assert results[0]["score"] > results[1]["score"] > results[2]["score"] > 0


def test_fallback_matches_word_forms_and_accents():
    articles = [article(1, "Devoluciones", "Para devolver un artículo…", language="es")]
    assert rank_articles(query="devolución del articulo", language="es", articles=articles)
    articles = [article(1, "Refunds", "We refunded the charges.")]
    assert rank_articles(query="refund charged", language="en", articles=articles)


def test_fallback_prefers_the_customers_language():
    articles = [
        article(1, "Paquete perdido", "El paquete no ha llegado.", ["paquete"], language="es"),
        article(2, "Paquete perdido", "El paquete no ha llegado.", ["paquete"], language="en"),
    ]
    spanish = rank_articles(query="mi paquete", language="es-MX", articles=articles)
    english = rank_articles(query="mi paquete", language="en", articles=articles)
    assert [r["id"] for r in spanish] == [1, 2] and [r["id"] for r in english] == [2, 1]
    assert spanish[1]["score"] == pytest.approx(spanish[0]["score"] * knowledge.OTHER_LANGUAGE_FACTOR)


def test_fallback_ignores_stopwords_and_respects_limit():
    articles = [article(pk, f"The {pk} and the", "It is what it is, hello thanks.") for pk in range(1, 4)]
    assert rank_articles(query="what is the and it hello thanks", language="en", articles=articles) == []
    articles = [article(pk, f"Refund {pk}", "Refund.") for pk in range(1, 6)]
    assert len(rank_articles(query="refund", language="en", articles=articles, limit=2)) == 2


# Admin --------------------------------------------------------------------------------------------------


def test_admin_lists_searches_and_saves_through_the_same_cleaning(admin_client, demo_kb):
    url = "/admin/handoffs/knowledgearticle/"
    page = admin_client.get(url, {"q": "parcel", "language": "es"})
    assert page.status_code == 200
    response = admin_client.post(
        f"{url}add/",
        {
            "title": "  Gift   cards ",
            "slug": "gift-cards",
            "language": "ES_mx",
            "tags": '["Gift", "gift", "Cards"]',
            "is_published": "on",
            "body": "Gift cards never expire.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    gift = KnowledgeArticle.objects.get(slug="gift-cards")
    assert (gift.title, gift.language, gift.tags) == ("Gift cards", "es-mx", ["gift", "cards"])
    bad = admin_client.post(
        f"{url}add/", {"title": "X", "slug": "x", "language": "en", "tags": '{"a": 1}', "body": "Y"}
    )
    assert bad.status_code == 200 and "tags must be a list" in bad.content.decode()
