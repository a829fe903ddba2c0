"""Commitments a bot makes in its own words, offers the customer declines, and event/detected twins.

A sentence is a commitment when it promises the customer something in the future ("I'll send…",
"an adjuster will call you…", "you'll receive…"), or reports a done action whose benefit is still to
land (a credit added, a refund issued, a change that "takes effect within 2 hours", a rebooking).
Sentences that only look like promises are filtered first, because a false commitment is worse than a
missed one: the agent would be held to something nobody promised. Filtered: questions, handing the
customer over, negated or conditional statements, things needing someone's approval, and policy (how
things usually work, stated about everyone rather than this customer).

The filters apply per clause, not per sentence: "I've issued the credit, but the replacement only ships
if you return the old one" holds one promise (the credit) and one conditional (the replacement). A
sentence is cut at contrasts ("but", "although", "pero"), semicolons, colons and dashes, and where a
coordinated clause brings its own subject (", and we'll…", "so I'll…"). A trailing restriction with no
promise of its own ("…, but only if you return it") stays with the clause it restricts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from handoffs.context.due import mentions_deadline, resolve_due


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.VERBOSE)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[¿¡\"'(A-ZÁÉÍÓÚÑ0-9])")

_HANDOVER = _rx(
    r"""
    (?:\b(?:I|we)\s*(?:'ll|will|am\s+going\s+to|'m\s+going\s+to|are\s+going\s+to|'re\s+going\s+to)\s+(?:now\s+)?)?
    (?:
        \b(?:connect|transfer|hand|pass|put|route|move)(?:ing)?\s+you\b(?:\s+(?:over|through|on))?
            (?:\s+(?:to|with)\s+(?:\w+[\s-]){0,4}?(?:colleague|agent|specialist|team|person|human|supervisor|
            manager|department|expert|someone|them|one\s+of\s+\w+))?
      | \blet\s+me\s+(?:get|find|bring\s+in|fetch|grab|call\s+over)\s+(?:\w+\s+){0,2}
            (?:colleague|agent|specialist|supervisor|manager|someone|human|person|expert)
      | \b(?:a|an|my|our)\s+(?:\w+[\s-]){0,2}(?:colleague|agent|specialist|supervisor|expert)\s+will\s+
            (?:be\s+with\s+you|join|take\s+over|pick\s+(?:this|it)\s+up|continue)
      | \ble\s+(?:paso|transfiero|comunico|pongo)\s+con\b
    )
    """
)
_QUESTION = re.compile(r"\?\s*$|^\s*¿")
# The bot declines or cannot do it: nothing is promised.
_NEGATED = _rx(
    r"""
    \b(?:can'?t|cannot|can\s+not|unable\s+to|not\s+able\s+to|won'?t\s+be\s+able|no\s+guarantee|
    not\s+(?:possible|allowed|eligible|authori[sz]ed)|isn'?t\s+(?:possible|eligible)|
    (?:I|we)\s+(?:don'?t|do\s+not)|doesn'?t\s+(?:qualify|cover)|
    no\s+(?:(?:le|te|se|lo|la|les)\s+)?(?:puedo|podemos|podremos|puede|es\s+posible|ser[aá]\s+posible))\b
    """
)
# Conditional on something undecided, or needing someone's sign-off.
_CONDITIONAL = _rx(
    r"""
    \b(?:if|unless|provided\s+that|assuming|in\s+case|pending|as\s+long\s+as|si|en\s+caso\s+de|siempre\s+que|
        a\s+menos\s+que)\b
    | \b(?:only|solo|s[oó]lo)\s+(?:once|when|after|cuando|despu[eé]s\s+de)\b
    | (?:^|[,;(])\s*provid(?:ed|ing)\s+(?:that\s+)?\w
    | \b(?:once|when)\s+(?:it'?s\s+|it\s+is\s+|they|the\s+\w+\s+)?(?:approved|authori[sz]ed|signed\s+off)
    | \b(?:need|needs|require|requires|subject\s+to|requiere|necesita)\s+(?:\w+\s+){0,3}?
        (?:approval|authori[sz]ation|sign[\s-]?off|review|aprobaci[oó]n)
    | \b(?:may|might|could|possibly|perhaps|hopefully|podr[ií]a|quiz[aá]s?)\b
    """
)
# Policy: how things usually work, or a general rule stated about a kind of thing.
_POLICY = _rx(
    r"""
    \b(?:usually|typically|generally|normally|often|in\s+most\s+cases|as\s+a\s+rule|on\s+average|
    our\s+policy|the\s+policy|policy\s+(?:is|allows|states|says)|per\s+(?:our\s+)?policy|standard\s+(?:time|process)|
    can\s+take|may\s+take|tend\s+to|normalmente|generalmente|suele|suelen|nuestra\s+pol[ií]tica)\b
    | ^\s*(?:all\s+|most\s+|new\s+)?(?:[a-z]+\s+){0,2}?
        (?:refunds|credits|returns|exchanges|deposits|orders|deliveries|claims|payments|charges|replacements|
        cancellations|complaints|requests|transfers|repairs|changes|upgrades|plans|customers|roaming|
        damage|reimbursements|bookings|tickets)\s+(?:about\s+\w+\s+)?
        (?:are|is|take|takes|cost|costs|can|must|need|get|require|have|allow|go)\b
    """
)

# Evidence of a promise (at least one is needed once the filters pass).
_FUTURE_SELF = _rx(
    r"""
    \b(?:I|we)\s*(?:'ll|will|shall|am\s+going\s+to|'m\s+going\s+to|are\s+going\s+to|'re\s+going\s+to)\s+
    (?:\w+ly\s+|also\s+|now\s+|then\s+|still\s+)?
    (?:send|refund|credit|call|ring|phone|email|e-mail|text|message|contact|reach\s+out|follow\s+up|get\s+back|
    update|let\s+you\s+know|keep\s+you|arrange|book|rebook|schedule|replace|reship|resend|ship|deliver|waive|
    cancel|process|issue|apply|add|reimburse|compensate|fix|repair|restore|reinstate|unlock|reactivate|release|
    make\s+sure|ensure|be\s+in\s+touch|reverse|extend|upgrade|honou?r|cover|pay|return\s+your|personally|
    monitor|expedite|prioriti[sz]e|waive|confirm\s+by|get\s+(?:a|the|your)\s+\w+\s+(?:to|out))\b
    | \b(?:le|te)?\s*(?:enviaremos|enviar[eé]|llamaremos|llamar[eé]|reembolsaremos|devolveremos|abonaremos|
        contactaremos|escribiremos|mandaremos|repondremos|cambiaremos|recibir[aá]s?|llegar[aá])\b
    | \bvamos\s+a\s+(?:enviar|reembolsar|llamar|devolver|abonar|mandar|cambiar)\b
    | \b(?:se\s+)?(?:lo|la|los|las|le|les|te)\s+\w+(?:aremos|eremos|iremos|ar[eé]|er[eé]|ir[eé])\b  # se la entregaremos
    | \b(?:I|we)\s+can\s+(?:offer|send|give|issue|refund|credit|arrange|book|rebook|replace|schedule|waive)\b
    """
)
_FUTURE_OTHER = _rx(
    r"""
    \b(?:adjuster|technician|engineer|specialist|colleague|team|courier|driver|manager|supervisor|handler|
    someone|somebody|representative|rep|department|agent|they|he|she|it|this|that|the\s+change)\s*
    (?:\s(?:will|is\s+going\s+to|are\s+going\s+to|should)|'ll)\s+(?:\w+ly\s+|also\s+)?
    (?:call|phone|ring|contact|email|e-mail|text|message|reach|visit|send|deliver|arrive|get\s+back|follow\s+up|
    be\s+in\s+touch|update|come|collect|pick\s+up|process|refund|credit|replace|repair|fix|install|release|
    confirm|appear|show|take\s+effect|be\s+back|be\s+(?:active|live|visible|applied|processed|credited|refunded|
    released|delivered|shipped))\b
    | \b(?:it|this|that|the\s+change|the\s+credit|the\s+refund|the\s+update)\s+takes\s+effect\b
    | \b(?:le|les|te|lo|la|los|las)\s+(?:llam|contact|escrib|envi|mand|entreg|visit|devolv|reembols|abon|lleg|recog|
        inform|avis|confirm)\w*(?:ar|er|ir)[aá]n?\b                    # un técnico le llamará, le llegará
    | \b(?:refund|credit|replacement|reimbursement|compensation|voucher)\s+(?:of\s+\S+\s+)?
        (?:has\s+been|is\s+being|will\s+be)\s+(?:issued|processed|approved|sent|applied|initiated|credited|added)
    | \b(?:will|'ll|is\s+going\s+to|are\s+going\s+to|should)\s+(?:\w+ly\s+|also\s+)?
        (?:call|phone|ring|contact|email|e-mail|text|message|visit|reach\s+out\s+to|get\s+back\s+to|follow\s+up\s+with)\s+you\b
    | \bwill\s+be\s+(?:delivered|sent|shipped|posted|dispatched|refunded|credited|returned|released|reissued|replaced|
        emailed|collected|repaired|restored|reactivated)\b
    """
)
_FUTURE_YOU = _rx(
    r"""
    \byou(?:'ll|\s+will|\s+should|'re\s+going\s+to|\s+are\s+going\s+to)\s+(?:\w+ly\s+|also\s+|then\s+)?
        (?:receive|get|see|keep|have|hear|be\s+(?:refunded|credited|reimbursed|contacted|called|emailed|notified))\b
    | \byou\s+won'?t\s+be\s+charged\b
    | \byour\s+(?:\w+\s+){0,3}?(?:will|should|is\s+going\s+to)\s+(?:\w+ly\s+)?
        (?:arrive|be\s+(?:emailed|sent|delivered|shipped|refunded|credited|issued|ready|active|processed|released)|
        reach|ship|come|take\s+effect)\b
    """
)
# Done actions whose benefit is still to land: a credit/refund given, a future arrangement made.
_DONE = _rx(
    r"""
    \b(?:I|we)\s*(?:'ve|have)\s+(?:just\s+|already\s+|now\s+|also\s+)?
    (?P<verb>added|applied|issued|processed|refunded|credited|sent|arranged|scheduled|booked|rebooked|ordered|
    waived|reversed|initiated|submitted|reserved|upgraded|extended|reissued|dispatched|shipped|requested|
    emailed|generated|marked|escalated|raised|opened|updated|changed|removed|cancell?ed|reset|unlocked|
    reactivated|switched|moved|rescheduled)\b
    | \b(?:he|hemos)\s+(?P<verbes>a[ñn]adido|aplicado|abonado|reembolsado|devuelto|emitido|enviado|programado|
        reservado|generado|tramitado|solicitado)\b
    """
)
_ARRANGEMENT_VERBS = frozenset({"arranged", "scheduled", "booked", "rebooked", "reserved", "dispatched", "shipped",
                                "ordered", "reissued", "programado", "reservado", "tramitado"})  # fmt: skip
_BENEFIT = _rx(
    r"""
    \b(?:refund\w*|credit\w*|voucher|coupon|discount|compensation|goodwill|replacement|reimburse\w*|money\s+back|
    free|no\s+(?:extra\s+)?(?:charge|cost)|at\s+no\s+cost|complimentary|waived?|reembolso|cr[eé]dito|descuento|
    cup[oó]n|vale|bono|compensaci[oó]n|gratis|sin\s+coste|sin\s+cargo|reembols\w*|abon\w*)\b
    """
)
# An amount is a benefit only beside a verb that gives money ("I've refunded $10", "issued a new $50 card"),
# not beside one that merely handles it ("I've raised a dispute for the $200").
_MONEY = _rx(r"[$€£]\s?\d | \d\s?(?:€|(?:eur|usd|gbp|euros?|dollars?)\b)")
_MONEY_VERB = _rx(
    r"""
    \b(?:added|applied|issued|refunded|credited|waived|reversed|reimbursed|processed|paid|transferred|
    a[ñn]adido|aplicado|abonado|reembolsado|devuelto|emitido|tramitado|transferido)\b
    """
)
_ALTERNATIVES = _rx(r"\b(?:or|o)\b")
_OFFER = _rx(
    r"\b(?:I|we)\s+can\s+(?:offer|send|give|issue|refund|credit|arrange|book|rebook|replace|schedule|waive)\b"
)

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("refund", _rx(r"\brefund\w*|\breimburs\w*|\bmoney\s+back\b|\breembols\w*|\bdevuelto\b|\bdevolveremos\s+el\s+(?:dinero|importe)")),
    ("credit", _rx(r"\bcredit\w*|\bvoucher|\bbono\b|\bcoupon|\bdiscount|\bwaive\w*|\bcompensat\w*|\bgoodwill|\bcr[eé]dito|\bdescuento|\bcup[oó]n")),
    ("replacement", _rx(r"\breplace\w*|\bresend|\bre-send|\breship\w*|\bnew\s+(?:one|card)\b|"
                        r"\b(?:send|ship|post|mail|deliver|dispatch)\w*\s+(?:you\s+)?(?:a\s+new\b|another\b)|"
                        r"\bnuev[oa]s?\b|\breposici[oó]n|\bcambio\b|\ble\s+enviaremos\s+la\s+talla")),
    ("callback", _rx(r"\bcall\s+(?:you|back)\b|\bcallback|\bcall-back|\bphone\s+you\b|\bring\s+you\b|\bgive\s+you\s+a\s+(?:call|ring)|"
                     r"\bwill\s+call\b|\ble\s+llamar\w*|\bllamaremos|\bllamar[eé]")),
    ("follow_up", _rx(r"\bemail\s+you|\be-mail\s+you|\bget\s+back\s+to\s+you|\bfollow\s+up|\bupdate\b|\bcontact\s+you|"
                      r"\breach\s+out|\blet\s+you\s+know|\bin\s+touch|\bkeep\s+you\s+posted|\bhear\s+from|"
                      r"\bemail\s+with|\bemailed?\b|\ble\s+escribiremos|\ble\s+contactaremos")),
)  # fmt: skip

_AMOUNT = re.compile(
    r"(?P<symbol>[$€£])\s?(?P<number>\d[\d,]*(?:\.\d{1,2})?)|(?P<number2>\d[\d.]*(?:,\d{1,2})?)\s?(?P<code>€|eur\b|usd\b|gbp\b|euros?\b|dollars?\b)",
    re.IGNORECASE,
)
_CURRENCY = {"$": "USD", "€": "EUR", "£": "GBP", "eur": "EUR", "euro": "EUR", "euros": "EUR", "usd": "USD",
             "dollar": "USD", "dollars": "USD", "gbp": "GBP"}  # fmt: skip


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _without_handover(sentence: str) -> str:
    return _HANDOVER.sub(" ", sentence)


# Where one clause ends and the next begins inside a sentence (the link word stays with the new clause).
_CLAUSE_BREAK = _rx(
    r"""
    \s*;\s* | (?<=\S):\s+ | \s+[—–-]+\s+ | ,\s*(?=¿)
    | ,?\s+(?=(?:but|however|although|though|whereas|except\s+that|pero|aunque|sin\s+embargo|salvo\s+que)\b)
    | ,\s+(?=(?:and|so|then|y|as[ií]\s+que|de\s+modo\s+que|luego)\b)
    | \s+(?=(?:and|so|y)\s+(?:also\s+|then\s+|tambi[eé]n\s+)?
        (?:I|we|you|they|he|she|it|someone|a|an|the|your|our|this|that|le|les|te|lo|la|se|ya)\b)
    """
)
_LINK = _rx(
    r"""
    ^[\s,]*(?:(?:and|but|so|then|however|although|though|whereas|except\s+that|y|pero|aunque|sin\s+embargo|
    salvo\s+que|as[ií]\s+que|de\s+modo\s+que|luego)\b[\s,]*)+
    """
)
# A clause that only restricts the one before it ("…, but only if you return it"; "…, as long as…").
_RESTRICTION = _rx(
    r"""
    ^(?:(?:only|just|solo|s[oó]lo|[uú]nicamente)\s+)?
    (?:if|unless|provided|providing|as\s+long\s+as|once|after|assuming|in\s+case|subject\s+to|pending|
    si|siempre\s+que|a\s+menos\s+que|en\s+caso\s+de|una\s+vez|cuando|despu[eé]s\s+de)\b
    """
)


# A first-person subject or a comma-separated main clause after the condition: the clause has its own
# main clause ("…, and if it fails we'll refund you") and is judged on its own.
_OWN_MAIN_CLAUSE = _rx(r",\s*\S|\b(?:I|we)\b")


def split_clauses(sentence: str) -> list[str]:
    """The clauses of one sentence, in order; a bare restriction is kept with the clause it restricts."""
    clauses: list[str] = []
    start = 0
    for brk in [*_CLAUSE_BREAK.finditer(sentence), None]:
        end = brk.start() if brk else len(sentence)
        part = sentence[start:end]
        if brk:
            start = brk.end()
        if not part.strip(" ,"):
            continue
        core = _LINK.sub("", part)
        restriction = _RESTRICTION.match(core)
        if (
            clauses
            and restriction
            and not _OWN_MAIN_CLAUSE.search(core, restriction.end())
            and not _NEGATED.search(core)
            and not _has_evidence(core)
        ):
            clauses[-1] = f"{clauses[-1]}, {part.strip()}"
        else:
            clauses.append(part.strip())
    return clauses


def _core(clause: str) -> str:
    """A clause without its link word and without any handing over of the customer."""
    return _without_handover(_LINK.sub("", clause))


def _has_evidence(core: str) -> bool:
    return bool(
        _FUTURE_OTHER.search(core)
        or _FUTURE_YOU.search(core)
        or _FUTURE_SELF.search(core)
        or _DONE.search(core)
    )


def _blocked(core: str) -> bool:
    """A question, a refusal, a condition or a policy: nothing in this clause is promised."""
    return bool(
        _QUESTION.search(core) or _NEGATED.search(core) or _CONDITIONAL.search(core) or _POLICY.search(core)
    )


def _promises(core: str, context: str) -> bool:
    """Whether an unblocked clause promises something; `context` is it plus the open clauses after it."""
    if _FUTURE_OTHER.search(core) or _FUTURE_YOU.search(core):
        return True
    future_self = _FUTURE_SELF.search(core)
    if future_self:
        # "I can rebook you … or offer a refund" is a choice put to the customer, not yet a promise.
        only_offer = _OFFER.search(core) and not _FUTURE_SELF.search(core, future_self.end())
        return not (only_offer and _ALTERNATIVES.search(core[future_self.end() :]))
    done = _DONE.search(core)
    if done:
        verb = (done.group("verb") or done.group("verbes") or "").lower()
        # A done action is still owed to the customer when its benefit or effect lands later.
        return bool(
            verb in _ARRANGEMENT_VERBS
            or _BENEFIT.search(context)
            or (_MONEY.search(core) and _MONEY_VERB.search(core))
            or mentions_deadline(context)
        )
    return False


def committing_clauses(sentence: str) -> tuple[list[str], bool]:
    """The clauses of a sentence that commit the bot to something, with the open clauses that only
    elaborate them ("…, and the refund goes back to your card within 5 days"); and whether that is all
    of the sentence."""
    clauses = split_clauses(sentence)
    open_cores: list[str | None] = [core if not _blocked(core) else None for core in map(_core, clauses)]
    kept: list[str] = []
    elaborating = False
    for index, core in enumerate(open_cores):
        if core is None:
            elaborating = False
            continue
        context = " ".join(c for c in open_cores[index:] if c is not None)
        if _promises(core, context):
            kept.append(clauses[index])
            elaborating = True
        elif elaborating and not _has_evidence(core):
            kept.append(clauses[index])
        else:
            elaborating = False
    return kept, len(kept) == len(clauses)


def kind_of(text: str) -> str:
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return "other"


def amount_of(text: str) -> tuple[str, str] | None:
    """(amount, currency) of the first money amount in the text, amount as a plain decimal string."""
    m = _AMOUNT.search(text)
    if not m:
        return None
    if m.group("symbol"):
        number, currency = m.group("number").replace(",", ""), _CURRENCY[m.group("symbol")]
    else:
        # "249,99 €": continental decimal comma.
        number = m.group("number2").replace(".", "").replace(",", ".")
        currency = _CURRENCY[m.group("code").lower()]
    return number, currency


def _promise_text(sentence: str, clauses: list[str], whole: bool) -> str:
    """The sentence when all of it commits, else only its committing clauses."""
    if whole:
        return sentence
    parts = [_LINK.sub("", clause).strip(" ,;:—–-") for clause in clauses]
    text = "; ".join(part for part in parts if part)
    return (text[0].upper() + text[1:] + ("" if text[-1] in ".!" else ".")) if text else sentence


def detect(text: str, *, seq: int, at: str) -> list[dict]:
    """Commitments (status open, source detected) made in one bot turn, one per committing sentence."""
    found: list[dict] = []
    for sentence in split_sentences(text):
        clauses, whole = committing_clauses(sentence)
        if not clauses:
            continue
        promise = _promise_text(sentence, clauses, whole)
        commitment: dict = {
            "text": promise,
            "kind": kind_of(promise),
            "due": resolve_due(promise, at),
            "seq": seq,
            "source": "detected",
            "status": "open",
        }
        money = amount_of(promise)
        if money:
            commitment["amount"], commitment["currency"] = money
        found.append(commitment)
    return found


# --- declined offers -------------------------------------------------------------------------------

_DECLINE = _rx(
    r"""
    \bno,?\s+thank(?:s|\s+you)\b|\bno\s+thx\b|\bnot\s+interested\b|\bno\s+need\b|\bdon'?t\s+bother\b|
    \bi'?d\s+rather\s+not\b|\bi'?ll\s+pass\b|\bnot\s+necessary\b|\bi\s+(?:don'?t|do\s+not)\s+(?:want|need)\s+(?:it|that|one|them)\b|
    \bno\s+gracias\b|\bno,\s+gracias\b|\bno\s+hace\s+falta\b|\bno\s+me\s+interesa\b|\bno\s+es\s+necesario\b
    """
)
_DECLINE_KIND = _rx(
    r"""
    \b(?:i\s+)?(?:don'?t|do\s+not)\s+(?:want|need)\s+(?:a|the|any|your)?\s*(?P<thing>\w+(?:\s+\w+)?)
    | \bnot\s+(?:a|the)\s+(?P<thing2>\w+)
    | \bno\s+quiero\s+(?:el|la|un|una)?\s*(?P<thing3>\w+)
    """
)


def declined_kinds(customer_text: str) -> set[str] | None:
    """Kinds the customer turns down in this turn; an empty set means "everything offered"; None: no decline."""
    kinds: set[str] = set()
    for m in _DECLINE_KIND.finditer(customer_text):
        thing = m.group("thing") or m.group("thing2") or m.group("thing3") or ""
        kind = kind_of(thing)
        if kind != "other" and thing.strip():
            kinds.add(kind)
    if kinds:
        return kinds
    return set() if _DECLINE.search(customer_text) else None


# --- twins: a posted event and a detected commitment that are the same promise ---------------------

_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "to",
        "of",
        "for",
        "your",
        "you",
        "we",
        "i",
        "will",
        "be",
        "with",
        "in",
        "on",
        "by",
        "this",
        "that",
        "have",
        "has",
        "it",
        "our",
    ]
)
_WORD = re.compile(r"[a-z0-9.]{3,}")


def _words(text: str) -> set[str]:
    return {w.strip(".") for w in _WORD.findall(text.lower())} - _STOP


def _amount(commitment: dict) -> float | None:
    raw = commitment.get("amount")
    if raw in (None, ""):
        money = amount_of(str(commitment.get("text", "")))
        raw = money[0] if money else None
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def same_commitment(a: dict, b: dict) -> bool:
    kind_a, kind_b = a.get("kind") or "other", b.get("kind") or "other"
    if kind_a != kind_b and "other" not in (kind_a, kind_b):
        return False
    amount_a, amount_b = _amount(a), _amount(b)
    if amount_a is not None and amount_b is not None:
        return abs(amount_a - amount_b) < 0.005
    if a.get("due") and a.get("due") == b.get("due"):
        return True
    if kind_a == kind_b != "other":
        return True
    words_a, words_b = _words(str(a.get("text", ""))), _words(str(b.get("text", "")))
    if not words_a or not words_b:
        return False
    return len(words_a & words_b) / len(words_a | words_b) >= 0.3


def find_twin(commitment: dict, candidates: Iterable[dict]) -> dict | None:
    for candidate in candidates:
        if candidate is not commitment and same_commitment(commitment, candidate):
            return candidate
    return None
