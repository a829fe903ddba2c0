"""Read-only views over a package shared by the summary, the opening line and the escalation advice.

Each looks at the end of the transcript only: the package is refreshed on every turn, so these must not
grow with the length of the conversation more than they have to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from handoffs.context.language import is_spanish

# Identifier slots in the order an agent would name them ("your order FD-20931").
PRIMARY_SLOTS = ("order_number", "account_id", "request_id", "tracking_number", "product")


def customer_turns_backwards(package: dict, limit: int) -> Iterator[str]:
    """The last `limit` customer texts, newest first."""
    seen = 0
    for entry in reversed(package.get("transcript") or []):
        if entry.get("role") == "customer":
            yield str(entry.get("text", ""))
            seen += 1
            if seen >= limit:
                return


def first_customer_text(package: dict) -> str:
    for entry in package.get("transcript") or []:
        if entry.get("role") == "customer":
            return str(entry.get("text", ""))
    return ""


_GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|good\s+(?:morning|afternoon|evening)|hola|buenas(?:\s+tardes|\s+noches)?|buenos\s+d[ií]as)"
    r"(?:\s+there|\s+team)?\b\W*",
    re.IGNORECASE,
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_QUESTION_START = re.compile(
    r"^\s*(?:where|what|when|why|how|who|which|can|could|do|does|did|is|are|will|would)\b", re.I
)
_FIRST_PERSON = re.compile(
    r"\b(?:I\s+am|I\s+was|we\s+were|I'm|I've|I'd|I'll|we're|we've|I|my|me|mine|myself|we|our|us|ours)\b",
    re.IGNORECASE,
)
_SECOND_PERSON = {
    "i am": "you are", "i was": "you were", "we were": "you were", "i'm": "you're", "i've": "you've",
    "i'd": "you'd", "i'll": "you'll", "we're": "you're", "we've": "you've", "i": "you", "my": "your",
    "me": "you", "mine": "yours", "myself": "yourself", "we": "you", "our": "your", "us": "you", "ours": "yours",
}  # fmt: skip
_NEED_LIMIT = 110


def strip_greeting(sentence: str) -> str:
    return _GREETING.sub("", sentence).strip()


def customer_need(package: dict) -> str:
    """The customer's opening statement of the problem, retold to them ("your card keeps getting declined")."""
    for sentence in _SENTENCE_BREAK.split(first_customer_text(package)):
        sentence = " ".join(strip_greeting(sentence).split())
        if len(sentence.split()) < 3:
            continue
        # A question retold in the agent's opening would read as the agent asking it.
        if "?" in sentence or _QUESTION_START.match(sentence):
            return ""
        retold = _FIRST_PERSON.sub(lambda m: _SECOND_PERSON[" ".join(m.group().lower().split())], sentence)
        retold = retold.rstrip(".!,; ")
        retold = retold[0].lower() + retold[1:]
        if len(retold) > _NEED_LIMIT:
            retold = retold[:_NEED_LIMIT].rsplit(" ", 1)[0].rstrip(",;") + "…"
        return retold
    return ""


def speaks_spanish(package: dict) -> bool:
    """The customer's profile says Spanish, or their recent turns are mostly Spanish."""
    locale = str((package.get("customer") or {}).get("locale") or "").lower()
    if locale.startswith("es"):
        return True
    recent = list(customer_turns_backwards(package, 3))
    return bool(recent) and sum(is_spanish(t) for t in recent) * 2 > len(recent)


def first_name(package: dict) -> str:
    name = str((package.get("customer") or {}).get("name") or "").strip()
    if not name:
        for item in package.get("information_provided") or []:
            if item.get("slot") == "name":
                name = str(item.get("value", ""))
                break
    return name.split()[0] if name else ""


def slot_values(package: dict, slot: str) -> list[str]:
    return [str(i["value"]) for i in package.get("information_provided") or [] if i.get("slot") == slot]


def primary_detail(package: dict) -> tuple[str, str] | None:
    """(slot, value) of the identifier an agent would mention first."""
    for slot in PRIMARY_SLOTS:
        values = slot_values(package, slot)
        if values:
            return slot, values[0]
    return None


def open_commitments(package: dict) -> list[dict]:
    return [c for c in package.get("commitments") or [] if c.get("status", "open") == "open"]


_ACCOUNT_PREFIX_NOUNS = {"CLM": "claim", "CLAIM": "claim", "POL": "policy", "WS": "workspace"}
_SLOT_NOUNS = {"order_number": "order", "request_id": "ticket", "tracking_number": "shipment", "product": ""}


def detail_phrase(slot: str, value: str) -> str:
    """How an agent names a detail: "order FD-20931", "claim CLM-88410", "account ACC-30311"."""
    if slot == "account_id":
        return f"{_ACCOUNT_PREFIX_NOUNS.get(value.split('-')[0].upper(), 'account')} {value}"
    return f"{_SLOT_NOUNS.get(slot, slot.replace('_', ' '))} {value}".strip()


def humanise(label: str) -> str:
    """ "missing_item" → "missing item"."""
    return " ".join(label.replace("_", " ").replace("-", " ").split())


def issue_phrase(package: dict) -> str:
    """A short noun phrase for the issue: escalation focus, classification, or escalation reason."""
    escalation = package.get("escalation") or {}
    classification = package.get("classification") or {}
    for candidate in (escalation.get("focus"), classification.get("issue_type"), escalation.get("reason")):
        if candidate:
            # Reasons are often "what; why": the part before the first clause break names the issue.
            head = re.split(r"[;:\u2014]|\s-\s|\.\s", str(candidate), maxsplit=1)[0].strip().rstrip(".")
            if head:
                return humanise(head)
    return ""
