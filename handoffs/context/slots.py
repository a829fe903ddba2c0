"""Slot extraction: the details a customer has already given (so nobody asks for them again).

Extraction runs patterns in priority order over one turn and claims character spans, so a value found
by a stronger pattern (an email, a keyed order number) cannot be found again by a weaker one (a phone
number hiding inside it). Identifiers are recognised by their keyword ("order", "claim", "tracking",
"pedido"), by a prefix that names their kind ("ACC-", "CLM-", "TKT-", "1Z"), or by being the answer to
the question the bot just asked ("What's the order number?" → "It's #FD-20931").

Bot turns contribute only identifiers they state back ("I see order FD-20931"): what a bot quotes on its
own account (prices, fees, opening hours, durations) is policy, not something the customer gave.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Span = tuple[int, int]


@dataclass(frozen=True)
class Slot:
    slot: str
    value: str
    start: int


# --- identifiers ---------------------------------------------------------------------------------

# An identifier token: letters/digits with inner dashes, at least one digit (filtered again below).
_ID = r"""\#?(?P<value>
    (?-i:[A-Z]{1,3})(?:\s\d{2,6}){1,4}(?![\w/-])         # LH 845 112 (spaced baggage/parcel codes)
  | \d{3,6}(?:\s\d{3,6}){1,5}(?![\w/-])                 # 9400 1000 0000 (spaced digit groups)
  | (?=[A-Za-z_-]*\d)                                      # a keyword's value holds a digit: never "Customer"
    [A-Za-z0-9](?:[A-Za-z0-9]|[-_](?=[A-Za-z0-9]))*       # FD-20931, 55102-B, 4410923, org_55102
)"""

# Words that may sit between a keyword and its value: "order number is", "pedido nº", "ID:".
_FILLER = (
    r"(?:[\s:#.,]*(?:'s|number|numbers|no|num|nr|n[º°o]|id|ref|reference|code|is|was|it'?s|es|el|n[uú]mero|de)\b)*"
    r"[\s:#.=]*"
)

_KEYED_IDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (slot, re.compile(rf"\b(?:{keywords})\b{_FILLER}{_ID}", re.IGNORECASE | re.VERBOSE))
    for slot, keywords in (
        ("tracking_number", r"tracking|seguimiento|waybill|consignment|(?:bag(?:gage)?\s+)?tag"),
        (
            "account_id",
            r"account|acct|customer|client|cliente|member(?:ship)?|claim|policy|p[oó]liza|cuenta|"
            r"reclamaci[oó]n|subscriber|contract|contrato|workspace|tenant|org(?:ani[sz]ation)?\s+id|user\s+id",
        ),
        ("request_id", r"ticket|case|request|incident|complaint|caso|incidencia|solicitud"),
        (
            "order_number",
            r"order|pedido|orden|booking|reservation|reserva|confirmation|invoice|factura|purchase|"
            r"reference|ref|referencia|transaction|transfer|transferencia|agreement|localizador|compra",
        ),
    )
)

# Prefixes that say what an identifier is, wherever it appears.
_PREFIXED_ID = re.compile(
    r"""
    (?<![\w-])\#?
    (?P<value>
        (?P<prefix>[A-Z]{1,5})-?\d[A-Z0-9-]{2,}      # ACC-99812, CLM88410, TKT-20419, FD-20931
    )
    (?![\w-])
    """,
    re.VERBOSE,
)
_PREFIX_SLOTS = {
    **dict.fromkeys(("ACC", "ACCT", "CUST", "CUS", "CLM", "CLAIM", "POL", "MEM", "CID", "CL"), "account_id"),
    **dict.fromkeys(("TKT", "TCK", "REQ", "CASE", "INC", "SR", "CS", "TIC"), "request_id"),
}

_UPS_TRACKING = re.compile(r"\b(?P<value>1Z[0-9A-Z]{16})\b")

# A "#" in front of a code is how customers write order numbers (#KX-48213, #4410923).
_HASH_ID = re.compile(r"(?<![\w&])\#(?P<value>[A-Za-z]{0,5}-?\d[A-Za-z0-9-]{2,})\b")

# A bare code in an answer to the bot's question: one or two tokens with a digit, no other words.
_BARE_CODE = re.compile(
    r"(?<![\w$€£@.-])\#?(?P<value>(?:[A-Za-z]{1,6}[-_])*[A-Za-z]{0,6}[-_]?\d[A-Za-z0-9-]{3,}|[A-Z0-9]{5,8})(?![\w@-])"
)


def _looks_like_id(value: str) -> bool:
    digits = sum(ch.isdigit() for ch in value)
    if digits == 0 or len(value) < 4:
        return False
    if value.isdigit():
        return len(value) >= 4
    # Years and times inside prose ("2026-11-03", "12-04-1979" are dates, not orders).
    return not (_ISO_DATE.fullmatch(value) or _numeric_date(value))


# --- contact -------------------------------------------------------------------------------------

_EMAIL = re.compile(r"(?P<value>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")

_PHONE = re.compile(
    r"""
    (?<![\w/.:,$€£-])(?<!\d\s)                                       # not the tail of a longer digit run
    (?P<value>
        \+\d{1,3}(?:[\s.-]?\(\d{1,4}\))?(?:[\s.-]?\d{2,5}){2,5}      # +1 (415) 555-0134, +34 612 345 678
      | 00\d{1,3}(?:[\s.-]?\d{2,5}){2,5}                            # 0034 612 345 678 (11+ digits)
      | \(\d{3}\)\s?\d{3}[\s.-]\d{4}                                  # (415) 555-0134
      | \d{3}[.-]\d{3}[.-]\d{4}                                       # 415-555-0134
      | 0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4}                             # 020 7946 0958, 07700 900461
      | 0\d{9,10}                                                     # 07700900461
      | 0[1-9](?:[\s.]\d{2}){4}                                       # 06 12 34 56 78
      | [2-9]\d{2}\s\d{3}\s\d{4}                                      # 415 555 0134
      | [6789]\d{2}(?:\s\d{2}){3}                                     # 612 34 56 78
      | [6789]\d{2}\s\d{3}\s\d{3}                                     # 612 345 678
      | [89]\d\s\d{3}(?:\s\d{2}){2}                                   # 91 234 56 78
    )
    (?![\w/:-]|[.,]\d|\s?(?:€|\$|£|%|(?:eur|usd|gbp|euros?|dollars?|pounds?)\b))
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Words that introduce a phone number; the number may follow a few words later ("my mobile, the one
# on the account, is …") but not across a sentence or another number.
_PHONE_WORDS = (
    r"phone|mobile|cell|cellphone|landline|number|tel|tlf|whats\s*app|sms|text\s+me|reach\s+me|call\s+me|ring\s+me|"
    r"contact\s+me|tel[eé]fono|m[oó]vil|celular|fijo|n[uú]mero|ll[aá]m(?:e|a|eme|ame)(?:me)?|ll[aá]marme|"
    r"contactarme|whatsapp"
)
_PHONE_KEYED = re.compile(
    rf"\b(?:{_PHONE_WORDS})\b[^\d+.!?\n]{{0,30}}?"
    r"(?P<value>\+?\d[\d\s().-]{6,18}\d)(?![\d/]|[.,]\d)",
    re.IGNORECASE,
)
# "the phone number on my account is …": the number belongs to the phone word, not to the keyword of
# the identifier that only locates it.
_PHONE_HEAD = re.compile(
    r"\b(?:phone|mobile|cell|cellphone|landline|contact|whats\s*app|tel[eé]fono|m[oó]vil|celular|fijo|contacto)\b"
    r"(?:\s+(?:number|no\.?|n[uú]mero))?[^\d.!?\n]{0,25}?"
    r"\b(?:on|for|in|of|to|with|under|linked\s+to|attached\s+to|registered\s+(?:to|on|with)|associated\s+with|"
    r"de|del|en|al|asociado\s+a|vinculado\s+a)\s+(?:my|the|our|your|this|mi|la|el|su|tu)?\s*$",
    re.IGNORECASE,
)
_PHONE_SHAPE = re.compile(r"\+?[\d\s().-]+")


def _phone_digits_ok(value: str) -> bool:
    digits = sum(ch.isdigit() for ch in value)
    # "00" dials out of the country: a country code and a full national number follow.
    return (11 if value.startswith("00") else 7) <= digits <= 15


# --- money and dates -----------------------------------------------------------------------------

_NUMBER = r"\d{1,3}(?:[.,\s]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    rf"""
    (?P<value>
        (?:US)?[$€£]\s?(?:{_NUMBER})                                      # $4.50, €30, US$ 12
      | (?:{_NUMBER})\s?(?:€|\$|£|usd|eur|gbp|euros?|dollars?|pounds?|d[oó]lares)\b   # 45 EUR, 30 euros
      | (?:{_NUMBER})\s?€                                                 # 249,99 €
      | (?:usd|eur|gbp)\s?(?:{_NUMBER})                                   # EUR 45
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre"
)
_WEEKDAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|mi[eé]rcoles|jueves|"
    r"viernes|s[aá]bado|domingo"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE = re.compile(
    rf"""
    (?P<value>
        \b\d{{4}}-\d{{2}}-\d{{2}}\b                                            # 2026-11-03
      | \b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b      # March 3rd, 2026
      | \b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+|de\s+)?(?:{_MONTHS})\b(?:,?\s+(?:de\s+)?\d{{4}})?  # 3 March, 3 de marzo
      | \b(?:yesterday|last\s+night|the\s+day\s+before\s+yesterday|ayer|anoche|anteayer)\b
      | \blast\s+(?:{_WEEKDAYS})\b
      | \bel\s+(?:{_WEEKDAYS})\s+pasado\b
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Numeric dates are only dates with a year or a word that introduces a date: "4/5" alone is a rating.
_SLASH_DATE = re.compile(
    r"""
    (?:\b(?:on|since|from|until|by|before|after|dated?|el|del|desde)\s+(?P<value>\d{1,2}/\d{1,2})\b(?!/)
    | (?<![\w./-])(?P<full>\d{1,2}(?P<sep>[/.-])\d{1,2}(?P=sep)(?:\d{4}|\d{2}))(?![\w/]|[.-]\d))
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _slash_date_ok(value: str) -> bool:
    a, b = (int(part) for part in re.split(r"[/.-]", value)[:2])
    return 1 <= a <= 31 and 1 <= b <= 31 and (a <= 12 or b <= 12)


def _numeric_date(value: str) -> bool:
    """12/04/1979, 12.04.1979, 12-04-79: day and month in either order, then a year."""
    m = _SLASH_DATE.fullmatch(value)
    return bool(m and m.group("full") and _slash_date_ok(m.group("full")))


# --- people and places ---------------------------------------------------------------------------

_NAME_WORD = r"[A-ZÁÉÍÓÚÑ][a-záéíóúñü'’-]+"
_NAME = re.compile(
    rf"""
    \b(?i:my\s+name\s+is|name'?s|this\s+is|i\s+am|i'?m|me\s+llamo|mi\s+nombre\s+es|soy|under\s+the\s+name)\s+
    (?P<value>{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})
    """,
    re.VERBOSE,
)
# Capitalised words after "this is"/"I'm" that are not names.
_NOT_NAMES = frozenset(
    [
        "The",
        "A",
        "An",
        "It",
        "This",
        "That",
        "Not",
        "So",
        "Very",
        "Really",
        "Just",
        "Still",
        "Also",
        "Here",
        "There",
        "Going",
        "Trying",
        "Having",
        "Looking",
        "Calling",
        "Writing",
        "Travelling",
        "Traveling",
        "Moving",
        "Ok",
        "Okay",
        "Sorry",
        "Happy",
        "Sure",
        "Fine",
        "Done",
        "Back",
        "Stuck",
        "Unable",
        "Frustrated",
        "Angry",
        "Annoyed",
        "Upset",
        "Tired",
        "Sick",
        "Fed",
        "Confused",
        "Worried",
        "Ridiculous",
        "Unacceptable",
        "Urgent",
        "Absolutely",
        "Totally",
        "Completely",
        "Please",
        "English",
        "Spanish",
        "Español",
        "Inglés",
        "Customer",
        "Client",
        "From",
        "In",
        "On",
        "At",
    ]
)
_STREET_TYPES = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|way|court|ct|place|pl|terrace|close|"
    r"crescent|square|sq|parkway|pkwy|highway|hwy"
)
_ADDRESS = re.compile(
    rf"""
    (?P<value>
        \b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][\w'’.-]*\s+){{1,4}}(?i:{_STREET_TYPES})\b\.?  # 42 Elm Street
        (?:,?\s+(?i:apt|apartment|unit|suite|flat)\.?\s*\w+)?
        (?:,\s*[A-Z][a-z][\w'’.-]*(?:\s+[A-Z][a-z][\w'’.-]*){{0,3}})?              # , Springfield
        (?:,?\s+[A-Z]{{2}}\b)?(?:,?\s+\d{{5}}(?:-\d{{4}})?)?                          # IL 62704
        (?:,?\s+[A-Z]{{1,2}}\d[A-Z\d]?\s?\d[A-Z]{{2}})?                             # NW1 6XE
      | \b\d{{1,5}}[a-z]?\s+[A-ZÄÖÜ][\wäöüß-]*(?i:strasse|straße|str\.|weg|platz|gasse|allee|straat|laan|gracht)\b
        (?:,\s*[A-ZÄÖÜ][a-zäöüß]+)?                                                 # 17 Friedrichstrasse, Berlin
      | \b[A-ZÄÖÜ][\wäöüß-]*(?i:strasse|straße|str\.|weg|platz|gasse|allee|straat|laan|gracht)\s+\d{{1,5}}[a-z]?\b
        (?:,\s*(?:\d{{4,5}}\s+)?[A-ZÄÖÜ][a-zäöüß]+)?                                 # Friedrichstrasse 17, 10117 Berlin
      | (?i:\b(?:calle|c/|avenida|avda\.?|av\.|paseo|plaza|camino|carrera|rua))\s+
        (?:(?:de|del|la|las|los|el)\s+)*[A-ZÁÉÍÓÚÑ][\wáéíóúñ'’.-]*(?:\s+[A-ZÁÉÍÓÚÑ][\wáéíóúñ'’.-]*){{0,3}}
        ,?\s+\d{{1,5}}(?:,?\s*\d{{1,2}}\s*[º°ª]?\s*[A-Z]?\b)?                       # Calle Alcalá 123, 3º B
        (?:,\s*[A-ZÁÉÍÓÚÑ][\wáéíóúñ'’.-]*(?:\s+[A-ZÁÉÍÓÚÑ][\wáéíóúñ'’.-]*){{0,2}})?   # , Madrid
    )
    """,
    re.VERBOSE,
)

# Named products: a brand-like capitalised word followed by model words or a model number, after a
# purchase verb or possessive; or "the <Name> plan/subscription".
_PRODUCT = re.compile(
    r"""
    \b(?i:bought|ordered|purchased|received|got|return|returning|exchange|my|our|your|this|that|the|a|an|pair\s+of|
        in|on|for|with|of)\s+
    (?:(?!flight|train|bus|room|seat|gate|platform|order|booking|code|number|account|ticket|claim)
        [a-z]+\s+)?                                                        # "the annual Team plan"
    (?P<value>
        (?:[A-Z][A-Za-z0-9+]*|i[A-Z][a-z]+)                               # Nike, iPhone, TaskFlow
        (?:\s+(?:[A-Z][A-Za-z0-9+-]*|\d{1,4}[A-Za-z]{0,3}|[a-z]?\d[\w-]*)){1,4}  # Air Zoom Pegasus 40, WH-1000XM5
      | [A-Z][a-z]+\s+(?:plan|subscription|membership|tier|package|bundle)   # Pro plan
    )
    """,
    re.VERBOSE,
)
# Capitalised sequences that are sentence furniture, not products.
_NOT_PRODUCT_START = frozenset(
    [
        "I",
        "I'm",
        "I've",
        "I'd",
        "I'll",
        "The",
        "This",
        "That",
        "It",
        "My",
        "Your",
        "Our",
        "We",
        "You",
        "Hi",
        "Hello",
        "Thanks",
        "Thank",
        "Please",
        "Sorry",
        "Order",
        "Account",
        "Tracking",
        "Claim",
        "Policy",
        "Ticket",
        "Case",
        "Customer",
        "Booking",
        "Reference",
        "Invoice",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "UPS",
        "USPS",
        "FedEx",
        "DHL",
        "EU",
        "US",
        "UK",
    ]
)


def _product_ok(value: str) -> bool:
    words = value.split()
    if words[0] in _NOT_PRODUCT_START:
        return False
    if not any(ch.isdigit() for ch in value) and all(w.isupper() for w in words):
        return False  # shouting ("THIS IS RIDICULOUS"), not a brand
    # A product name needs a model-ish part: a digit, an inner capital (TaskFlow) or a plan word.
    return (
        any(ch.isdigit() for ch in value)
        or any(any(c.isupper() for c in w[1:]) for w in words)
        or words[-1].lower() in {"plan", "subscription", "membership", "tier", "package", "bundle"}
        or (len(words) >= 2 and all(w[0].isupper() for w in words))
    )


# --- what the bot asked for ----------------------------------------------------------------------

_ASKED = tuple(
    (slot, re.compile(pattern, re.IGNORECASE))
    for slot, pattern in (
        ("tracking_number", r"tracking|seguimiento|etiqueta|equipaje|baggage|bag\s+tag"),
        (
            "order_number",
            r"order|booking|reservation|confirmation|reference|invoice|pedido|reserva|agreement",
        ),
        (
            "account_id",
            r"account\s*(?:id|number|no)|customer\s*(?:id|number)|claim|policy|member|cliente|cuenta",
        ),
        ("request_id", r"ticket|case\s*(?:id|number)|request\s*(?:id|number)"),
        (
            "phone",
            r"phone|mobile|cell|tel[eé]fono|m[oó]vil|whats\s*app|contact\s+number|best\s+number|reach\s+you|"
            r"number\s+(?:to|where|we\s+can|I\s+can|on\s+which)\s+(?:\w+\s+)?(?:reach|call|contact|text)|"
            r"call\s+you\s+(?:on|at|back)|llamar(?:le|te)|contactar(?:le|te)|n[uú]mero\s+de\s+contacto",
        ),
        ("email", r"e-?mail|correo"),
        ("name", r"\bname\b|nombre"),
        ("address", r"address|direcci[oó]n|postcode|zip"),
    )
)
_QUESTION_SENTENCE = re.compile(r"[^.!?]*\?")


def asked_slots(bot_text: str) -> tuple[str, ...]:
    """Slots the bot's turn asks the customer for ("What's the order number?")."""
    questions = " ".join(_QUESTION_SENTENCE.findall(bot_text)) or (
        bot_text if re.search(r"\b(share|give|tell|send|provide|confirm)\b", bot_text, re.I) else ""
    )
    return tuple(slot for slot, pattern in _ASKED if pattern.search(questions))


# --- extraction ----------------------------------------------------------------------------------


class _Claims:
    """Character spans already attributed to a slot in this turn."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.spans)

    def take(self, start: int, end: int) -> None:
        self.spans.append((start, end))


Finder = Callable[[str], Iterator[tuple[str, str, int, int]]]


def _keyed_ids(text: str) -> Iterator[tuple[str, str, int, int]]:
    for slot, pattern in _KEYED_IDS:
        for m in pattern.finditer(text):
            value = m.group("value").rstrip("-/")
            if not _looks_like_id(value) or _EMAIL.match(text, m.start("value")):
                continue
            if _PHONE_SHAPE.fullmatch(value) and _PHONE_HEAD.search(text, max(0, m.start() - 45), m.start()):
                continue  # "the phone number on my account is 07700 900123": a phone, found later
            yield slot, value, m.start("value"), m.start("value") + len(value)


def _prefixed_ids(text: str) -> Iterator[tuple[str, str, int, int]]:
    for m in _UPS_TRACKING.finditer(text):
        yield "tracking_number", m.group("value"), m.start("value"), m.end("value")
    for m in _PREFIXED_ID.finditer(text):
        slot = _PREFIX_SLOTS.get(m.group("prefix"))
        if slot and _looks_like_id(m.group("value")):
            yield slot, m.group("value"), m.start("value"), m.end("value")


def _hash_ids(text: str) -> Iterator[tuple[str, str, int, int]]:
    for m in _HASH_ID.finditer(text):
        if _looks_like_id(m.group("value")):
            yield "order_number", m.group("value"), m.start("value"), m.end("value")


def _emails(text: str) -> Iterator[tuple[str, str, int, int]]:
    for m in _EMAIL.finditer(text):
        yield "email", m.group("value"), m.start(), m.end()


def _phones(text: str) -> Iterator[tuple[str, str, int, int]]:
    for pattern in (_PHONE, _PHONE_KEYED):
        for m in pattern.finditer(text):
            value = m.group("value").strip()
            if _phone_digits_ok(value) and not _ISO_DATE.search(value):
                yield "phone", value, m.start("value"), m.start("value") + len(value)


def _amounts(text: str) -> Iterator[tuple[str, str, int, int]]:
    for m in _AMOUNT.finditer(text):
        value = m.group("value").strip()
        yield "amount", value, m.start("value"), m.start("value") + len(value)


def _dates(text: str) -> Iterator[tuple[str, str, int, int]]:
    for m in _DATE.finditer(text):
        yield "date", m.group("value"), m.start("value"), m.end("value")
    for m in _SLASH_DATE.finditer(text):
        group = "value" if m.group("value") else "full"
        if _slash_date_ok(m.group(group)):
            yield "date", m.group(group), m.start(group), m.end(group)


def _names(text: str) -> Iterator[tuple[str, str, int, int]]:
    for m in _NAME.finditer(text):
        words = m.group("value").split()
        kept: list[str] = []
        for word in words:
            if word in _NOT_NAMES:
                break
            kept.append(word)
        if kept:
            value = " ".join(kept)
            yield "name", value, m.start("value"), m.start("value") + len(value)


def _addresses(text: str) -> Iterator[tuple[str, str, int, int]]:
    for m in _ADDRESS.finditer(text):
        value = m.group("value").rstrip(" ,.")
        yield "address", value, m.start("value"), m.start("value") + len(value)


def _products(text: str) -> Iterator[tuple[str, str, int, int]]:
    for m in _PRODUCT.finditer(text):
        value = m.group("value").rstrip(" ,.")
        if _product_ok(value):
            yield "product", value, m.start("value"), m.start("value") + len(value)


# Priority order: each finder only sees spans the earlier ones left unclaimed.
_CUSTOMER_FINDERS: tuple[Finder, ...] = (
    _emails,
    _prefixed_ids,
    _keyed_ids,
    _dates,
    _phones,
    _hash_ids,
    _amounts,
    _addresses,
    _names,
    _products,
)
# Bots may only confirm identifiers and contact details; their amounts, dates and times are policy.
_BOT_FINDERS: tuple[Finder, ...] = (_emails, _prefixed_ids, _keyed_ids, _hash_ids)

_BOT_ECHO_SLOTS = frozenset({"order_number", "account_id", "request_id", "tracking_number", "email", "phone"})


# A reply that is only a name ("Dana Reyes", "soy Lucía") to "May I have your name?".
_NAME_ANSWER = re.compile(
    rf"\s*(?:it'?s\s+|soy\s+)?(?P<value>{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})\s*\.?\s*"
)


# A phone number given alone as an answer, in whatever grouping ("612 34 56 78", "07700 900123").
_PHONE_ANSWER = re.compile(r"(?<![\w.$€£])(?P<value>\+?\(?\d[\d\s().-]{5,18}\d)(?![\w/%€$£]|[.,]\d)")
# Digit groups given alone as the answer to "What's the order number?" ("300 441 982").
_SPACED_CODE = re.compile(r"(?<![\w.$€£])(?P<value>\d{2,6}(?:\s\d{2,6}){1,5})(?![\w%€$£]|[.,]\d)")
_ID_SLOTS = ("order_number", "account_id", "request_id", "tracking_number")


def _answer_to_question(text: str, asked: tuple[str, ...], claims: _Claims) -> Iterator[Slot]:
    """A short reply right after the bot asked for a detail is that detail."""
    if "phone" in asked and len(text) <= 80:
        for m in _PHONE_ANSWER.finditer(text):
            value = m.group("value").strip()
            if _phone_digits_ok(value) and not _numeric_date(value) and claims.free(*m.span("value")):
                claims.take(m.start("value"), m.start("value") + len(value))
                yield Slot("phone", value, m.start("value"))
                return
    id_slots = [s for s in asked if s in _ID_SLOTS]
    if id_slots and len(text) <= 80:
        for pattern in (_SPACED_CODE, _BARE_CODE):
            for m in pattern.finditer(text):
                value = m.group("value")
                if pattern is _SPACED_CODE and sum(ch.isdigit() for ch in value) < 6:
                    continue
                if claims.free(m.start("value"), m.end("value")) and _looks_like_id(value):
                    claims.take(m.start("value"), m.end("value"))
                    yield Slot(id_slots[0], value, m.start("value"))
                    return
    if "name" in asked and len(text) <= 40:
        answer = _NAME_ANSWER.fullmatch(text)
        if (
            answer
            and answer.group("value").split()[0] not in _NOT_NAMES
            and claims.free(*answer.span("value"))
        ):
            claims.take(*answer.span("value"))
            yield Slot("name", answer.group("value"), answer.start("value"))


def extract(text: str, *, role: str, asked: tuple[str, ...] = ()) -> list[Slot]:
    """Slots stated in one turn, in text order. `asked` = slots the previous bot turn asked for."""
    if role not in ("customer", "bot"):
        return []
    claims = _Claims()
    found: list[Slot] = []
    if role == "customer":
        found.extend(_answer_to_question(text, asked, claims))
        finders = _CUSTOMER_FINDERS
        checked = text
    else:
        finders = _BOT_FINDERS
        # Bot questions quote examples and formats ("is it ACC-12345?"); only statements confirm.
        checked = _QUESTION_SENTENCE.sub(lambda q: " " * len(q.group()), text)
    for finder in finders:
        for slot, value, start, end in finder(checked):
            if role == "bot" and slot not in _BOT_ECHO_SLOTS:
                continue
            if claims.free(start, end):
                claims.take(start, end)
                found.append(Slot(slot, value, start))
    found.sort(key=lambda s: s.start)
    return found


_NON_ALNUM = re.compile(r"[^0-9a-z@.]+")


def normalise(slot: str, value: str) -> str:
    """The form two mentions of one value share ("#FD-20931" ≡ "fd 20931"; phones by digits)."""
    lowered = value.lower().lstrip("#")
    if slot == "phone":
        return "".join(ch for ch in lowered if ch.isdigit())[-9:]
    if slot == "email":
        return lowered.strip()
    if slot == "amount":
        return "".join(ch for ch in lowered if ch.isdigit() or ch in ".,")
    return _NON_ALNUM.sub("", lowered)
