"""Draft check: warn the agent, before sending, when a draft repeats a question or breaks a promise.

Two kinds of warning (spec ``draft-check``), each with the earlier fact as evidence:

``repeat_question``
    The draft asks the customer for a detail already in ``information_provided``. A detail is *asked
    for* when a slot's noun ("order number", "correo", "bag tag") is the object of a request: a question
    ("what's your …", "¿cuál es su …", "which email …"), a request verb ("can you confirm …", "send me …",
    "confírmeme …", "¿me puede dar …"), a need ("I'll need your …", "do you have the … handy") or a bare
    fragment ("Order number?"). The noun alone is not enough: "what's the best time to call?", "check
    your email for our message" and "I see order KX-48213" ask for nothing. A draft that quotes the
    known value ("is your email still dana@…?") shows the agent already has it, and one that asks for
    *another* phone or address asks for something new. Dates and amounts are only repeats when the
    question is about what the customer dated or priced ("the date the tree fell" vs "when did you
    order?"), judged by the words the question shares with the customer's turn.

``contradicts_commitment``
    A clause of the draft is about the same thing as an open commitment (its kind of promise, or a
    distinctive word such as "courtesy car") and refuses or revokes it ("we can't refund", "no podemos
    reembolsar", "the credit will be removed"), adds a condition the promise did not have ("only if you
    return it"), states a later time than promised ("within 10 days" vs "within 3 business days"; any
    other day for an appointment made "on Thursday"), or a different amount ("$50" vs "$129.99").
    Restating or fulfilling the promise ("I've processed your $129.99 refund", "by Wednesday as
    promised") is not a contradiction; neither is a further, separate benefit ("a further credit").

Pure Python and regular expressions, no I/O: it runs on every debounced keystroke, so the cost is in the
draft's length, never in the transcript's (the transcript is read only to date a commitment or to see
what a date or amount was about, by ``seq``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from handoffs.context import commitments as commitment_rules
from handoffs.context.due import mentions_deadline, parse_at, resolve_due

Warning_ = dict[str, Any]

_I = re.IGNORECASE | re.VERBOSE


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _I)


# =================================================================================================
# Repeat questions
# =================================================================================================

# Words that may sit between a request and the thing requested: "your", "the best", "su".
_DET = r"(?:your|ur|yours|the|that|this|a|an|su|sus|tu|tus|el|la|los|las|un|una|del|vuestro|vuestra)"
_MOD = (
    r"(?:best|correct|right|full|complete|exact|current|registered|preferred|primary|main|original|contact|"
    r"delivery|shipping|billing|postal|home|mobile|cell|account|booking|order|return|claim|policy|customer|"
    r"e-?mail|phone|actual|same|usual|daytime|personal|updated|valid|bag|baggage|luggage|new|whole|"
    r"\d+-digit|\d+-character|exact|correct)"
)
_TAIL = rf"\s*(?:{_DET}\s+)?(?:{_MOD}\s+){{0,3}}$"

# The detail is something other than the one already given ("another number", "a backup address").
_NEW_ITEM = _rx(
    r"""\b(?:another|other|backup|back-up|alternative|alternate|second|different|additional|secondary|spare|
    extra|otro|otra|otros|otras|alternativ[oa]|adicional|segund[oa])\s+(?:\w+\s+){0,2}$"""
)

# --- slot nouns (longest and most specific first: "dirección de correo" is an email) --------------

_NOUNS: tuple[tuple[str, str], ...] = (
    (
        "email",
        r"e-?mail\s+address|mail\s+address|direcci[oó]n\s+de\s+(?:correo|e-?mail)(?:\s+electr[oó]nico)?|"
        r"cuenta\s+de\s+correo(?:\s+electr[oó]nico)?|correo(?:\s+electr[oó]nico)?|e-?mail",
    ),
    (
        "phone",
        r"(?:tele)?phone(?:\s+(?:number|no\.?|\#))?|mobile(?:\s+(?:number|phone|no\.?))?|"
        r"cell(?:\s*phone)?(?:\s+number)?|landline(?:\s+number)?|contact\s+number|whats\s*app(?:\s+number)?|"
        r"n[uú]mero\s+de\s+(?:tel[eé]fono|m[oó]vil|contacto|celular|whatsapp)|"
        r"tel[eé]fono(?:\s+(?:m[oó]vil|fijo|de\s+contacto))?|m[oó]vil|celular",
    ),
    (
        "tracking_number",
        r"tracking(?:\s+(?:number|no\.?|\#|code|id|reference|ref|link))?|"
        r"(?:bag(?:gage)?|luggage)\s+tag(?:\s+number)?|tag\s+number|waybill(?:\s+number)?|"
        r"consignment\s+number|(?:n[uú]mero|c[oó]digo)\s+de\s+seguimiento|seguimiento|"
        r"etiqueta\s+del?\s+equipaje",
    ),
    (
        "request_id",
        r"(?:ticket|case|request|incident|complaint)\s*(?:number|no\.?|\#|id|reference|ref)|ticket|"
        r"n[uú]mero\s+de\s+(?:ticket|caso|incidencia|solicitud)",
    ),
    (
        "order_number",
        r"order\s*(?:number|no\.?|num|\#|id|ref(?:erence)?|code)|order\s*\#|"
        r"booking\s+(?:reference|ref|number|code|id)|reservation\s+(?:number|code|id|reference)|"
        r"confirmation\s+(?:number|code)|reference\s+(?:number|code)|invoice\s+number|"
        r"transaction\s+(?:id|number)|purchase\s+number|"
        r"n[uú]mero\s+de(?:l|\s+(?:su|tu|la|el))?\s+(?:pedido|reserva|factura|referencia|orden|compra)|"
        r"(?:c[oó]digo|localizador)\s+de(?:\s+(?:la|su|tu))?\s+reserva|localizador|referencia|pedido|reference",
    ),
    (
        "account_id",
        r"(?:account|acct|customer|client|member(?:ship)?|subscriber|contract|user|policy|claim)\s*"
        r"(?:number|no\.?|num|\#|id|reference|ref)|licen[cs]e\s+key|policy|"
        r"n[uú]mero\s+de\s+(?:cliente|cuenta|socio|p[oó]liza|contrato|reclamaci[oó]n|siniestro|abonado|usuario)|"
        r"p[oó]liza|cuenta",
    ),
    (
        "name",
        r"(?:full|first|last|given|family|complete)\s+name|surname|nombre\s+completo|nombre|apellidos?|name",
    ),
    ("postcode", r"post\s*code|postal\s+code|zip(?:\s*code)?|c[oó]digo\s+postal"),
    (
        "address",
        r"(?:postal|home|delivery|shipping|billing|street|mailing|residential|full)\s+address|address|"
        r"direcci[oó]n(?:\s+(?:postal|de\s+(?:env[ií]o|entrega|casa|facturaci[oó]n)|completa))?|domicilio",
    ),
    ("birth", r"date\s+of\s+birth|birth\s*date|birthday|dob|fecha\s+de\s+nacimiento"),
    ("date", r"date|fecha"),
    ("amount", r"amount|total|importe|cantidad|price|precio"),
    (
        "product",
        r"product|item|model|plan|device|article|producto|art[ií]culo|modelo|dispositivo|tarifa",
    ),
    ("number", r"number|n[uú]mero"),
)
_NOUN = re.compile(
    r"(?<![\w@.-])(?:" + "|".join(f"(?P<{slot}>{pattern})" for slot, pattern in _NOUNS) + r")(?![\w@-])",
    re.IGNORECASE,
)

# --- requests ------------------------------------------------------------------------------------

_START = r"(?:^|[,;:¿¡(—–-]\s*|\b(?:and|so|also|then|but|or|now|ok|okay|sure|great|thanks|perfect|y|pues|entonces|tambi[eé]n|vale|bien|gracias|perfecto|hola|hi|hello)\b[\s,!]*)"
_WH_LEAD = _rx(
    rf"""
    (?:{_START}|\b(?:tell\s+me|let\s+me\s+know|remind\s+me|dime|d[ií]game|me\s+(?:dice|dices|indica|indicas|
        confirma|confirmas|recuerda))\s+)
    (?:(?:to|at|on|for|under|with|a|en|de|con|para)\s+)?
    (?:what|which|whats|qu[eé]|cu[aá]l(?:es)?)
    (?:'s|\s+is|\s+was|\s+are|\s+were|\s+would\s+be|\s+will\s+be|\s+es|\s+son|\s+era|\s+fue|\s+ser[ií]a)?
    (?:\s+(?:exactly|again|de\s+nuevo))?
    \s+{_TAIL}
    """
)
_EN_VERB = (
    r"(?:give|send|provide|share|tell|confirm|re-?confirm|verify|double[-\s]check|type|enter|write|spell|"
    r"repeat|re-?send|paste|drop|pop|put|pass|supply|specify|state|quote|text|dm|input|let\s+(?:me|us)\s+(?:know|have)|"
    r"remind|reply\s+with|respond\s+with|get\s+back\s+to\s+me\s+with|come\s+back\s+(?:to\s+me\s+)?with)"
)
_EN_PREFACE = (
    r"(?:^|[,;:(—–-]\s*|\b(?:please|pls|kindly|just|also|first|then|and|now|so|ok|okay|quickly|simply|"
    r"thanks|great|perfect|sure)[\s,!]+|\b(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+|kindly\s+|just\s+|"
    r"also\s+|quickly\s+|maybe\s+|possibly\s+|first\s+)?|\b(?:need|want|like|ask|asking)\s+you\s+to\s+"
    r"(?:please\s+|just\s+)?|\bneed\s+to\s+|\bif\s+you\s+(?:could|can)\s+(?:please\s+|just\s+)?|"
    r"\b(?:be\s+able|happy|able)\s+to\s+|\bgo\s+ahead\s+and\s+|(?:'d|\bwould)\s+like\s+to\s+)"
)
_EN_MIND = (
    r"\bmind\s+(?:giving|sending|providing|sharing|telling|confirming|verifying|typing|entering|spelling|"
    r"repeating|resending|double[-\s]checking|passing)"
)
_VERB_LEAD = _rx(
    rf"""
    (?:{_EN_PREFACE}{_EN_VERB}|{_EN_MIND})
    (?:\s+(?:me|us))?(?:\s+(?:again|back|once\s+more|quickly|over|of|with|what|which|here|now|please|out|down|in|
        through|across))*
    \s+{_TAIL}
    """
)
_ES_IMPERATIVE = (
    r"(?:d[eé]me|dame|d[eé]nos|facil[ií]te(?:me|nos)?|facil[ií]ta(?:me|nos)?|ind[ií]que(?:me|nos)?|"
    r"ind[ií]ca(?:me|nos)?|d[ií]ga(?:me|nos)?|d[ií]me|d[ií]nos|conf[ií]rme(?:me|nos)?|conf[ií]rma(?:me|nos)?|"
    r"env[ií]e(?:me|nos)?|env[ií]a(?:me|nos)?|m[aá]nde(?:me|nos)?|m[aá]nda(?:me|nos)?|p[aá]se(?:me|nos)?|"
    r"p[aá]sa(?:me|nos)?|proporci[oó]ne(?:me|nos)?|proporci[oó]na(?:me|nos)?|rep[ií]ta(?:me|nos)?|"
    r"rep[ií]te(?:me|nos)?|escr[ií]ba(?:me|nos)?|escr[ií]be(?:me|nos)?|recu[eé]rde(?:me|nos)?|"
    r"recu[eé]rda(?:me|nos)?|comp[aá]rta(?:me|nos)?|comp[aá]rte(?:me|nos)?|verifique|verifica|deletree|deletrea|"
    r"especifique|especifica|"
    r"compruebe|comprueba)"
)
_ES_INFINITIVE = (
    r"(?:dar|facilitar|indicar|decir|confirmar|enviar|mandar|pasar|proporcionar|repetir|escribir|recordar|"
    r"compartir|verificar|deletrear|especificar|comprobar)(?:me|nos)?"
)
_ES_PRESENT = (
    r"(?:da|das|dice|dices|facilita|facilitas|indica|indicas|confirma|confirmas|pasa|pasas|env[ií]a|"
    r"env[ií]as|manda|mandas|proporciona|proporcionas|repite|repites|escribe|escribes|deja|dejas|recuerda|"
    r"recuerdas)"
)
_ES_LEAD = _rx(
    rf"""
    (?:
        (?:^|[,;:¿¡(]\s*|\b(?:y|por\s+favor|pues|entonces|primero|tambi[eé]n|ahora|vale|bien|gracias|perfecto)
            [\s,]+|\bque\s+(?:(?:me|nos)\s+)?)(?:por\s+favor[\s,]+)?{_ES_IMPERATIVE}
      | \b(?:(?:me|nos)\s+)?(?:puede|podr[ií]a|puedes|podr[ií]as|pudiera|pudieras|quiere|quisiera|querr[ií]a|
            le\s+importar[ií]a|te\s+importar[ií]a|ser[ií]a\s+tan\s+amable\s+de|tiene\s+que|tienes\s+que|debe|
            debes|hace\s+falta|necesito|necesitar[ií]a|necesitamos|vuelva\s+a|vuelve\s+a)
            \s+(?:usted\s+)?(?:por\s+favor\s+)?(?:(?:me|nos)\s+)?{_ES_INFINITIVE}
      | \b(?:me|nos)\s+{_ES_PRESENT}
    )
    (?:\s+(?:otra\s+vez|de\s+nuevo|nuevamente|por\s+favor|usted))*[\s,]+
    (?:(?:cu[aá]l\s+es|qu[eé])\s+)?{_TAIL}
    """
)
_NEED_LEAD = _rx(
    rf"""
    \b(?:
        (?:can|could|may|might)\s+(?:I|we)\s+(?:please\s+|just\s+|also\s+|quickly\s+|now\s+|first\s+)?
            (?:have|get|take|grab|ask\s+(?:you\s+)?for|trouble\s+you\s+for|bother\s+you\s+for|confirm|verify)
      | (?:I|we)(?:'ll|\s+will|'d|\s+would)?\s+(?:also\s+|just\s+|still\s+|first\s+|now\s+)?need
      | do\s+you\s+(?:still\s+)?(?:have|know|remember) | have\s+you\s+(?:still\s+)?got
      | is\s+there | are\s+there
      | necesito | necesitar[ií]a | necesitamos | necesitar[ií]amos | me\s+hace\s+falta | nos\s+hace\s+falta
      | requiero | tiene(?:s)?(?:\s+a\s+mano)? | dispone\s+de | me\s+deja(?:s)?\s+ver
    )\s+{_TAIL}
    """
)
# Bare fragments: "Order number?", "¿Y su correo?", "And your email, please?"
_FRAGMENT_BEFORE = _rx(
    rf"""^\s*[¿¡]?\s*(?:and|also|y|tambi[eé]n|ok(?:ay)?|perfect|great|thanks|gracias|vale|perfecto|what\s+about|
    how\s+about|qu[eé]\s+hay\s+de)?[\s,]*{_TAIL}"""
)
_FRAGMENT_AFTER = _rx(r"^\s*,?\s*(?:please|por\s+favor|was|is|again|era|es)?\s*\?")
# A second thing asked in the same breath: "What's your order number and the email you used?"
_COORDINATION = _rx(rf"^\s*(?:,|and|&|y|or|o|as\s+well\s+as|plus|e)?\s+(?:also\s+|tambi[eé]n\s+)?{_TAIL}")

# Requests without a slot noun, recognised in questions only.
_PHRASES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "name",
        _rx(
            r"\bwho\s+am\s+I\s+(?:speaking|talking|chatting)\s+(?:with|to)\b|\bcon\s+qui[eé]n\s+hablo\b|"
            r"\bc[oó]mo\s+se\s+llama\b|\bc[oó]mo\s+te\s+llamas\b|\bunder\s+what\s+name\b|\ba\s+nombre\s+de\s+qui[eé]n\b"
        ),
    ),
    (
        "address",
        _rx(
            r"\bwhere\s+do\s+you\s+live\b|\bwhere\s+(?:should|shall|can|do\s+you\s+want|would\s+you\s+like)\s+"
            r"(?:we|I|us|me)\s+(?:to\s+)?(?:send|ship|deliver|post|mail)\b|\bd[oó]nde\s+viv\w+|"
            r"\b(?:a\s+)?d[oó]nde\s+(?:le|te|se\s+lo|se\s+la)?\s*(?:enviamos|mandamos|enviemos|mandemos)\b"
        ),
    ),
    ("birth", _rx(r"\bwhen\s+were\s+you\s+born\b|\bcu[aá]ndo\s+naci\w+")),
    (
        "date",
        _rx(
            r"\bwhen\s+(?:did|was|were|had|has|have)\b|\bsince\s+when\b|\bhow\s+long\s+ago\b|"
            r"\bwhat\s+day\s+(?:did|was|were)\b|\b(?:desde\s+)?cu[aá]ndo\b|\bqu[eé]\s+d[ií]a\b|\bhace\s+cu[aá]nto\b"
        ),
    ),
    (
        "amount",
        _rx(
            r"\bhow\s+much\s+(?:did|was|were|have|had|is|are|do|does|money)\b|\bcu[aá]nto\s+(?:le\s+|te\s+|se\s+|me\s+)?"
            r"(?:cobr|pag|cost|fue|era|es\b|ha\s+pagado|han\s+cobrado)\w*"
        ),
    ),
    (
        "product",
        _rx(
            r"\bwhat\s+did\s+you\s+(?:buy|order|purchase|return|get|receive)\b|"
            r"\bwhich\s+\w+\s+(?:did|do)\s+you\s+(?:buy|order|purchase|return|get|receive|have|use)\b|"
            r"\bqu[eé]\s+(?:compr|pidi|devolvi)\w*"
        ),
    ),
    ("order_number", _rx(r"\b(?:which|what)\s+order\b(?!\s+(?:to|of)\b)|\b(?:qu[eé]|cu[aá]l)\s+pedido\b")),
    (
        "phone",
        _rx(
            r"\b(?:what|which)\s+number\s+(?:can|should|do|shall|could|may)\s+(?:we|I|they|he|she)\s+"
            r"(?:call|reach|ring|text|contact)\b"
        ),
    ),
)
# A date question about the future or a preference asks for an appointment, not a past date.
_FUTURE_DATE = _rx(
    r"\b(?:would|will|should|shall|prefer\w*|best|works?|suits?|convenient|available|free|next|le\s+viene|"
    r"te\s+viene|prefier\w+|conviene|quiere|quieres|podemos|puede\s+venir)\b"
)
# Words that say what a phone number is for ("the best number to call you on").
_CALL_WORDS = _rx(
    r"\b(?:call|ring|reach|text|contact|phone|whats\s*app|sms|llam\w*|contact\w*|localiz\w*|whatsapp|mensaje)\b"
)
_POSSESSIVE_NUMBER = _rx(r"\b(?:your|ur|su|tu)\s+$")
_BIRTH_CONTEXT = _rx(r"\b(?:birth|born|dob|birthday|nacimiento|naci\w*|cumplea[ñn]os)\b")
_POSTCODE = re.compile(r"\b\d{5}(?:-\d{4})?\b|\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b|\b\d{4}\s?[A-Z]{2}\b")
_QUESTION = re.compile(r"\?|¿")

# Identifier families: a "claim number" is not a "policy number" even though both are account ids.
_ID_FAMILIES = (
    ("claim", r"claim|reclamaci[oó]n|siniestro|CLM"),
    ("policy", r"policy|p[oó]liza|POL"),
    ("member", r"member|socio|MEM"),
    ("account", r"account|acct|customer|client|cuenta|cliente|ACC|CUST?"),
)


def _id_family(text: str) -> str | None:
    for family, pattern in _ID_FAMILIES:
        if re.search(rf"\b(?:{pattern})", text, re.IGNORECASE):
            return family
    return None


# --- words shared by a question and the turn it is about -----------------------------------------


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(_fold(word) for word in text.split())


_STOPWORDS = _wordset(
    """
    a an the and or but so of to in on at by for from with into onto about as is are was were be been
    being am do does did done have has had having will would shall should can could may might must it
    its it's this that these those there here what which who whom whose when where why how you your
    yours u ur i me my we us our they them their he she his her him please thanks thank just also again
    still already yet now then than too very really ok okay sure tell confirm give send share provide
    let know remind date day amount much many time first last exactly originally supposed happen
    happened occur occurred start started begin began de del la las el los un una unos unas y o que qué
    en por para con su sus tu tus le les lo se me mi es son fue era fecha día cuándo cuando cuánto
    cuanto desde hace importe cantidad total ha han he hemos usted ustedes nos ya aún todavía muy más
    menos pasó ocurrió empezó sucedió cuál cual
    """
)
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


def _stems(text: str, *, drop: Iterable[str] = ()) -> set[str]:
    dropped = {_fold(w) for w in drop}
    words = (_fold(w) for w in _WORD.findall(text))
    return {w[:5] for w in words if w not in _STOPWORDS and w not in dropped and len(w) >= 4}


_REQUEST_WORDS = _wordset(
    "remind could would please security verify check indicar decir confirmar recordar puede podría"
)


# --- the request check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ask:
    slot: str  # a package slot, or "postcode"/"birth" (answered by address/date)
    noun: str
    sentence: str
    family: str | None  # identifier family named in the question ("claim"), if any


# Sentence ends: ".", "!" or "?" before a space (never the dots of an email or "$4.50"), a new line, or
# the "¿"/"¡" that opens a Spanish question.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+|(?<=[^\s¿¡])(?=[¿¡])")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split(text) if s.strip(" .!?¿¡\n")]


def _asked(sentence: str) -> list[_Ask]:
    """The details this sentence asks the customer for."""
    asks: list[_Ask] = []
    is_question = bool(_QUESTION.search(sentence))
    last_asked_end = -1
    for m in _NOUN.finditer(sentence):
        slot = next(name for name, value in m.groupdict().items() if value is not None)
        before = sentence[: m.start()]
        window = before[-90:]
        requested = bool(
            _WH_LEAD.search(window)
            or _customer_asked_to_act(window)
            or _ES_LEAD.search(window)
            or _NEED_LEAD.search(window)
            or (
                is_question and _FRAGMENT_BEFORE.search(before) and _FRAGMENT_AFTER.match(sentence[m.end() :])
            )
            or (last_asked_end >= 0 and _COORDINATION.match(sentence[last_asked_end : m.start()]))
        )
        if not requested or _NEW_ITEM.search(window):
            continue
        resolved = _resolve_noun(slot, m.group(0), before, sentence, is_question)
        if resolved is None:
            continue
        asks.append(_Ask(resolved, m.group(0), sentence, _id_family(m.group(0))))
        last_asked_end = m.end()
    if is_question:
        for slot, pattern in _PHRASES:
            if pattern.search(sentence):
                if slot in {"date", "product"} and _FUTURE_DATE.search(sentence):
                    continue
                asks.append(_Ask(slot, "", sentence, None))
    return asks


# "I'll just confirm your address with the courier": the agent's own action, not a request. A verb the
# customer is asked to do comes with "can you", "please", "need you to"… or opens the clause.
_ADDRESSED = _rx(
    r"""^[\s,;:(—–-]*(?:(?:can|could|would|will)\s+(?:you|u)|please|pls|kindly|mind|(?:need|want|like|ask|asking)\s+
    you|need\s+to|if\s+you|be\s+able|happy|able|go\s+ahead|'d\s+like|would\s+like)\b"""
)
_AGENT_SUBJECT = _rx(
    r"""\b(?:I|we|let\s+me|let\s+us|I'?ll|we'?ll|I'?m|we'?re|I'?ve|we'?ve)\b(?![^,;:]*\byou\b)[^,;:]*$"""
)


def _customer_asked_to_act(window: str) -> bool:
    m = _VERB_LEAD.search(window)
    if m is None:
        return False
    if _ADDRESSED.match(m.group(0)):
        return True
    return not _AGENT_SUBJECT.search(window[: m.start()])


def _resolve_noun(slot: str, noun: str, before: str, sentence: str, is_question: bool) -> str | None:
    """The slot a requested noun stands for here, or None when it is not a detail the customer owns."""
    lowered = noun.lower()
    if slot == "number":
        # "the best number to call you on", "your number": a phone; otherwise too vague to say.
        if _CALL_WORDS.search(sentence) or _POSSESSIVE_NUMBER.search(before):
            return "phone"
        return None
    if slot == "name":
        # "company name", "the name of the product": only the customer's own name counts.
        if lowered.split()[0] in {"full", "first", "last", "given", "family", "complete", "surname"}:
            return "name"
        if lowered.startswith(("surname", "apellido", "nombre completo")):
            return "name"
        if re.search(r"\b(?:your|ur|su|tu)\s+$", before, re.IGNORECASE):
            return "name"
        if re.match(
            r"\s+(?:on|in|under)\s+(?:the|your)\s+(?:account|booking|order|card|reservation|policy)",
            sentence[len(before) + len(noun) :],
            re.IGNORECASE,
        ):
            return "name"
        if re.match(r"\s+del\s+titular", sentence[len(before) + len(noun) :], re.IGNORECASE):
            return "name"
        return None
    if slot == "account_id" and lowered in {"cuenta", "policy", "póliza", "poliza"} and not is_question:
        return None
    if slot in {"date", "product"} and _FUTURE_DATE.search(sentence):
        return None  # "which model would you like?", "what date suits you?": a choice, not a detail given
    if slot in {"date", "amount", "product"} and not is_question:
        # "Please send the receipt with the amount" is not a question about the amount.
        return slot if _customer_asked_to_act(before[-90:]) or _ES_LEAD.search(before[-90:]) else None
    return slot


def _known_value_in(sentence: str, item: dict[str, Any]) -> bool:
    """Whether the sentence quotes the value the customer gave (the agent shows they have it)."""
    slot, value = str(item.get("slot", "")), str(item.get("value", ""))
    if not value:
        return False
    if slot == "phone":
        digits = "".join(ch for ch in value if ch.isdigit())
        said = "".join(ch for ch in sentence if ch.isdigit())
        return len(digits) >= 4 and digits[-4:] in said
    if slot == "address":
        value = value.split(",")[0]
    folded_value = re.sub(r"[^0-9a-z@.]+", "", _fold(value).lstrip("#"))
    folded_sentence = re.sub(r"[^0-9a-z@.]+", "", _fold(sentence))
    return len(folded_value) >= 3 and folded_value in folded_sentence


class _Turns:
    """Transcript text by seq, built only when a question needs it."""

    def __init__(self, package: dict[str, Any]) -> None:
        self._package = package
        self._by_seq: dict[Any, dict[str, Any]] | None = None

    def get(self, seq: Any) -> dict[str, Any]:
        if self._by_seq is None:
            self._by_seq = {
                t.get("seq"): t for t in self._package.get("transcript") or [] if isinstance(t, dict)
            }
        return self._by_seq.get(seq) or {}


# How an amount question is framed ("how much were you charged"), not what it is about.
_MONEY_VERBS = (
    "charge", "charged", "charges", "pay", "paid", "cost", "costs", "price", "spend", "spent", "bill", "billed",
    "cobrar", "cobraron", "cobrado", "cobró", "pagar", "pagó", "pagado", "costó", "costado",
)  # fmt: skip


def _about_the_same(ask: _Ask, item: dict[str, Any], turns: _Turns) -> bool:
    """A date or amount question is a repeat only when it is about what the customer dated or priced."""
    framing = _MONEY_VERBS if ask.slot == "amount" else ()
    wanted = _stems(ask.sentence, drop=(*_REQUEST_WORDS, *framing, *ask.noun.split()))
    if not wanted:
        return True  # "When did this happen?", "What was the amount?"
    said = _stems(str(turns.get(item.get("seq")).get("text", "")))
    return bool(wanted & said)


def _evidence_for(ask: _Ask, provided: list[dict[str, Any]], turns: _Turns) -> dict[str, Any] | None:
    """The earlier detail the question asks for again, most recent first."""
    slot = {"postcode": "address", "birth": "date"}.get(ask.slot, ask.slot)
    candidates = [item for item in reversed(provided) if item.get("slot") == slot]
    for item in candidates:
        if _known_value_in(ask.sentence, item):
            return None
        source = str(turns.get(item.get("seq")).get("text", "")) if slot in {"date", "account_id"} else ""
        if ask.slot == "postcode" and not _POSTCODE.search(str(item.get("value", ""))):
            continue
        if slot == "date":
            is_birth = bool(_BIRTH_CONTEXT.search(source))
            if ask.slot == "birth" or _BIRTH_CONTEXT.search(ask.sentence):
                if not is_birth:
                    continue
                return item
            if is_birth or not _about_the_same(ask, item, turns):
                continue
        if slot == "amount" and not _about_the_same(ask, item, turns):
            continue
        if slot == "account_id" and ask.family:
            family = _id_family(str(item.get("value", ""))) or _id_family(_context_of(source, item))
            if family and family != ask.family:
                continue  # asked for a policy number; the customer gave a claim number
        return item
    return None


def _context_of(source: str, item: dict[str, Any]) -> str:
    value = str(item.get("value", ""))
    at = source.find(value)
    return source[max(0, at - 30) : at] if at >= 0 else source


_LABELS = {
    "order_number": "their order number",
    "email": "their email address",
    "phone": "their phone number",
    "account_id": "their account or reference number",
    "tracking_number": "the tracking number",
    "request_id": "the ticket or case number",
    "name": "their name",
    "address": "their address",
    "amount": "the amount",
    "date": "the date",
    "product": "the product",
}


def _repeat_questions(text: str, package: dict[str, Any], turns: _Turns) -> list[Warning_]:
    provided = [
        i for i in package.get("information_provided") or [] if isinstance(i, dict) and i.get("value")
    ]
    if not provided:
        return []
    warnings: list[Warning_] = []
    seen: set[tuple[str, str]] = set()
    for sentence in _sentences(text):
        for ask in _asked(sentence):
            item = _evidence_for(ask, provided, turns)
            if item is None:
                continue
            slot = str(item["slot"])
            key = (slot, str(item["value"]))
            if key in seen:
                continue
            seen.add(key)
            label = _LABELS.get(slot, "the " + slot.replace("_", " "))
            warnings.append(
                {
                    "kind": "repeat_question",
                    "message": (
                        f"The customer already gave {label} ({item['value']}) in turn {item.get('seq')}; "
                        "asking for it again makes them repeat themselves."
                    ),
                    "evidence": {"slot": slot, "value": item["value"], "seq": item.get("seq")},
                }
            )
    return warnings


# =================================================================================================
# Contradicted commitments
# =================================================================================================

_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "refund",
        _rx(
            r"""\brefund\w*|\breimburs\w*|\bmoney\s+back\b|\bpay\s+you\s+back\b|\breembols\w*|
            [$€£]\s?\d[\d.,]*\s+back\b|\d\s?(?:€|eur|euros|dollars)\s+back\b|
            \b(?:le|te|les)\s+(?:devolv|devuelv)\w*|\bdevolver(?:le|te|les)\b|\bdevolvemos\b|\bdevolveremos\b|
            \bdevolver\s+(?:el|la|los|las)\s+(?:dinero|importe|comisi|cargo|cobro|pago|gastos|\d)|
            \bdevoluci[oó]n\s+del?\s+(?:la\s+|los\s+|las\s+)?(?:dinero|importe|comisi[oó]n|cargo|cobro|pago|gastos|\d)"""
        ),
    ),
    (
        "credit",
        _rx(
            r"""\bcredit\w*|\bvoucher|\bcoupon|\bdiscount\w*|\bcompensat\w*|\bgoodwill|\bcr[eé]dito|\bdescuento|
            \bcup[oó]n|\bbono\b|\babon\w*|\bcompensaci[oó]n"""
        ),
    ),
    (
        "replacement",
        _rx(
            r"""\breplac\w*|\bnew\s+(?:one|card|unit|device|pair|item|machine|phone|order)\b|\bresend|\bre-send|
            \breship\w*|\bexchange\b|\breposici[oó]n|\bsustitu\w+|\bnuev[oa]s?\b|\bcambio\b"""
        ),
    ),
    (
        "callback",
        _rx(
            r"""\bcall(?:s|ed|ing)?\b|\bcall-?backs?\b|\bring\s+you\b|\bphone\s+you\b|\b(?:le|te|les)\s+llam\w+|
            \bllamar(?:le|te|les)?\b|\bllamad[ao]s?\b|\bllamaremos\b|\bllamar[eé]\b"""
        ),
    ),
    (
        "contact",
        _rx(
            r"""\bcontact\w*|\bget\s+back\s+to\s+you|\bfollow(?:\s|-)?up|\bin\s+touch\b|\breach\s+out|\bemail\s+you|
            \btext\s+you|\bmessage\s+you|\blet\s+you\s+know|\bkeep\s+you\s+(?:posted|updated)|\bnotif\w+|
            \bcontactar\w*|\bescribir(?:le|te)|\b(?:le|te)\s+escrib\w+|\bavis\w+"""
        ),
    ),
    (
        "visit",
        _rx(r"""\bvisit\w*|\bengineer|\btechnician|\bappointment|\bvisita\w*|\bt[eé]cnico|\bcita\b"""),
    ),
    (
        "delivery",
        _rx(
            r"""\bdeliver\w*|\bdispatch\w*|\bship(?:s|ped|ping|ment)?\b|\bcourier|\bparcel|\bentreg\w*|\bmensajer\w*"""
        ),
    ),
)
# Words too common to tie a draft to a promise on their own.
_TOPIC_STOPWORDS = _wordset(
    """
    return returns returned returning policy apply applying aplicar aplicaremos aplicado devolución
    will with your have been this that they them their there here from into about within business
    working days hours weeks today tomorrow morning evening afternoon week next time soon sure also just
    only able going make take takes taking should would could cannot unable possible promised already
    still again sorry unfortunately afraid customer please thanks order item card account sent send same
    days hours minutes monday tuesday wednesday thursday friday saturday sunday earliest latest find
    found right away back first there where when what which while than then once until before after
    since under over arrive arrives arrival land lands show shows reach reaches appear appears available
    done need needs help issue problem team colleague today tonight later maybe probably really fully
    sometime anything everything nothing something processed process processing issued apply applied
    added promise lunes martes miércoles jueves viernes sábado domingo mañana hoy días semana semanas
    horas hábiles laborables tarde pronto cuenta pedido porque para como pero también después antes
    luego ahora mismo podemos podremos puede pueden vamos tiene tengo hemos ha han sido será están
    estamos usted ustedes según contrato tal dijimos caso unos unas este esta esto sobre entre hasta
    desde refund refunds refunded credit credits call calls called opened open marked raised logged
    checked escalated flagged looked
    """
)


# A phrase after a preposition says where or for what ("credited to your account", "en la próxima factura"),
# not what was promised; it does not tie a draft to a promise that already names its kind.
_PREPOSITIONAL = _rx(
    r"""\b(?:to|for|on|in|at|from|of|into|onto|with|about|en|de|del|al|para|por|con|sobre)\s+
    (?:(?:the|your|our|a|an|this|that|next|la|el|los|las|su|sus|un|una|tu|este|esta|pr[oó]xim[oa])\s+)*
    [^\W\d_]+(?:\s+[^\W\d_]+)?"""
)


def _topic_stems(text: str, *, heads_only: bool = False) -> set[str]:
    # "the engineer's arrival window": the window, not the engineer
    cleaned = _POSSESSIVE.sub(" ", text)
    if heads_only:
        cleaned = _PREPOSITIONAL.sub(" ", cleaned)
    words = (_fold(w) for w in _WORD.findall(cleaned))
    return {w[:5] for w in words if len(w) >= 4 and w not in _TOPIC_STOPWORDS and w not in _STOPWORDS}


_POSSESSIVE = re.compile(r"\b\w+['’]s\b")


def _families(text: str) -> frozenset[str]:
    # "the technician's report" is about a report: a possessive only says whose.
    text = _POSSESSIVE.sub(" ", text)
    return frozenset(name for name, pattern in _FAMILIES if pattern.search(text))


# --- what a clause says --------------------------------------------------------------------------

_MONEY = _rx(
    r"""(?P<symbol>US\$|[$€£])\s?(?P<number>\d[\d,]*(?:\.\d{1,2})?)
    | (?P<number2>\d[\d.]*(?:,\d{1,2})?)\s?(?P<code>€|\$|£|eur\b|usd\b|gbp\b|euros?\b|dollars?\b|pounds?\b|d[oó]lares\b)"""
)
_PERCENT = _rx(r"(?P<number>\d+(?:[.,]\d+)?)\s?(?:%|percent\b|per\s+cent\b|por\s+ciento\b)")
_CURRENCY = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "eur": "EUR", "euro": "EUR", "euros": "EUR",
             "usd": "USD", "dollar": "USD", "dollars": "USD", "dólares": "USD", "dolares": "USD", "gbp": "GBP",
             "pound": "GBP", "pounds": "GBP"}  # fmt: skip


def _money(text: str) -> list[tuple[float, str]]:
    found: list[tuple[float, str]] = []
    for m in _MONEY.finditer(text):
        if m.group("symbol"):
            raw, currency = m.group("number").replace(",", ""), _CURRENCY[m.group("symbol").lower()]
        else:
            raw = m.group("number2")
            # "12,50 €" (decimal comma) and "1.250 €" (thousands dot)
            raw = raw.replace(".", "").replace(",", ".") if "," in raw or re.search(r"\.\d{3}$", raw) else raw
            currency = _CURRENCY.get(m.group("code").lower(), "")
        try:
            found.append((float(raw), currency))
        except ValueError:
            continue
    return found


def _percents(text: str) -> list[float]:
    return [float(m.group("number").replace(",", ".")) for m in _PERCENT.finditer(text)]


# Refusing or revoking the promised thing.
_NEGATION = _rx(
    r"""\b(?:can'?t|cannot|can\s+not|won'?t|will\s+not|wouldn'?t|unable\s+to|not\s+able\s+to|not\s+going\s+to|
    no\s+longer|don'?t|do\s+not|doesn'?t|does\s+not|aren'?t\s+able|isn'?t\s+able|not\s+in\s+a\s+position\s+to)\b"""
)
_REFUSAL_ACTION = _rx(
    r"""\b(?:refund|reimburse|credit|offer|give|provide|issue|process|arrange|send|call|ring|phone|contact|
    replace|deliver|honou?r|approve|apply|do|make|guarantee|promise|compensate|pay|cover|visit|book|schedule|
    waive|extend|proceed|go\s+ahead|be\s+available|be\s+possible|have|get|reach|ship|dispatch|come)\b"""
)
_NOT_REFUSAL = _rx(
    r"""\b(?:worry|need\s+to|need|have\s+to|hesitate|take|be\s+long|be\s+charged|cost|forget|forgotten|lose|
    miss|see|find|locate|tell|know|check|confirm|understand|mind|expect|want)\b"""
)
_REFUSED_STATE = _rx(
    r"""(?:\bnot|n't|\bno\s+longer)\s+(?:be\s+)?(?:possible|eligible|entitled|allowed|covered|refundable|available|
    approved|going\s+ahead|happening)\b|\bnon-refundable\b|\bineligible\b|
    \bno\s+(?:refunds?|credits?|callbacks?|calls?|replacements?|compensation|courtesy|discounts?|vouchers?|visits?)\b|
    \bnothing\s+(?:we\s+can|to\s+refund|to\s+credit)"""
)
_REVOKED = _rx(
    r"""\b(?:cancel+ed|cancel+ing|declined|rejected|denied|removed|reversed|withdrawn|voided|revoked|clawed\s+back|
    taken\s+back|on\s+hold|denegad[oa]s?|rechazad[oa]s?|cancelad[oa]s?|anulad[oa]s?|retirad[oa]s?|revocad[oa]s?|
    suspendid[oa]s?|(?:se\s+)?(?:cancela|anula|retira|suspende)|cancelamos|anulamos|retiramos|suspendemos|
    queda\s+(?:cancelad|anulad)\w*)\b"""
)
_NOT_BEFORE = _rx(r"\b(?:not|n't|no|never|nunca)\s+(?:\w+\s+){0,2}$")
_ES_REFUSAL = _rx(
    r"""\bno\s+(?:(?:le|te|les|se|lo|la|los|las|nos|me)\s+)*
    (?:(?:podemos|podremos|puedo|podr[eé]|podr[ií]amos|podr[ií]a|podr[aá]|puede|vamos\s+a|va\s+a|voy\s+a|es\s+posible|
        ser[aá]\s+posible|se\s+puede|procede|corresponde|hay|habr[aá]|aplica|aplicamos|ofrecemos|hacemos|
        realizamos|tramitamos|est[aá]\s+cubiert\w*|tiene\s+derecho|es\s+viable)\b
      | (?:reembols|devolv|devuelv|abon|llam|envi|mand|aplic|ofrec|tramit|cambi|repon|sustitu|entreg)\w*)"""
)
_ES_NOT_REFUSAL = _rx(
    r"\bno\s+(?:se\s+preocup\w+|te\s+preocup\w+|hace\s+falta|tiene\s+que|tendr[aá]\s+que|es\s+necesario|dude\w*|hay\s+problema|tardar\w*|m[aá]s\s+tarde)"
)

# Putting a condition on the promise.
_CONDITION = _rx(
    r"""\bonly\b[^.;]{0,60}?\b(?:if|once|when|after|provided)\b
    | \bunless\b | \bprovided\s+(?:that\s+)?(?:you|we|the|it) | \bas\s+long\s+as\b | \bon\s+condition\b
    | \bsubject\s+to\b | \bpending\b | \bbefore\s+(?:we|I)\s+can\b
    | \bonce\s+(?:you|we(?:'ve|\s+have)?\s+(?:receive|received|get|got))\b | \bafter\s+you\b
    | \bif\s+(?:it'?s\s+approved|approved|eligible|authori[sz]ed|the\s+(?:item|product|return|shoes|device)\s+
        (?:is|are)\s+(?:returned|sent|received))\b
    | \bif\s+you\s+(?:first\s+)?(?:return|send|ship|post|mail|bring|provide|submit|upload|pay|sign|agree|accept|buy|
        purchase|upgrade|renew|complete|fill|give|show|prove|cancel|confirm)\b
    | \b(?:you(?:'ll|\s+will)?\s+)?(?:need|have|must)\s+to\s+(?:first\s+)?(?:return|send|ship|provide|submit|fill|
        upload|bring|post|sign|pay)\b
    | \byou\s+must\b | \bfirst\s+(?:you|we)\s+(?:need|have)\b
    | \b(?:requires?|needs?)\s+(?:[\w']+\s+){0,2}(?:approval|authori[sz]ation|sign-?off|review|receipt|proof)\b
    | \bs[oó]lo\b[^.;]{0,60}?\b(?:si|cuando|una\s+vez|despu[eé]s\s+de)\b | \b[uú]nicamente\s+si\b
    | \bsiempre\s+(?:y\s+cuando|que)\b | \ba\s+condici[oó]n\s+de\b | \buna\s+vez\s+que\b
    | \bsi\s+(?:nos\s+|me\s+)?(?:usted\s+)?(?:devuelve|env[ií]a|manda|presenta|adjunta|aporta|es\s+aprobad\w*)\b
    | \bpendiente\s+de\b | \bsujet[oa]\s+a\b | \brequiere\b
    | \b(?:tendr[aá]|tiene|deber[aá]|debe)\s+que\s+(?:primero\s+)?(?:devolver|enviar|presentar|mandar|aportar)\b
    | \bdeber[aá]?\s+(?:primero\s+)?(?:devolver|enviar|presentar|mandar|aportar)\b
    | \bantes\s+de\s+(?:poder|que\s+podamos)\b
    | \bhasta\s+que\s+(?:nos\s+)?(?:devuelva|env[ií]e|mande|presente|recibamos|aporte)\b"""
)
_NEGATED_CONDITION = _rx(r"\b(?:don'?t|do\s+not|won'?t|no|doesn'?t|didn'?t|never)\s+(?:\w+\s+){0,2}$")
_IF_CLAUSE = _rx(r"\b(?:if|si|once|when|cuando|una\s+vez\s+que)\b[^,;]*")
_CONDITION_WORDS = _wordset(
    """
    return returned send receipt photo photos proof approval review devuelve devolver reclamación
    escrito foto fotos recibo factura
    """
)

# Time said about the past is not a deadline ("two weeks ago", "since yesterday").
_PAST_TIME = _rx(
    r"""\b(?:\w+\s+)?(?:days?|weeks?|hours?|months?)\s+ago\b|\bhace\s+\w+\s+(?:d[ií]as|semanas|horas|meses)\b|
    \blast\s+\w+|\byesterday\b|\bayer\b|\bsince\s+\w+|\bdesde\s+(?:el\s+)?\w+"""
)
_EXACT_DAY = _rx(
    r"""\b(?:on|el|this|next|este|el\s+pr[oó]ximo)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|
    lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo|\d{1,2}(?:st|nd|rd|th)?\b|
    (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*)"""
)
_DEADLINE_WORDS = _rx(
    r"\b(?:by|before|within|until|no\s+later|antes|dentro|para\s+el|en\s+\d|as\s+late\s+as)\b"
)
_DURATION_KEY = _rx(
    r"""(?P<n>\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fourteen|twenty|thirty|un|una|dos|tres|
    cuatro|cinco|siete|diez)\s*(?P<unit>business\s+days?|working\s+days?|d[ií]as\s+(?:h[aá]biles|laborables)|
    minutes?|mins?|minutos?|hours?|hrs?|horas?|days?|d[ií]as?|weeks?|semanas?)\b"""
)
_ADDITIONAL = _rx(
    r"\b(?:further|another|additional|extra|also|as\s+well|on\s+top|plus|more|adicional|otro|otra|adem[aá]s|tambi[eé]n)\b"
)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "twelve": 12, "fourteen": 14, "twenty": 20, "thirty": 30, "un": 1,
                 "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "siete": 7, "diez": 10}  # fmt: skip


def _duration_keys(text: str) -> set[tuple[int, str]]:
    keys: set[tuple[int, str]] = set()
    for m in _DURATION_KEY.finditer(text):
        n = m.group("n").lower()
        number = int(n) if n.isdigit() else _NUMBER_WORDS.get(n, 0)
        unit = _fold(m.group("unit"))
        if any(w in unit for w in ("business", "working", "habil", "laborable")):
            family = "bday"
        elif unit.startswith(("min",)):
            family = "min"
        elif unit.startswith(("hour", "hr", "hora")):
            family = "hour"
        elif unit.startswith(("week", "semana")):
            family = "week"
        else:
            family = "day"
        keys.add((number, family))
    return keys


@dataclass(frozen=True)
class _Aspect:
    """One clause of a commitment: what it is about, by when, how much."""

    text: str
    families: frozenset[str]
    stems: frozenset[str]
    due: datetime | None
    exact: bool
    durations: frozenset[tuple[int, str]]
    money: tuple[tuple[float, str], ...]
    percents: tuple[float, ...]


def _as_moment(value: str | None, *, end_of_day: bool = True) -> datetime | None:
    """An ISO date or datetime as an aware datetime (a date means the end of that day)."""
    if not value:
        return None
    if len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
        clock = (23, 59) if end_of_day else (0, 0)
        return datetime(day.year, day.month, day.day, *clock, tzinfo=UTC)
    moment = parse_at(value)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _deadline(clause: str, at: str) -> tuple[datetime | None, bool]:
    """(the moment a clause's time bound resolves to, whether it is date-only)."""
    cleaned = _PAST_TIME.sub(" ", clause)
    if not mentions_deadline(cleaned):
        return None, False
    resolved = resolve_due(cleaned, at)
    return _as_moment(resolved), bool(resolved and len(resolved) == 10)


def _commitment_at(commitment: dict[str, Any], turns: _Turns, now: str) -> str:
    at = turns.get(commitment.get("seq")).get("at")
    return str(at) if at else now


def _aspects(commitment: dict[str, Any], at: str) -> tuple[_Aspect, ...]:
    amount = commitment.get("amount")
    return _aspects_of(
        str(commitment.get("text") or ""),
        at,
        str(commitment.get("due") or ""),
        "" if amount in (None, "") else str(amount),
        str(commitment.get("currency") or ""),
        str(commitment.get("kind") or ""),
    )


# A package's commitments are the same on every keystroke: parse each once per (text, time, fields).
@lru_cache(maxsize=4096)
def _aspects_of(
    text: str, at: str, due_field: str, amount_field: str, currency: str, kind: str
) -> tuple[_Aspect, ...]:
    clauses = [c for s in commitment_rules.split_sentences(text) for c in commitment_rules.split_clauses(s)]
    aspects: list[_Aspect] = []
    previous_families: frozenset[str] = frozenset()
    previous_stems: frozenset[str] = frozenset()
    for clause in clauses or [text]:
        families = _families(clause) or previous_families
        stems = frozenset(_topic_stems(clause, heads_only=bool(families))) or previous_stems
        due, _ = _deadline(clause, at)
        aspects.append(
            _Aspect(
                text=clause,
                families=families,
                stems=stems,
                due=due,
                exact=bool(_EXACT_DAY.search(clause) and not _DEADLINE_WORDS.search(clause)),
                durations=frozenset(_duration_keys(clause)),
                money=tuple(_money(clause)),
                percents=tuple(_percents(clause)),
            )
        )
        previous_families, previous_stems = families, stems
    # A posted commitment may carry its due date and amount only as fields.
    if all(a.due is None for a in aspects) and due_field:
        due = _as_moment(due_field)
        aspects = [_replace(a, due=due) for a in aspects]
    if not any(a.money for a in aspects) and amount_field:
        money: tuple[tuple[float, str], ...]
        try:
            money = ((float(amount_field), currency),)
        except ValueError:
            money = ()
        aspects = [_replace(a, money=money) for a in aspects]
    family = {"follow_up": "contact"}.get(kind, kind)
    if family in dict(_FAMILIES) and not any(a.families for a in aspects):
        aspects = [_replace(a, families=frozenset({family})) for a in aspects]
    return tuple(aspects)


@lru_cache(maxsize=4096)
def _topics_of(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Everything a commitment could be about, to skip the ones a draft cannot touch."""
    return _families(text), frozenset(_topic_stems(text))


def _replace(aspect: _Aspect, **changes: Any) -> _Aspect:
    values = {**aspect.__dict__, **changes}
    return _Aspect(**values)


@dataclass(frozen=True)
class _Piece:
    """A stretch of a clause that may carry its own time bound, and what it is about."""

    families: frozenset[str]
    stems: frozenset[str]
    durations: frozenset[tuple[int, str]]
    said: datetime | None
    date_only: bool


@dataclass(frozen=True)
class _Clause:
    """What one clause of the draft says, worked out once whatever the number of commitments."""

    text: str
    families: frozenset[str]
    stems: frozenset[str]
    main: str  # the clause without an "if …" subordinate (what it asserts)
    main_families: frozenset[str]
    main_stems: frozenset[str]
    conditions: str  # where a condition on it may be stated: itself, and a clause it follows with "then"
    refuses: bool
    has_condition: bool
    money: tuple[tuple[float, str], ...]
    percents: tuple[float, ...]
    additional: bool
    pieces: tuple[_Piece, ...]


_THEN = _rx(r"^\s*(?:and\s+|y\s+)?(?:then|so|after\s+that|luego|despu[eé]s|entonces)\b")
# Where one time bound may end and another begin inside a clause ("we'll call you tomorrow and the refund
# lands in 2 business days").
_TIME_PIECES = _rx(r",|;|\band\b|\by\b|\bbut\b|\bpero\b|\bwhile\b|\bmientras\b")


def _pieces(main: str, now: str) -> tuple[_Piece, ...]:
    pieces: list[_Piece] = []
    for piece in _TIME_PIECES.split(main):
        said, date_only = _deadline(piece, now)
        if said is None:
            continue
        pieces.append(
            _Piece(
                _families(piece),
                frozenset(_topic_stems(piece)),
                frozenset(_duration_keys(piece)),
                said,
                date_only,
            )
        )
    return tuple(pieces)


def _draft_clauses(text: str, now: str) -> list[_Clause]:
    clauses: list[_Clause] = []
    previous: _Clause | None = None
    for sentence in commitment_rules.split_sentences(text):
        if _QUESTION.search(sentence):
            previous = None  # a question proposes; it does not state anything to the customer
            continue
        for raw in commitment_rules.split_clauses(sentence):
            families, stems = _families(raw), frozenset(_topic_stems(raw))
            if not families and not stems and previous is not None:
                families, stems = previous.families, previous.stems  # "It will take 10 days."
            conditions = f"{previous.text} {raw}" if previous is not None and _THEN.match(raw) else raw
            main = _IF_CLAUSE.sub(" ", raw)
            clause = _Clause(
                text=raw,
                families=families,
                stems=stems,
                main=main,
                main_families=_families(main),
                main_stems=frozenset(_topic_stems(main)),
                conditions=conditions,
                refuses=_refuses(main),
                has_condition=bool(_CONDITION.search(conditions)),
                money=tuple(_money(raw)),
                percents=tuple(_percents(raw)),
                additional=bool(_ADDITIONAL.search(raw)),
                pieces=_pieces(main, now),
            )
            clauses.append(clause)
            previous = clause
    return clauses


def _related(clause: _Clause, aspect: _Aspect) -> bool:
    return bool(clause.families & aspect.families or clause.stems & aspect.stems)


def _refuses(text: str) -> bool:
    for m in _NEGATION.finditer(text):
        # "can't refund", "won't be able to call"; not "don't worry", "can't see the refund yet".
        after = text[m.end() : m.end() + 30]
        if _NOT_REFUSAL.search(after[:20]):
            continue
        if _REFUSAL_ACTION.search(after) or _families(after):
            return True
    if _REFUSED_STATE.search(text):
        return True
    if any(not _NOT_BEFORE.search(text[: m.start()]) for m in _REVOKED.finditer(text)):
        return True
    return any(not _ES_NOT_REFUSAL.match(text, m.start()) for m in _ES_REFUSAL.finditer(text))


def _conditions(clause: _Clause, aspect: _Aspect, commitment_text: str) -> bool:
    if not clause.has_condition:
        return False
    text = clause.conditions
    for m in _CONDITION.finditer(text):
        if _NEGATED_CONDITION.search(text[: m.start()]):
            continue  # "you don't need to return anything"
        # What the customer must do ("si presenta una reclamación…"), not the promise it is attached to.
        keyword = m.group(0).split()[-1]
        condition_words = _stems(keyword + text[m.end() :]) & {w[:5] for w in _CONDITION_WORDS}
        if condition_words and condition_words & _stems(commitment_text):
            continue  # the promise already had this condition
        # "If you don't see the refund by Friday, …": the topic sits inside the condition itself.
        if m.group(0).lower().startswith(("if", "si ")) and not (
            clause.main_families & aspect.families or clause.main_stems & aspect.stems
        ):
            continue
        return True
    return False


def _different_amount(clause: _Clause, aspect: _Aspect) -> str | None:
    if clause.additional:
        return None  # "a further $15 credit": another benefit, not a different amount for this one
    if clause.money and aspect.money:
        promised = {round(v, 2) for v, _ in aspect.money}
        currencies = {c for _, c in aspect.money if c}
        comparable = [(v, c) for v, c in clause.money if not c or not currencies or c in currencies]
        if comparable and not any(round(v, 2) in promised for v, _ in comparable):
            return _fmt_money(comparable[0])
    if clause.percents and aspect.percents and not set(clause.percents) & set(aspect.percents):
        return f"{clause.percents[0]:g}%"
    return None


def _fmt_money(money: tuple[float, str]) -> str:
    value, currency = money
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, "")
    number = f"{value:,.2f}".removesuffix(".00")
    return f"{symbol}{number}" if symbol else number


def _later(clause: _Clause, aspect: _Aspect) -> bool:
    """Whether the clause gives a later time than promised (or another day for an appointment)."""
    if aspect.due is None:
        return False
    for piece in clause.pieces:
        if (piece.families or piece.stems) and not (
            piece.families & aspect.families or piece.stems & aspect.stems
        ):
            continue  # this time belongs to something else named beside it
        if aspect.durations and piece.durations & aspect.durations:
            continue  # the same "within 3 business days", restated
        if piece.said is not None and _after(piece.said, piece.date_only, aspect):
            return True
    return False


def _after(said: datetime, date_only: bool, aspect: _Aspect) -> bool:
    promised = aspect.due
    if promised is None:
        return False
    if aspect.exact:
        return said.date() != promised.date()
    if date_only or (promised.hour == 23 and promised.minute == 59):
        return said.date() > promised.date()
    return said > promised + timedelta(minutes=30)


def _open(commitment: Any) -> bool:
    return isinstance(commitment, dict) and (commitment.get("status") or "open") == "open"


def _quote(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _contradictions(text: str, package: dict[str, Any], turns: _Turns, now: str) -> list[Warning_]:
    commitments = [c for c in package.get("commitments") or [] if _open(c)]
    if not commitments:
        return []
    clauses = _draft_clauses(text, now)
    if not clauses:
        return []
    draft_families = frozenset().union(*(c.families for c in clauses))
    draft_stems = frozenset().union(*(c.stems for c in clauses))
    warnings: list[Warning_] = []
    for commitment in commitments:
        commitment_text = str(commitment.get("text") or "")
        families, stems = _topics_of(commitment_text)
        kind = str(commitment.get("kind") or "")
        if not (families & draft_families or stems & draft_stems or {kind, "contact"} & draft_families):
            continue
        aspects = _aspects(commitment, _commitment_at(commitment, turns, now))
        reason = _first_reason(clauses, aspects, commitment_text)
        if reason is None:
            continue
        seq = commitment.get("seq")
        warnings.append(
            {
                "kind": "contradicts_commitment",
                "message": f"{reason} the customer was promised in turn {seq}: “{_quote(commitment_text)}”",
                "evidence": {
                    "text": commitment_text,
                    "kind": commitment.get("kind"),
                    "due": commitment.get("due"),
                    "seq": seq,
                },
            }
        )
    return warnings


def _first_reason(clauses: list[_Clause], aspects: tuple[_Aspect, ...], commitment_text: str) -> str | None:
    """Why the draft conflicts with this commitment (the start of the message), or None."""
    for clause in clauses:
        for aspect in aspects:
            if not _related(clause, aspect):
                continue
            if clause.refuses:
                return "This refuses or withdraws what"
            if _conditions(clause, aspect, commitment_text):
                return "This adds a condition to what"
            amount = _different_amount(clause, aspect)
            if amount:
                promised = _fmt_money(aspect.money[0]) if aspect.money else f"{aspect.percents[0]:g}%"
                return f"This says {amount}, but {promised} is what"
            if _later(clause, aspect):
                kind = "a different day" if aspect.exact else "a later time"
                return f"This gives {kind} than what"
    return None


# =================================================================================================


def _reference_now(package: dict[str, Any], now: datetime | str | None) -> str:
    """The moment the draft is written: given, else the last event of the package (deterministic)."""
    if isinstance(now, datetime):
        moment = now if now.tzinfo else now.replace(tzinfo=UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(now, str) and parse_at(now):
        return now
    for entry in reversed(package.get("transcript") or []):
        if isinstance(entry, dict) and entry.get("at") and parse_at(str(entry["at"])):
            return str(entry["at"])
    escalated = (package.get("escalation") or {}).get("escalated_at")
    if escalated and parse_at(str(escalated)):
        return str(escalated)
    return "2000-01-03T09:00:00Z"  # no clock at all: compare promises relative to one fixed Monday


def check_draft(*, package: dict[str, Any], text: str, now: datetime | str | None = None) -> list[Warning_]:
    """Warnings for an agent's draft given the conversation's live context package.

    Each warning is ``{"kind", "message", "evidence"}``: ``repeat_question`` with the earlier detail
    ``{"slot", "value", "seq"}``, ``contradicts_commitment`` with the commitment ``{"text", "kind", "due",
    "seq"}``. ``now`` (when the draft is written) resolves relative times such as "by Friday"; it
    defaults to the package's last event, so the same package and text always give the same answer.
    """
    if not text or not text.strip() or not isinstance(package, dict):
        return []
    text = text.replace("’", "'").replace("‘", "'")
    turns = _Turns(package)
    reference = _reference_now(package, now)
    return [*_repeat_questions(text, package, turns), *_contradictions(text, package, turns, reference)]


__all__ = ["check_draft"]
