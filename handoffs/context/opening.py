"""The agent's suggested first line: greet by first name, acknowledge a negative state, name the issue and
a detail the customer already gave, and make clear nothing needs repeating.

It never asks a question: anything worth asking about is either in information_provided already (asking
again is the failure this product exists to prevent) or for the agent to decide after reading.
"""

from __future__ import annotations

import re

from handoffs.context.reading import (
    customer_need,
    customer_turns_backwards,
    detail_phrase,
    first_name,
    issue_phrase,
    open_commitments,
    primary_detail,
    speaks_spanish,
)

_REPEAT_CONTACT = re.compile(
    r"\b(?:second|third|fourth|fifth|again|another\s+time|otra\s+vez|segunda|tercera|cuarta)\b", re.IGNORECASE
)
_WAITING = re.compile(
    r"\b(?:wait(?:ing|ed)?|how\s+(?:much\s+)?long(?:er)?|taking\s+(?:so\s+)?long|still\s+hasn'?t\s+arrived|"
    r"esperando|espera)\b",
    re.IGNORECASE,
)
_ES_DETAIL = {
    "order_number": "su pedido",
    "account_id": "su cuenta",
    "request_id": "su solicitud",
    "tracking_number": "su envío",
    "product": "su",
}
_ES_ACCOUNT_PREFIX = {"CLM": "su reclamación", "CLAIM": "su reclamación", "POL": "su póliza"}


def _mood(package: dict) -> tuple[bool, bool, bool]:
    """(negative, repeat contact, waiting) from the emotion state and the last customer turns."""
    current = str((package.get("emotion") or {}).get("current") or "neutral")
    recent = " ".join(customer_turns_backwards(package, 3))
    negative = current in ("concerned", "frustrated", "angry")
    return negative, bool(_REPEAT_CONTACT.search(recent)), bool(_WAITING.search(recent))


def _acknowledgement_en(package: dict) -> str:
    negative, repeat, waiting = _mood(package)
    if negative and repeat:
        return "I'm sorry this has happened again"
    if negative and waiting:
        return "thank you for your patience, and I'm sorry for the wait"
    if negative:
        return "I'm sorry for the trouble with this"
    return "thanks for waiting"


def _promised_en(package: dict) -> str:
    commitments = open_commitments(package)
    if not commitments:
        return ""
    kind = str(commitments[0].get("kind") or "other")
    what = (
        "what's already been arranged"
        if kind == "other"
        else f"the {kind.replace('_', '-')} already arranged"
    )
    return what


def _english(package: dict) -> str:
    """Two sentences: greeting and acknowledgement, then what the agent already knows in brackets."""
    name = first_name(package)
    greeting = f"Hi {name}" if name else "Hi"
    topic = issue_phrase(package) or customer_need(package)
    detail = primary_detail(package)
    known = [topic] if topic else []
    if detail and detail[1].lower() not in topic.lower():
        known.append(detail_phrase(*detail))
    promised = _promised_en(package)
    if promised:
        known.append(promised)
    seen = (
        f"I've read everything so far ({'; '.join(known)})" if known else "I've read the whole conversation"
    )
    return f"{greeting}, {_acknowledgement_en(package)}. {seen}, so you won't need to repeat anything."


def _spanish(package: dict) -> str:
    name = first_name(package)
    negative, repeat, waiting = _mood(package)
    greeting = f"Hola {name}" if name else "Hola"
    if negative and repeat:
        ack = "siento mucho que le haya vuelto a pasar"
    elif negative and waiting:
        ack = "gracias por su paciencia y disculpe la espera"
    elif negative:
        ack = "siento mucho las molestias"
    else:
        ack = "gracias por esperar"
    detail = primary_detail(package)
    if detail:
        slot, value = detail
        noun = _ES_DETAIL.get(slot, "")
        if slot == "account_id":
            noun = _ES_ACCOUNT_PREFIX.get(value.split("-")[0].upper(), noun)
        seen = f"Ya tengo {noun} {value} y toda la conversación"
    else:
        seen = "Ya he leído toda la conversación"
    return f"{greeting}, {ack}. {seen}, así que no hace falta repetir nada: le ayudo yo en español."


def build_opening(package: dict) -> str:
    return _spanish(package) if speaks_spanish(package) else _english(package)
