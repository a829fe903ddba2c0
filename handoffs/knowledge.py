"""Knowledge base: ranked retrieval for the assist panel, the upsert the importer and admin share, the importer.

Retrieval (``kb_search``) takes the customer's own words, however long, and returns the best few published
articles, preferring the customer's language. Stopwords and chatter ("hi", "thanks", "quiero") are
dropped; every remaining word counts (OR), so a long sentence still finds articles sharing several words.

- PostgreSQL: migration 0005 keeps a stored, generated ``search`` tsvector per article (title weight A,
  tags B, body C; the 'english' configuration for en, 'spanish' for es, 'simple' otherwise; accents
  folded) under a GIN index. One query: a GIN probe per word gives each word's document frequency and the
  articles that have it; the 100 articles covering most of the query by IDF weight are ranked with
  ``ts_rank_cd`` (cover density, title above tags above body, damped by length) using the query stemmed in
  the article's own configuration, times that IDF coverage, halved for another language. Only the pool
  has its vector read, so the cost stays low on a large knowledge base even when common words match
  thousands of articles.
- SQLite (the embedded demo): the same contract and the same shape of score from ``rank_articles``, in
  Python over the published articles (five-letter prefixes as stems).

Each result is ``{"id", "title", "slug", "snippet", "score"}`` (score in 0..1, comparable within one
query); the snippet is the body's sentence that shares most words with the query.
"""

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils.text import slugify

from handoffs.errors import InvalidInput
from handoffs.models import KnowledgeArticle

# Same table as migration 0005's generated column (a test keeps them equal).
FOLD_FROM = "ÁÀÂÄÃÉÈÊËÍÌÎÏÓÒÔÖÕÚÙÛÜÑÇáàâäãéèêëíìîïóòôöõúùûüñç"
FOLD_TO = "AAAAAEEEEIIIIOOOOOUUUUNCaaaaaeeeeiiiiooooouuuunc"
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)

CONFIGS = {"en": "english", "es": "spanish"}
OTHER_LANGUAGE_FACTOR = 0.5
MAX_QUERY_TERMS = 32
MAX_LIMIT = 50
SNIPPET_CHARS = 200
# Weights of title (A), tags (B) and body (C): ts_rank_cd's array is {D, C, B, A}.
TITLE_WEIGHT, TAG_WEIGHT, BODY_WEIGHT = 1.0, 0.4, 0.2

_STOPWORDS_EN = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is
are was were be been being have has had having do does did doing a an the and but if or because as until
while of at by for with about against between into through during before after above below to from up
down in out on off over under again further then once here there when where why how all any both each few
more most other some such no nor not only own same so than too very s t can will just don should now d ll
m o re ve y ain aren couldn didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn weren
won wouldn would could get got im ive id dont cant also still yet already ok okay yes hi hello hey please
thanks thank help anyone someone something want wanted need needed like
"""
_STOPWORDS_ES = """
de la que el en y a los del se las por un para con no una su al lo como mas pero sus le ya o este si
porque esta entre cuando muy sin sobre tambien me hasta hay donde quien desde todo nos durante todos uno
les ni contra otros ese eso ante ellos e esto mi antes algunos unos yo otro otras otra el tanto esa
estos mucho quienes nada muchos cual poco ella estar estas algunas algo nosotros mis tu te ti tus ellas
nosotras vosotros vosotras os mio mia mios mias tuyo tuya suyo suya nuestro nuestra vuestro esos esas
estoy estas esta estamos estan este estaba estaban fue fueron ser es son era eran he has ha hemos han
habia habian tengo tiene tienen tenia hola gracias favor ayuda ayudar buenas buenos dias hace puede
puedo quiero necesito usted ustedes
"""
STOPWORDS = frozenset(_STOPWORDS_EN.split()) | frozenset(_STOPWORDS_ES.split())
_WORD = re.compile(r"[^\W_]+")


def language_base(language: str) -> str:
    """'es-MX', 'ES', 'es_ES' -> 'es'."""
    return (language or "").strip().lower().replace("_", "-").split("-", 1)[0]


def search_config(language: str) -> str:
    """The PostgreSQL text-search configuration for a language: english, spanish, or simple."""
    return CONFIGS.get(language_base(language), "simple")


def fold(text: str) -> str:
    return text.translate(_FOLD).lower()


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def query_terms(text: str) -> list[str]:
    """The query's distinct content words, folded, in order: no stopwords, no long numbers (order ids)."""
    seen: dict[str, None] = {}
    for word in words(text):
        if len(word) < 2 or word in STOPWORDS or (word.isdigit() and len(word) > 4):
            continue
        seen.setdefault(word, None)
    return list(seen)[:MAX_QUERY_TERMS]


def stem(word: str) -> str:
    """Crude but language-neutral: a five-letter prefix (parcel/parcels, arrive/arrived, devolución/devolver)."""
    return word[:5]


def kb_search(*, query: str, language: str = "en", limit: int = 3) -> list[dict[str, Any]]:
    """The best ``limit`` published articles for a customer's words, preferring their language."""
    terms = query_terms(query)
    limit = max(1, min(int(limit), MAX_LIMIT))
    if not terms:
        return []
    if connection.vendor == "postgresql":
        return _postgres_search(terms, language, limit)
    articles = KnowledgeArticle.objects.filter(is_published=True).values(
        "id", "title", "slug", "body", "tags", "language"
    )
    return rank_articles(query=query, language=language, articles=articles, limit=limit)


_TABLE = KnowledgeArticle._meta.db_table
_BASE = "lower(split_part(replace(a.language, '_', '-'), '-', 1))"
# One GIN probe per word, in all three normalisations (the word's English, Spanish and unstemmed forms),
# gives each word's document frequency and the articles that have it. It reads no article's vector: the
# tsquery comes from the outer row, so the planner cannot take a common word for "most rows" and choose
# a sequential scan (which would detoast and test every vector). IDF-weighted coverage then picks a pool
# of candidates, and only those are ranked with ts_rank_cd: each with the query stemmed in its own
# configuration (the one its column was built with), so a customer whose language is unknown or wrong
# still finds articles in the language they wrote in; the customer's language only sets the preference.
# Only constants are formatted in; the customer's words travel as parameters.
_SEARCH_SQL = f"""
WITH hit AS (
    SELECT w.term, a.id
    FROM unnest(%(words)s::text[]) WITH ORDINALITY AS w(word, term)
    CROSS JOIN LATERAL (
        SELECT id FROM {_TABLE}
        WHERE is_published
          AND search @@ (
              to_tsquery('english', w.word) || to_tsquery('spanish', w.word) || to_tsquery('simple', w.word)
          )
    ) AS a
),
df AS (SELECT term, count(*) AS n FROM hit GROUP BY term),
corpus AS (
    SELECT greatest(reltuples, (SELECT max(n) FROM df), 1) AS n FROM pg_class WHERE oid = '{_TABLE}'::regclass
),
idf AS (SELECT df.term, ln(1 + corpus.n / df.n) AS w FROM df, corpus),
pool AS (
    SELECT hit.id, sum(idf.w) / (SELECT sum(w) FROM idf) AS coverage
    FROM hit JOIN idf USING (term)
    GROUP BY hit.id
    ORDER BY coverage DESC, hit.id
    LIMIT %(pool)s
),
ranked AS (
    SELECT a.id,
           ts_rank_cd(
               '{{0.1, {BODY_WEIGHT}, {TAG_WEIGHT}, {TITLE_WEIGHT}}}', a.search,
               CASE {_BASE}
                   WHEN 'en' THEN to_tsquery('english', %(query)s)
                   WHEN 'es' THEN to_tsquery('spanish', %(query)s)
                   ELSE to_tsquery('simple', %(query)s)
               END,
               1 | 32
           ) * pool.coverage
           * CASE WHEN {_BASE} = %(language)s THEN 1.0 ELSE %(other_factor)s END AS score
    FROM pool JOIN {_TABLE} AS a ON a.id = pool.id
)
SELECT id, score FROM ranked WHERE score > 0 ORDER BY score DESC, id LIMIT %(limit)s
"""  # noqa: S608
POOL = 100


def _postgres_search(terms: list[str], language: str, limit: int) -> list[dict[str, Any]]:
    # Terms are letters and digits only, so each is a well-formed tsquery and joining them with | is too;
    # to_tsquery stems them and drops each configuration's stopwords.
    params: dict[str, Any] = {
        "words": terms,
        "query": " | ".join(terms),
        "language": language_base(language),
        "other_factor": OTHER_LANGUAGE_FACTOR,
        "pool": max(POOL, limit),
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_SEARCH_SQL, params)
        ranked = [(row[0], float(row[1])) for row in cursor.fetchall()]
    if not ranked:
        return []
    articles = KnowledgeArticle.objects.only("id", "title", "slug", "body").in_bulk([pk for pk, _ in ranked])
    stems = {stem(term) for term in terms}
    return [
        _result(articles[pk].pk, articles[pk].title, articles[pk].slug, articles[pk].body, stems, score)
        for pk, score in ranked
        if pk in articles
    ]


def rank_articles(
    *, query: str, language: str, articles: Iterable[Mapping[str, Any]], limit: int = 3
) -> list[dict[str, Any]]:
    """The fallback scorer (SQLite), in Python, shaped like the PostgreSQL ranking.

    Per article: a field score over the distinct query stems it shares (title 1.0, tags 0.4, body
    0.2 x (1 + ln tf)), mapped to 0..1 as s / (s + 1); times its IDF-weighted coverage of the query (the
    share of the query's rare words it has: ln(1 + N / df) per stem, over the stems some article has);
    halved for an article in another language. Articles sharing no stem are left out.
    """
    stems = {stem(term) for term in query_terms(query)}
    if not stems:
        return []
    wanted = language_base(language)
    indexed = []
    for article in articles:
        title = {stem(word) for word in words(article["title"])} & stems
        tags = {stem(word) for word in words(" ".join(_tag_strings(article.get("tags"))))} & stems
        body = Counter(stem(word) for word in words(article["body"]) if word[:5] in stems)
        indexed.append((article, title, tags, body, title | tags | set(body)))
    df = Counter(term for *_, shared in indexed for term in shared)
    idf = {term: math.log(1 + len(indexed) / count) for term, count in df.items()}
    total_idf = sum(idf.values())
    scored: list[tuple[float, int, Mapping[str, Any]]] = []
    for article, title, tags, body, shared in indexed:
        if not shared:
            continue
        fields = sum(
            TITLE_WEIGHT * (term in title)
            + TAG_WEIGHT * (term in tags)
            + (BODY_WEIGHT * (1 + math.log(body[term])) if body[term] else 0.0)
            for term in shared
        )
        score = fields / (fields + 1) * sum(idf[term] for term in shared) / total_idf
        if language_base(article.get("language") or "") != wanted:
            score *= OTHER_LANGUAGE_FACTOR
        scored.append((score, article["id"], article))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [
        _result(article["id"], article["title"], article["slug"], article["body"], stems, score)
        for score, _, article in scored[: max(1, limit)]
    ]


def _tag_strings(tags: Any) -> list[str]:
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def _result(pk: int, title: str, slug: str, body: str, stems: set[str], score: float) -> dict[str, Any]:
    return {"id": pk, "title": title, "slug": slug, "snippet": snippet(body, stems), "score": round(score, 4)}


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"[*`]+")
_BLOCK_MARKUP = re.compile(r"^\s*(?:#+|>|[-+]\s|\d+[.)]\s)|\|")


def snippet(body: str, stems: set[str], size: int = SNIPPET_CHARS) -> str:
    """The body's sentence sharing most query stems (the first one on a tie or none), as plain text; a
    heading or a short sentence runs on into the next ones while they fit."""
    sentences: list[tuple[str, bool]] = []
    for part in re.split(r"(?<=[.!?])\s+|\n+", body):
        text = " ".join(_BLOCK_MARKUP.sub(" ", _EMPHASIS.sub("", _LINK.sub(r"\1", part))).split())
        if len(text) > 2 and not text.startswith("---"):
            sentences.append((text, part.lstrip().startswith("#")))
    if not sentences:
        return ""
    best = max(
        range(len(sentences)),
        key=lambda i: (len({stem(word) for word in words(sentences[i][0])} & stems), -i),
    )
    text, heading = sentences[best]
    for following, _ in sentences[best + 1 :]:
        if len(text) >= size // 2 or len(text) + len(following) + 2 > size:
            break
        text = f"{text}{':' if heading else ''} {following}"
        heading = False
    if len(text) <= size:
        return text
    return text[: size - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


# Writing articles ---------------------------------------------------------------------------------------

_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
FIELDS = ("title", "body", "slug", "tags", "language", "is_published")


def kb_article_clean(
    *,
    title: Any,
    body: Any,
    slug: Any = "",
    tags: Any = None,
    language: Any = "en",
    is_published: Any = True,
) -> dict[str, Any]:
    """Validated, normalised article fields; InvalidInput naming the first problem."""
    if not isinstance(title, str) or not title.strip():
        raise InvalidInput("An article needs a title (text).")
    title = " ".join(title.split())
    if len(title) > 200:
        raise InvalidInput(f"Title is longer than 200 characters: {title[:40]!r}…")
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput(f"Article {title!r} needs a body (text).")
    slug = slug if slug is not None else ""
    if not isinstance(slug, str):
        raise InvalidInput(f"Article {title!r}: slug must be text.")
    slug = slug.strip() or slugify(title)[:200].strip("-")
    if not slug or len(slug) > 200 or not _SLUG.match(slug):
        raise InvalidInput(f"Article {title!r}: slug {slug!r} must be letters, digits, - or _ (≤ 200).")
    if tags is None:
        tags = []
    elif isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise InvalidInput(f"Article {title!r}: tags must be a list of text.")
    clean_tags = list(dict.fromkeys(" ".join(tag.split()).lower() for tag in tags if tag.strip()))
    if not isinstance(language, str) or not language.strip():
        language = "en"
    language = language.strip().lower().replace("_", "-")
    if len(language) > 10 or not _LANGUAGE.match(language):
        raise InvalidInput(
            f"Article {title!r}: language {language!r} is not a language code like en or es-MX."
        )
    if not isinstance(is_published, bool):
        raise InvalidInput(f"Article {title!r}: published must be true or false.")
    return {
        "title": title,
        "body": body.strip() + "\n",
        "slug": slug,
        "tags": clean_tags,
        "language": language,
        "is_published": is_published,
    }


def kb_article_upsert(
    *, article: KnowledgeArticle | None = None, **fields: Any
) -> tuple[KnowledgeArticle, str]:
    """Create or update an article; returns it with "created", "updated" or "unchanged".

    Without ``article`` the slug is the key (the importer: re-importing updates); with it (the admin),
    that article is written, slug included.
    """
    data = kb_article_clean(**fields)
    if article is None:
        article = KnowledgeArticle.objects.filter(slug=data["slug"]).first()
        if article is None:
            return KnowledgeArticle.objects.create(**data), "created"
        if all(getattr(article, name) == value for name, value in data.items()):
            return article, "unchanged"
    created = article.pk is None
    for name, value in data.items():
        setattr(article, name, value)
    article.save()
    return article, "created" if created else "updated"


# Importing files ----------------------------------------------------------------------------------------

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".json": "json"}


class KnowledgeImportError(InvalidInput):
    """A file that cannot be imported; the message names it."""


@dataclass
class ImportReport:
    files: list[Path] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)


def kb_import(path: str | Path, *, default_language: str = "en") -> ImportReport:
    """Import a Markdown or JSON file, or a directory of them (recursively), keyed by slug.

    Every file is read and checked before anything is written, and the writes share one transaction:
    one bad file imports nothing. Errors are KnowledgeImportError naming the file.
    """
    files = _files(Path(path))
    records: list[tuple[Path, dict[str, Any]]] = []
    for file in files:
        for where, raw in _parse(file, default_language):
            try:
                records.append((file, kb_article_clean(**raw)))
            except InvalidInput as error:
                raise KnowledgeImportError(f"{file}{where}: {error.detail}") from error
    seen: dict[str, Path] = {}
    for file, data in records:
        if data["slug"] in seen:
            raise KnowledgeImportError(
                f"{file}: slug {data['slug']!r} is also used in {seen[data['slug']]}; give one of them another slug."
            )
        seen[data["slug"]] = file
    report = ImportReport(files=files)
    with transaction.atomic():
        for _file, data in records:
            _article, outcome = kb_article_upsert(**data)
            getattr(report, outcome).append(data["slug"])
    return report


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(
            file
            for file in path.rglob("*")
            if file.is_file()
            and file.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in file.relative_to(path).parts)
        )
        if not found:
            raise KnowledgeImportError(f"{path}: no .md, .markdown or .json files in this directory.")
        return found
    if not path.exists():
        raise KnowledgeImportError(f"{path}: no such file or directory.")
    if path.suffix.lower() not in SUFFIXES:
        raise KnowledgeImportError(f"{path}: not a Markdown (.md, .markdown) or JSON (.json) file.")
    return [path]


def _parse(file: Path, default_language: str) -> list[tuple[str, dict[str, Any]]]:
    """The raw article fields in a file, each with where it is ("" or " item 3")."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise KnowledgeImportError(
            f"{file}: not UTF-8 text ({error.reason} at byte {error.start})."
        ) from error
    except OSError as error:
        raise KnowledgeImportError(f"{file}: cannot be read ({error.strerror}).") from error
    if SUFFIXES[file.suffix.lower()] == "json":
        return _parse_json(file, text, default_language)
    return [("", _parse_markdown(file, text, default_language))]


def _fields(file: Path, where: str, raw: Mapping[str, Any], default_language: str) -> dict[str, Any]:
    """The article fields of one front matter or JSON object (unknown keys are ignored)."""
    published = raw.get("is_published", raw.get("published", True))
    language = raw.get("language", raw.get("lang")) or default_language
    data = {
        "title": raw.get("title"),
        "body": raw.get("body"),
        "slug": raw.get("slug") or "",
        "tags": raw.get("tags"),
        "language": language,
        "is_published": published,
    }
    for name in ("slug", "language"):
        if not isinstance(data[name], str):
            raise KnowledgeImportError(f"{file}{where}: {name} must be text.")
    return data


def _parse_json(file: Path, text: str, default_language: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise KnowledgeImportError(
            f"{file}: invalid JSON ({error.msg} at line {error.lineno}, column {error.colno})."
        ) from error
    items = loaded if isinstance(loaded, list) else [loaded]
    parsed = []
    for index, item in enumerate(items):
        where = f" item {index}" if isinstance(loaded, list) else ""
        if not isinstance(item, dict):
            raise KnowledgeImportError(f"{file}{where}: expected an article object with title and body.")
        parsed.append((where, _fields(file, where, item, default_language)))
    return parsed


_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE
)
_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def _parse_markdown(file: Path, text: str, default_language: str) -> dict[str, Any]:
    """Optional YAML front matter (title, slug, tags, language, published); else the first # heading is the
    title. The slug defaults to the file's name, so renaming a title updates the same article."""
    meta: dict[str, Any] = {}
    if re.match(r"\A---[ \t]*\r?\n", text):
        match = _FRONT_MATTER.match(text)
        if match is None:
            raise KnowledgeImportError(f"{file}: front matter opened with --- is never closed.")
        meta = _load_front_matter(file, match.group(1))
        text = text[match.end() :]
    heading = _HEADING.search(text)
    title = meta.get("title")
    if title is None and heading is not None:
        title = heading.group(1)
    if heading is not None and isinstance(title, str) and heading.group(1).strip() == title.strip():
        text = text[: heading.start()] + text[heading.end() :]  # the title is not repeated in the body
    if title is None:
        raise KnowledgeImportError(f"{file}: no title: add front matter with title: or a first '# heading'.")
    meta = {**meta, "title": title, "body": text}
    meta.setdefault("slug", slugify(file.stem))
    return _fields(file, "", meta, default_language)


def _load_front_matter(file: Path, source: str) -> dict[str, Any]:
    try:
        import yaml  # a dev dependency; the small reader below covers its absence
    except ImportError:  # pragma: no cover - PyYAML is installed wherever tests run
        loaded: Any = _simple_front_matter(file, source)
    else:
        try:
            loaded = yaml.safe_load(source)
        except yaml.YAMLError as error:
            raise KnowledgeImportError(f"{file}: front matter is not valid YAML ({error}).") from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise KnowledgeImportError(f"{file}: front matter must be key: value lines.")
    return loaded


def _simple_front_matter(file: Path, source: str) -> dict[str, Any]:
    """``key: value`` lines, ``[a, b]`` lists, quotes and true/false: enough for article front matter."""
    loaded: dict[str, Any] = {}
    for line in source.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise KnowledgeImportError(f"{file}: front matter line {line!r} is not key: value.")
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            loaded[key.strip()] = [
                item.strip().strip("'\"") for item in value[1:-1].split(",") if item.strip()
            ]
        elif value.lower() in {"true", "false"}:
            loaded[key.strip()] = value.lower() == "true"
        else:
            loaded[key.strip()] = value.strip("'\"")
    return loaded
