"""Cheap language cues: is a turn Spanish?

Only English and Spanish matter for now (the console's agents are staffed for both). A full language
identifier would be overkill on the ingest hot path; Spanish function words and orthography are
distinctive enough in support chat to decide from a handful of tokens.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

# Frequent Spanish words that are not also frequent English words ("no", "a", "me" are left out on
# purpose: they occur in English text and would tip English turns into Spanish).
_SPANISH_WORDS = frozenset(
    [
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "unos",
        "unas",
        "que",
        "de",
        "del",
        "por",
        "para",
        "con",
        "sin",
        "pero",
        "porque",
        "como",
        "cuando",
        "donde",
        "es",
        "son",
        "está",
        "están",
        "estoy",
        "tengo",
        "tiene",
        "quiero",
        "necesito",
        "puede",
        "pueden",
        "hola",
        "gracias",
        "buenas",
        "buenos",
        "días",
        "tardes",
        "noches",
        "mi",
        "mis",
        "su",
        "sus",
        "yo",
        "usted",
        "ustedes",
        "nosotros",
        "hablar",
        "hablo",
        "ayuda",
        "ayudarme",
        "pedido",
        "cuenta",
        "número",
        "dirección",
        "teléfono",
        "correo",
        "tarjeta",
        "devolver",
        "devolución",
        "cambiar",
        "todavía",
        "sigue",
        "ya",
        "muy",
        "también",
        "nada",
        "nadie",
        "otra",
        "vez",
        "favor",
        "vale",
        "sí",
        "llegado",
        "llegó",
        "dinero",
        "factura",
    ]
)

_SPANISH_MARKS = re.compile(r"[ñ¿¡]|ción\b|ciones\b", re.IGNORECASE)


def is_spanish(text: str) -> bool:
    """True when the text reads as Spanish rather than English."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return False
    hits = sum(1 for w in words if w in _SPANISH_WORDS)
    if _SPANISH_MARKS.search(text):
        hits += 1
    # Short turns ("Pedido 4410923.") need one strong cue; longer ones a real share of the words.
    return hits >= 2 or (hits == 1 and len(words) <= 3) or (len(words) > 0 and hits / len(words) >= 0.3)
