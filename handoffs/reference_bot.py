"""The reference bot: a built-in bot behind the customer chat widget, and a living example of the API.

It behaves like an external integration. Everything it tells Warmline goes through the contract's own
path: it signs each request with Standard Webhooks under its own secret, the signature is checked by
``bot_authenticate`` and the events are applied by ``events_ingest``, exactly as ``POST
/api/v1/bots/{bot_id}/events`` does; its reads (``GET .../handoffs/{id}``, ``GET .../conversations/{id}``)
are signed and verified the same way before the selector runs. Callbacks reach it over HTTP at its
``callback_url`` and it verifies their signature like any bot would (:meth:`ReferenceBot.callback_open`).
So it has no private shortcut: what it can do, any bot can do.

What it does with a customer's message:

1. posts it as a ``turn`` (role ``customer``); once a handoff is open it only relays (a person will
   answer; bot turns would be refused with 409 while someone is connected);
2. escalates on its own rules: an explicit request for a person (English or Spanish), a decision it has
   no authority for (refund exceptions, approvals, supervisors, waived fees…), Warmline's
   ``escalation_advice`` saying so (frustration trend, complexity…), or repeated failure (no help-center
   answer twice in a row);
3. otherwise answers from the knowledge base (``kb_search``), quoting the best article's first useful
   sentences, and records each attempt as a ``step``; on escalation it says the announcement and records
   its promise as a ``commitment``.

Its answers come back as *screen events* (``Screen``), which the widget renders; it never imports the
console. What it must remember between messages it reads back from Warmline (steps it recorded, the
conversation's status) or keeps in the cache (callback ids already seen, ratings given), as an external
bot would keep in its own store.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from handoffs import selectors
from handoffs.context.language import is_spanish
from handoffs.errors import DomainError, MalformedJson, NotAuthenticated, NotFound
from handoffs.knowledge import kb_search, query_terms, stem, words
from handoffs.models import Bot, BotSecret, KnowledgeArticle
from handoffs.services.bots import bot_authenticate, bot_create
from handoffs.services.escalation import handoff_public
from handoffs.services.ingest import IngestResult, events_ingest
from handoffs.signing import SignatureError, sign, verify

NAME = "Warmline reference bot"
MAX_TEXT = 2000
# kb_search's score is 0..1 on both backends; below this an article only shares a word or two in passing.
ANSWER_THRESHOLD = 0.2
# Words that alone say nothing about which article fits ("my order", "the item").
GENERIC_TERMS = frozenset(
    {"order", "orders", "item", "items", "product", "products", "account", "problem", "issue", "question"}
    | {"pedido", "producto", "cuenta", "problema", "pregunta"}
)
SEARCH_ACTION = "Searched the help center"
SUGGEST_ACTION = "Suggested a help-center article"
FAILURES_BEFORE_ESCALATION = 2
SEEN_CALLBACK_SECONDS = 48 * 3600
RATED_SECONDS = 7 * 24 * 3600
WAITING = frozenset({"queued", "preparing"})
HUMAN_OWNED = frozenset({"queued", "preparing", "connected"})

# --- the bot's own rules (its own, not Warmline's: an external bot would have its own) -------------------

_ASK_FOR_PERSON = re.compile(
    r"""
    \b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a|an|the|some|your|one\s+of\s+your)?\s*(?:real\s+|actual\s+|live\s+)?
        (?:human|person|people|agent|representative|rep|operator|someone|somebody|staff)\b
    | \b(?:real|actual|live)\s+(?:human|person|agent)\b
    | \b(?:get|give|connect|transfer|put)\s+me\s+(?:to|with|through\s+to)?\s*(?:a|an)?\s*
        (?:human|person|agent|representative|operator)\b
    | \b(?:want|need|like)\s+(?:a|an|to\s+talk\s+to\s+a|to\s+speak\s+to\s+a)\s+(?:human|person|agent|representative)\b
    | ^\W*(?:human|agent|representative|operator)(?:\s+please)?\W*$
    | \bhablar\s+con\s+(?:una\s+persona|alguien|un\s+humano|un\s+agente|un\s+operador|un\s+representante)\b
    | \b(?:persona\s+real|un\s+humano|agente\s+humano)\b
    | \b(?:p[aá]s[ae]me|p[oó]ngame|ponme|comun[ií]ca(?:me|me)?)\s+con\s+(?:una\s+persona|alguien|un\s+agente|un\s+humano)\b
    | \b(?:quiero|necesito)\s+(?:una\s+persona|un\s+agente|un\s+humano|hablar\s+con\s+alguien)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_NEEDS_AUTHORITY = re.compile(
    r"""
    \brefund\s+exception\b | \bmake\s+an\s+exception\b | \bexception\s+(?:to|for)\b
    | \bapprov(?:e|al|ed)\b | \bauthori[sz](?:e|ation)\b | \bsupervisor\b | \bmanager\b | \boverride\b
    | \bwaive[ds]?\b | \bwaiv(?:er|ing)\b | \bgoodwill\b | \bcompensat\w*
    | \bcancel\w*\b[^.?!]{0,60}\b(?:without|no|free\s+of)\s+(?:the\s+|a\s+|any\s+)?(?:fee|penalty|charge)s?\b
    | \b(?:chargeback|lawyer|legal\s+action)\b
    | \bexcepci[oó]n\b | \baprobaci[oó]n\b | \baprob(?:ar|ado|ada)\b | \bautoriza\w*
    | \bgerente\b | \bresponsable\b | \bcompensaci[oó]n\b | \bindemnizaci[oó]n\b
    | \bsin\s+(?:la\s+|ninguna\s+)?(?:penalizaci[oó]n|comisi[oó]n|cargo)\b
    | \b(?:anular|quitar|perdonar|condonar|eximir)\w*\s+(?:de\s+)?(?:la\s+|el\s+)?(?:penalizaci[oó]n|comisi[oó]n|tarifa|cargo)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_DID_NOT_HELP = re.compile(
    r"\b(?:did\s*n[o']?t|did\s+not|does\s*n[o']?t|does\s+not|not)\s+(?:really\s+)?(?:help|work|answer)|"
    r"\bnot\s+(?:helpful|useful|what\s+I)\b|\buseless\b|\bstill\s+(?:not|does|doesn|can'?t|broken)\b|"
    r"\bno\s+(?:me\s+)?(?:ayud[aó]|sirv[eió]|funcion[aó]|resuelve)\b|\bsigue\s+sin\b",
    re.IGNORECASE,
)
_THANKS = re.compile(r"\b(?:thanks|thank\s+you|thx|cheers|gracias|perfect[oa]?|great)\b", re.IGNORECASE)

# Sentences written for agents (the help center serves both sides): not something to quote to a customer.
_FOR_AGENTS = re.compile(
    r"\b(?:a|the|each|un|el|al)\s+(?:customer|cliente)s?\b|\bcustomers?\s+(?:often|usually|who)\b|"
    r"\bagents?\b|\bagentes?\b|\b(?:ask|tell)\s+(?:the|them)\b|\bfor\s+them\b|\bnever\s+(?:promise|set)\b|"
    r"\bdo\s+not\s+ask\b|\byou\s+may\s+offer\b|\bapologi[sz]e\b|\bpide\s+al\b|\brevisa\b|\bagent\s+tip\b|"
    r"\bexplain\b|\bexpl[ií]ca(?:le|les)?\b|\bcomprueba\b",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"[*_`]+")
_LIST_MARK = re.compile(r"^\s*(?:[-+>]\s+|\d+[.)]\s+)")

_ADVICE_CODES = (
    ("asked for a person", "customer_request"),
    ("authority", "authority_required"),
    ("customer is", "frustration"),
    ("failed", "repeated_failure"),
    ("complexity", "complexity"),
)

# --- what the bot says ------------------------------------------------------------------------------------

SAY: dict[str, dict[str, str]] = {
    "en": {
        "welcome": "Hi! I'm the Warmline assistant. Tell me what's going on (an order, a return, a charge, "
        "your account) and I'll find the answer. You can ask for a person at any time.",
        "answer": "Here's what our help center says in “{title}”:\n\n{quote}\n\n"
        "Did that answer your question? If not, tell me what's still missing, or ask for a person.",
        "no_answer": "I couldn't find anything about that in our help center. Could you tell me a bit more, "
        "like what you were trying to do, or an order number?",
        "did_not_help": "Sorry that didn't help. What's still not working? Tell me a little more and I'll look "
        "again, or ask for a person.",
        "hello": "Hi! What can I help you with today?",
        "thanks": "You're welcome! Is there anything else I can help with?",
        "back": "Thanks for your patience. You're back with me, the assistant: is there anything else I can "
        "help with?",
        "promise": "A specialist from our {team} team will pick up this conversation with everything "
        "discussed so far (expected wait: {wait}).",
        "minutes": "about {n} min",
        "under_a_minute": "under a minute",
        "joined": "{agent} joined the conversation.",
        "transferred_team": "You're being transferred to our {team} team, who will see everything so far.",
        "transferred_agent": "You're being transferred to {agent}, who will see everything so far.",
        "resolved": "This conversation was marked as resolved.",
    },
    "es": {
        "welcome": "¡Hola! Soy el asistente de Warmline. Cuénteme qué ocurre (un pedido, una devolución, un "
        "cobro, su cuenta) y buscaré la respuesta. Puede pedir hablar con una persona en cualquier momento.",
        "answer": "Esto es lo que dice nuestro centro de ayuda en «{title}»:\n\n{quote}\n\n"
        "¿Le ha servido? Si no, cuénteme qué falta o pida hablar con una persona.",
        "no_answer": "No he encontrado nada sobre eso en nuestro centro de ayuda. ¿Podría darme más detalles, "
        "por ejemplo qué intentaba hacer o un número de pedido?",
        "did_not_help": "Siento que no le haya servido. ¿Qué sigue sin funcionar? Cuénteme un poco más y "
        "buscaré de nuevo, o pida hablar con una persona.",
        "hello": "¡Hola! ¿En qué puedo ayudarle hoy?",
        "thanks": "¡De nada! ¿Puedo ayudarle en algo más?",
        "back": "Gracias por su paciencia. Vuelve a estar conmigo, el asistente: ¿puedo ayudarle en algo más?",
        "promise": "Un especialista del equipo {team} atenderá esta conversación con todo lo hablado hasta "
        "ahora (espera prevista: {wait}).",
        "minutes": "unos {n} min",
        "under_a_minute": "menos de un minuto",
        "joined": "{agent} se ha unido a la conversación.",
        "transferred_team": "Le pasamos con nuestro equipo {team}, que verá todo lo hablado.",
        "transferred_agent": "Le pasamos con {agent}, que verá todo lo hablado.",
        "resolved": "Esta conversación se ha marcado como resuelta.",
    },
}


class Screen(TypedDict, total=False):
    """One thing for the customer's screen.

    ``line``: a message (``role`` customer, bot, agent or system; ``text``; ``name`` for agents; ``key``
    unique per line); ``wait``: the open handoff's state (``handoff``: id, status, queue_position,
    estimated_wait_seconds, agent); ``mode``: who has the conversation now (``mode``: bot, queued,
    preparing, connected, resolved; ``agent``); ``rate``: ask for a rating (``phase``); ``rated``: a
    rating was recorded (``phase``).
    """

    type: Literal["line", "wait", "mode", "rate", "rated"]
    role: str
    text: str
    name: str
    key: str
    handoff: dict[str, Any]
    mode: str
    agent: str
    phase: str
    announcement: bool


@dataclass(frozen=True)
class Resume:
    """What a (re)connecting widget shows: the conversation so far and where it stands."""

    lines: list[Screen]
    mode: str
    agent: str
    handoff: dict[str, Any] | None
    rate: str  # the phase to ask a rating for now, or ""
    language: str


class BotError(Exception):
    """Warmline refused a request of the bot (the problem document's detail is the message)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def reference_bot_create(*, team_name: str = "Support", callback_url: str = "") -> tuple[Bot, str]:
    """Register a reference bot (its callback URL can be set once its id is known)."""
    return bot_create(
        name=NAME, team_name=team_name, callback_url=callback_url, scopes=["general", "billing", "technical"]
    )


def language_of(text: str, locale: str = "") -> str:
    if is_spanish(text):
        return "es"
    if text and len(words(text)) >= 3:
        return "en"
    return "es" if locale.lower().startswith("es") else "en"


def wait_words(seconds: int | None, language: str) -> str:
    say = SAY[language]
    if not seconds or seconds < 60:
        return say["under_a_minute"]
    return say["minutes"].format(n=-(-seconds // 60))


def quote_article(body: str, query: str, limit: int = 320) -> str:
    """The article's first useful sentences for this question: the best-matching customer-facing sentence
    and those after it while they fit. Headings, markup and sentences written for agents are left out."""
    sentences: list[str] = []
    for line in body.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "---", "|")):
            continue
        text = _EMPHASIS.sub("", _MARKUP.sub(r"\1", _LIST_MARK.sub("", line)))
        for part in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
            if len(part) > 3 and not _FOR_AGENTS.search(part):
                sentences.append(part)
    if not sentences:
        return ""
    asked = _stems(" ".join(query_terms(query)))
    overlap = [len(_stems(sentence) & asked) for sentence in sentences]
    # From the top (articles lead with what matters), unless a later sentence is clearly closer to the question.
    best = max(range(len(sentences)), key=lambda i: (overlap[i], -i))
    if overlap[best] - overlap[0] < 2:
        best = 0
    picked = sentences[best]
    for following in sentences[best + 1 :]:
        if len(picked) + len(following) + 1 > limit:
            break
        picked = f"{picked} {following}"
    if len(picked) > limit:
        picked = picked[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return picked


def _stems(text: str) -> set[str]:
    # Singular and plural alike ("items" / "item") on top of the knowledge base's prefix stems.
    return {stem(word[:-1] if len(word) > 3 and word.endswith("s") else word) for word in words(text)}


def escalation_rule(text: str) -> tuple[str, str] | None:
    """The bot's own rules on one customer message: (reason_code, reason), or None."""
    if _ASK_FOR_PERSON.search(text):
        return "customer_request", "The customer asked for a person."
    if _NEEDS_AUTHORITY.search(text):
        return (
            "authority_required",
            "The customer needs a decision the assistant cannot make (exception, approval, waiver).",
        )
    return None


def advice_reason_code(reasons: list[str]) -> str:
    for reason in reasons:
        for needle, code in _ADVICE_CODES:
            if needle in reason:
                return code
    return "other"


class ReferenceBot:
    """The reference bot acting for one registered bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.bot_id = bot.bot_id

    @classmethod
    def load(cls, bot_id: str) -> ReferenceBot:
        bot = Bot.objects.select_related("team").filter(bot_id=bot_id, is_active=True).first()
        if bot is None:
            raise NotFound("No such bot.")
        return cls(bot)

    # --- the signed transport: the same checks the HTTP endpoints make ---------------------------------

    def _secret(self) -> str:
        secret = selectors.bot_signing_secret(self.bot_id)
        if secret is None:
            raise BotError(401, "The bot has no active signing secret.")
        return secret

    def _authenticated(self, body: bytes) -> tuple[Bot, str]:
        headers = sign(body, secret=self._secret(), webhook_id=f"msg_{uuid.uuid4().hex}")
        try:
            return bot_authenticate(bot_id=self.bot_id, body=body, headers=headers)
        except DomainError as error:
            raise BotError(error.status, error.detail) from None

    def post(self, *events: dict[str, Any]) -> IngestResult:
        """``POST /api/v1/bots/{bot_id}/events``, one event or a batch, signed and verified."""
        payload: Any = events[0] if len(events) == 1 else {"events": list(events)}
        body = json.dumps(payload).encode()
        bot, webhook_id = self._authenticated(body)
        result = events_ingest(bot=bot, webhook_id=webhook_id, body=body)
        if result.status >= 400:
            raise BotError(result.status, str(result.body.get("detail", "")))
        return result

    def handoff(self, handoff_id: str) -> dict[str, Any]:
        """``GET /api/v1/bots/{bot_id}/handoffs/{id}``: status, queue position, estimated wait, agent."""
        bot, _ = self._authenticated(b"")
        try:
            handoff = selectors.handoff_for_bot(bot=bot, handoff_id=handoff_id)
        except DomainError as error:
            raise BotError(error.status, error.detail) from None
        return handoff_public(handoff, conversation=handoff.conversation)

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """``GET /api/v1/bots/{bot_id}/conversations/{id}`` (without the self-model: the bot reads none),
        or None before the conversation's first event."""
        bot, _ = self._authenticated(b"")
        try:
            conversation = selectors.conversation_for_bot(bot=bot, external_id=conversation_id)
        except NotFound:
            return None
        return selectors.conversation_public(conversation=conversation, self_model=[])

    # --- a customer's message ---------------------------------------------------------------------------

    def hear(self, *, conversation_id: str, customer: dict[str, Any], text: str) -> list[Screen]:
        """Post the customer's message and act on it; what the customer should see next."""
        text = clean_text(text)
        if not text:
            return []
        language = language_of(text, customer.get("locale") or "")
        result = self.post(
            {
                "type": "turn",
                "conversation_id": conversation_id,
                "customer": customer,
                "data": {"role": "customer", "text": text, "id": f"c-{uuid.uuid4().hex[:16]}"},
            }
        )
        status = result.body["conversation"]["status"]
        if status in HUMAN_OWNED:
            return []  # a person has (or is about to have) the conversation: the turn is for them
        rule = escalation_rule(text)
        if rule is not None:
            return self.escalate(
                conversation_id=conversation_id,
                reason_code=rule[0],
                reason=rule[1],
                focus=text,
                language=language,
            )
        advice = result.body.get("escalation_advice") or {}
        if advice.get("escalate"):
            reasons = [str(reason) for reason in advice.get("reasons") or []]
            return self.escalate(
                conversation_id=conversation_id,
                reason_code=advice_reason_code(reasons),
                reason="Warmline advised a person: " + ("; ".join(reasons) or "escalation advice"),
                focus=text,
                language=language,
            )
        # The bot has the conversation (again, after a resolution or a return): say so, then answer.
        return [
            {"type": "mode", "mode": "bot", "agent": ""},
            *self._answer(conversation_id=conversation_id, text=text, language=language),
        ]

    def _answer(self, *, conversation_id: str, text: str, language: str) -> list[Screen]:
        say = SAY[language]
        steps = self._recent_steps(conversation_id)
        last_suggested = _last_suggestion(steps)
        events: list[dict[str, Any]] = []
        if last_suggested and _DID_NOT_HELP.search(text):
            events.append(
                _step(
                    conversation_id,
                    SUGGEST_ACTION,
                    "failed",
                    f"The customer said “{last_suggested}” did not help.",
                )
            )
        terms = [term for term in query_terms(text) if term not in GENERIC_TERMS]
        if not terms:
            reply = say["thanks"] if _THANKS.search(text) else say["hello"]
            if events:
                reply = say["did_not_help"]
            return self._say(conversation_id, reply, events)

        found = [
            hit
            for hit in kb_search(query=text, language=language, limit=3)
            if hit["score"] >= ANSWER_THRESHOLD and hit["title"] != (last_suggested if events else None)
        ]
        article = (
            KnowledgeArticle.objects.filter(pk=found[0]["id"]).only("title", "body", "language").first()
            if found
            else None
        )
        quote = quote_article(article.body, text) if article is not None else ""
        if article is not None and article.language.startswith("es") != (language == "es"):
            # The customer wrote in the article's language (too short a message to tell otherwise).
            language = "es" if article.language.startswith("es") else "en"
            say = SAY[language]
        if article is None or not quote:
            failures = _trailing_failures(steps) + len(events) + 1
            events.append(
                _step(conversation_id, SEARCH_ACTION, "failed", f"Nothing matched “{_short(text)}”.")
            )
            if failures >= FAILURES_BEFORE_ESCALATION:
                self.post(*events)
                return self.escalate(
                    conversation_id=conversation_id,
                    reason_code="repeated_failure",
                    reason=f"The help center had no answer {failures} times in a row.",
                    focus=text,
                    language=language,
                )
            return self._say(
                conversation_id, say["did_not_help"] if len(events) > 1 else say["no_answer"], events
            )

        events.append(
            _step(
                conversation_id,
                SEARCH_ACTION,
                "succeeded",
                f"Suggested “{article.title}” for “{_short(text)}” (score {found[0]['score']:.2f}).",
            )
        )
        return self._say(conversation_id, say["answer"].format(title=article.title, quote=quote), events)

    def _say(
        self, conversation_id: str, text: str, before: list[dict[str, Any]] | None = None
    ) -> list[Screen]:
        key = f"b-{uuid.uuid4().hex[:16]}"
        self.post(
            *(before or []),
            {
                "type": "turn",
                "conversation_id": conversation_id,
                "data": {"role": "bot", "text": text, "id": key},
            },
        )
        return [{"type": "line", "role": "bot", "text": text, "key": key}]

    def _recent_steps(self, conversation_id: str) -> list[dict[str, Any]]:
        conversation = self.conversation(conversation_id)
        if conversation is None:
            return []
        return list(conversation["context"].get("steps_attempted") or [])

    # --- escalation -------------------------------------------------------------------------------------

    def escalate(
        self, *, conversation_id: str, reason_code: str, reason: str, focus: str, language: str
    ) -> list[Screen]:
        """Hand the conversation to a person: the escalation, then the announcement said and the promise
        recorded; the screen gets the announcement and the wait."""
        result = self.post(
            {
                "type": "escalation",
                "conversation_id": conversation_id,
                "data": {
                    "reason": reason,
                    "reason_code": reason_code,
                    "focus": _short(focus, 300),
                    "language": language,
                    "urgency": "high" if reason_code == "frustration" else "normal",
                },
            }
        )
        handoff = result.body["handoff"]
        screens: list[Screen] = []
        if result.status == 201:
            announcement = handoff.get("announcement") or ""
            promise = SAY[language]["promise"].format(
                team=self.bot.team.name, wait=wait_words(handoff.get("estimated_wait_seconds"), language)
            )
            key = f"b-{uuid.uuid4().hex[:16]}"
            self.post(
                {
                    "type": "turn",
                    "conversation_id": conversation_id,
                    "data": {"role": "bot", "text": announcement, "id": key},
                },
                {
                    "type": "commitment",
                    "conversation_id": conversation_id,
                    "data": {"text": promise, "kind": "follow_up"},
                },
            )
            screens.append(
                {"type": "line", "role": "bot", "text": announcement, "key": key, "announcement": True}
            )
        screens.append({"type": "mode", "mode": handoff["status"], "agent": handoff.get("agent") or ""})
        screens.append({"type": "wait", "handoff": _wait_of(handoff)})
        return screens

    # --- ratings and leaving ------------------------------------------------------------------------------

    def rate(self, *, conversation_id: str, phase: str, score: int, handoff_id: str = "") -> bool:
        """A ``csat`` event, once per phase and handoff; False if this one was already rated."""
        if phase not in ("bot", "human") or not 1 <= score <= 5:
            return False
        if not cache.add(self._rated_key(conversation_id, phase, handoff_id), score, RATED_SECONDS):
            return False
        try:
            self.post(
                {"type": "csat", "conversation_id": conversation_id, "data": {"score": score, "phase": phase}}
            )
        except BotError:
            cache.delete(self._rated_key(conversation_id, phase, handoff_id))
            raise
        return True

    def rated(self, *, conversation_id: str, phase: str, handoff_id: str = "") -> bool:
        return cache.get(self._rated_key(conversation_id, phase, handoff_id)) is not None

    def _rated_key(self, conversation_id: str, phase: str, handoff_id: str) -> str:
        return f"refbot:rated:{self.bot_id}:{conversation_id}:{handoff_id}:{phase}"

    def leave(self, *, conversation_id: str) -> None:
        if self.conversation(conversation_id) is not None:
            self.post({"type": "customer_left", "conversation_id": conversation_id, "data": {}})

    # --- callbacks ----------------------------------------------------------------------------------------

    def callback_receive(self, *, body: bytes, headers: Mapping[str, str]) -> tuple[str, list[Screen]]:
        """Verify a callback's signature under the bot's active secrets, as any bot would, and act on it:
        (its conversation id, what the customer should see). NotAuthenticated if it is not signed by us,
        MalformedJson if it is not a callback. A redelivery (same ``webhook-id``) changes nothing."""
        secrets = [
            row.secret
            for row in BotSecret.objects.filter(bot=self.bot).filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
            )
        ]
        try:
            body.decode()
        except UnicodeDecodeError:
            raise NotAuthenticated("The request is not signed by an active secret of this bot.") from None
        try:
            webhook_id = verify(body, headers, secrets)
        except SignatureError as error:
            raise NotAuthenticated(str(error)) from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise MalformedJson("The callback body is not JSON.") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("conversation_id"), str):
            raise MalformedJson("The callback has no conversation_id.")
        # Delivery is at least once: a redelivery carries the same webhook-id. It is remembered only once
        # handled, so one that failed half-way (and was answered 5xx) is handled again when it comes back.
        seen = f"refbot:callback:{self.bot_id}:{webhook_id}"
        if cache.get(seen) is not None:
            return payload["conversation_id"], []
        screens = self.on_callback(payload)
        cache.set(seen, 1, SEEN_CALLBACK_SECONDS)
        return payload["conversation_id"], screens

    def on_callback(self, payload: dict[str, Any]) -> list[Screen]:
        """What the customer sees for a callback; the bot also speaks when a conversation comes back to it."""
        kind = payload.get("type")
        data = payload.get("data") or {}
        handoff_id = str(payload.get("handoff_id") or "")
        conversation_id = str(payload["conversation_id"])
        if kind in ("handoff.queued", "handoff.eta"):
            wait = _wait_of({"id": handoff_id, "status": "queued", **data})
            queued: list[Screen] = (
                [{"type": "mode", "mode": "queued", "agent": ""}] if kind == "handoff.queued" else []
            )
            return [*queued, {"type": "wait", "handoff": wait}]
        if kind == "handoff.preparing":
            agent = str(data.get("agent") or "")
            return [
                {"type": "mode", "mode": "preparing", "agent": agent},
                {
                    "type": "wait",
                    "handoff": _wait_of({"id": handoff_id, "status": "preparing", "agent": agent}),
                },
            ]
        if kind == "message.created":
            key = f"seq-{data['seq']}" if data.get("seq") else _key(payload)
            return [
                {
                    "type": "line",
                    "role": "agent",
                    "text": str(data.get("text") or ""),
                    "name": str(data.get("agent") or ""),
                    "key": key,
                }
            ]
        say = SAY[self._language(conversation_id)]
        if kind == "handoff.connected":
            agent = str(data.get("agent") or "")
            return [
                {"type": "mode", "mode": "connected", "agent": agent},
                {
                    "type": "line",
                    "role": "system",
                    "text": say["joined"].format(agent=agent),
                    "key": _key(payload),
                },
            ]
        if kind == "handoff.transferred":
            if data.get("agent"):
                text = say["transferred_agent"].format(agent=data["agent"])
            else:
                text = say["transferred_team"].format(team=data.get("team") or "")
            new = {
                "id": str(data.get("to_handoff_id") or ""),
                "status": "queued",
                "estimated_wait_seconds": data.get("estimated_wait_seconds"),
            }
            return [
                {"type": "line", "role": "system", "text": text, "key": _key(payload)},
                {"type": "mode", "mode": "queued", "agent": ""},
                {"type": "wait", "handoff": _wait_of(new)},
            ]
        if kind == "handoff.returned_to_bot":
            screens: list[Screen] = [{"type": "mode", "mode": "bot", "agent": ""}]
            # BotError: a person has the conversation again (a new escalation), so the bot keeps quiet.
            with contextlib.suppress(BotError):
                screens += self._say(conversation_id, say["back"])
            return screens
        if kind == "handoff.resolved":
            return [
                {"type": "line", "role": "system", "text": say["resolved"], "key": _key(payload)},
                {"type": "mode", "mode": "resolved", "agent": ""},
                {"type": "rate", "phase": "human", "handoff": {"id": handoff_id}},
            ]
        return []

    def _language(self, conversation_id: str) -> str:
        conversation = self.conversation(conversation_id)
        if conversation is None:
            return "en"
        transcript = conversation["context"].get("transcript") or []
        said = " ".join(entry["text"] for entry in transcript[-6:] if entry.get("role") == "customer")
        locale = str((conversation["context"].get("customer") or {}).get("locale") or "")
        return language_of(said, locale)

    # --- resuming a conversation (a reload, a second tab, a dropped socket) ------------------------------

    def resume(self, *, conversation_id: str, locale: str = "") -> Resume:
        conversation = self.conversation(conversation_id)
        language = "es" if locale.lower().startswith("es") else "en"
        if conversation is None:
            return Resume(lines=[], mode="bot", agent="", handoff=None, rate="", language=language)
        context = conversation["context"]
        history = list(context.get("handoffs") or [])
        lines: list[Screen] = []
        for entry in context.get("transcript") or []:
            role = entry.get("role")
            if role == "system" and "customer left" in str(entry.get("text", "")).lower():
                continue
            line: Screen = {
                "type": "line",
                "role": role,
                "text": entry.get("text", ""),
                "key": f"seq-{entry['seq']}",
            }
            if role == "agent":
                line["name"] = _agent_at(history, str(entry.get("at") or ""))
            lines.append(line)
        language = self._language(conversation_id) if lines else language
        latest = history[-1] if history else None
        status = conversation["status"]
        handoff: dict[str, Any] | None = None
        mode, agent, rate = "bot", "", ""
        if latest is not None and latest.get("status") in ("queued", "preparing", "connected"):
            state = self.handoff(str(latest["id"]))
            handoff = _wait_of(state)
            mode, agent = state["status"], state.get("agent") or ""
            if mode in WAITING and not self.rated(
                conversation_id=conversation_id, phase="bot", handoff_id=state["id"]
            ):
                rate = "bot"
        elif latest is not None and latest.get("status") == "resolved" and status == "resolved":
            mode = "resolved"
            if not self.rated(conversation_id=conversation_id, phase="human", handoff_id=str(latest["id"])):
                rate = "human"
            handoff = {"id": str(latest["id"]), "status": "resolved"}
        return Resume(lines=lines, mode=mode, agent=agent, handoff=handoff, rate=rate, language=language)


# --- helpers ------------------------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    return text.replace("\x00", "").strip()[:MAX_TEXT]


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _step(conversation_id: str, action: str, outcome: str, detail: str) -> dict[str, Any]:
    return {
        "type": "step",
        "conversation_id": conversation_id,
        "data": {"action": action, "outcome": outcome, "detail": detail},
    }


def _trailing_failures(steps: list[dict[str, Any]]) -> int:
    """Failed help-center attempts since the last one that worked (other steps do not break the run)."""
    count = 0
    for step in reversed(steps):
        if step.get("action") not in (SEARCH_ACTION, SUGGEST_ACTION):
            continue
        if step.get("outcome") != "failed":
            break
        count += 1
    return count


_SUGGESTED = re.compile(r"^Suggested “(.+?)” for ")


def _last_suggestion(steps: list[dict[str, Any]]) -> str:
    """The title of the article the bot suggested last, if that was its latest help-center step."""
    for step in reversed(steps):
        if step.get("action") == SUGGEST_ACTION:
            return ""
        if step.get("action") == SEARCH_ACTION:
            found = _SUGGESTED.match(str(step.get("detail") or ""))
            return found.group(1) if step.get("outcome") == "succeeded" and found else ""
    return ""


def _wait_of(handoff: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(handoff.get("id") or ""),
        "status": str(handoff.get("status") or "queued"),
        "queue_position": handoff.get("queue_position"),
        "estimated_wait_seconds": handoff.get("estimated_wait_seconds"),
        "agent": handoff.get("agent") or "",
    }


def _key(payload: Mapping[str, Any]) -> str:
    return f"cb-{payload.get('type', '')}-{payload.get('handoff_id', '')}".replace(".", "-")


def _agent_at(history: list[dict[str, Any]], at: str) -> str:
    """Who was connected when an agent turn was written (ISO strings in UTC compare as times)."""
    name = ""
    for entry in history:
        started = entry.get("connected_at") or entry.get("claimed_at")
        if started and started <= at and (not entry.get("ended_at") or at <= entry["ended_at"]):
            name = entry.get("agent") or name
    return name
