"""Per-turn sentiment for customer turns, and the emotion state read off the trajectory.

VADER is the base: it handles English intensifiers, negation, mixed-case emphasis and "!!". Support
chat has its own vocabulary of anger that VADER scores as neutral or even positive ("this is the
third time", "you people keep promising…" comes out +0.40), so a small lexicon of support cues is
added on top. Cues that only describe what went wrong ("can't log in", "never arrived") are capped
together, so a detailed first description reads as concern and a later outburst as worse. Spanish
turns skip VADER: its English lexicon reads Spanish "no" as a negative word and misses everything
else, so they are scored the same way from a small Spanish lexicon (boosters, negation, capitals, "!")
and Spanish phrase cues.

Endings are where support chats go wrong quietly: "ok I guess, but it's not great", "fine, whatever",
"vale, qué remedio" are polite on the surface. Resignation cues drop the politeness and score the turn
mildly negative; a turn that turns at "but" is read mostly by where it ends; and the current state is
never more positive than half of a negative last turn, so earlier thanks cannot average it away.
Sarcasm ("great, just great", "genial, lo que me faltaba", praise right after bad news) reads as
frustration, and a short "thanks" or "ok" is read by what it answers, carrying little signal alone.

The trend compares where the customer is now (the last two turns that say something) with where they
were (the median of the turns before), with a dead band; see trend().
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

from handoffs.context.language import is_spanish


class _Analyzer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


@lru_cache(maxsize=1)
def _vader() -> _Analyzer:
    # Imported lazily: loading the lexicon costs ~10 ms, paid once per process on first use.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    # In support chat these words make requests, not feelings: "please help, my card was stolen" and
    # "please make sure it ships this time" are not positive.
    analyzer.lexicon.update(_REQUEST_WORDS)
    analyzer.lexicon.update(_SUPPORT_WORDS)
    return analyzer


_REQUEST_WORDS = {"please": 0.0, "help": 0.0, "sure": 0.3}
# Support chat's own readings of words VADER scores for general text: "ok", "yes" and "approval" answer
# or describe, they do not praise; "honestly" introduces a complaint more often than not; "wow" and
# "unbelievable" greet bad news; slowness and lateness are what customers write in about.
_SUPPORT_WORDS = {
    "ok": 0.3, "okay": 0.3, "yes": 0.4, "yeah": 0.2, "approval": 0.0, "approved": 0.0, "approve": 0.0,
    "credit": 0.0, "free": 0.5, "honestly": 0.0, "wow": 0.3, "unbelievable": -1.5, "kidding": -0.5,
    "joke": 0.0, "slow": -1.0, "slower": -1.2, "late": -0.8, "nightmare": -2.5, "steep": -0.8,
    "useless": -2.0, "worked": 1.0, "works": 0.6, "solved": 1.5,
}  # fmt: skip
# "I'd like to return it" is a request, not a liking.
_WOULD_LIKE = re.compile(r"\b(?:would|'d|d)\s+like\b", re.IGNORECASE)


# (pattern, weight): support-specific cues VADER misses. Weights are added to the VADER compound.
_ENGLISH_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.VERBOSE), weight)
    for pattern, weight in (
        # Repeat contact: the strongest predictor of churn-level frustration in support chat.
        (
            r"\b(second|third|fourth|fifth|\d+(st|nd|rd|th))\s+(time|outage|attempt|call|order|incident|issue|"
            r"problem|failure|delay|complaint|request|charge)",
            -0.45,
        ),
        (r"\b(two|three|four|five|several|many|multiple)\s+times\b", -0.3),
        (r"\bhow\s+many\s+times\b", -0.45),
        (r"\b(again|yet\s+again|once\s+again)\b", -0.15),
        (
            r"\b(still|yet)\s+(not|no|hasn'?t|haven'?t|isn'?t|doesn'?t|can'?t|won'?t|nothing|waiting|broken|dripping|down|"
            r"(?:does|do|did|is|are|has|have|can|will)\s+not)\b",
            -0.35,
        ),
        (
            r"\bwaiting\s+(?:for\s+)?(?:over\s+|more\s+than\s+|almost\s+|nearly\s+)?"
            r"(?:a|an|one|two|three|four|five|six|\d+|several|many)\s+(?:days?|weeks?|months?|hours?|minutes)\b",
            -0.3,
        ),
        (r"\byou\s+(people|guys)\b", -0.35),
        (
            r"\b(keep|keeps|kept)\s+(promising|saying|telling|happening|failing|getting|asking|sending)\b",
            -0.35,
        ),
        # Asking for a person usually means the bot has failed the customer.
        (
            r"\b(need|want|let\s+me|can\s+i|get\s+me|put\s+me\s+through\s+to)\b.{0,25}"
            r"\b(human|real\s+person|person|agent|manager|supervisor|someone\s+real)\b",
            -0.3,
        ),
        (r"\b(unacceptable|ridiculous|absurd|outrageous|pathetic|useless|joke|scam|disgrace(ful)?)\b", -0.35),
        (r"\bwaste\s+of\s+(my\s+)?time\b", -0.45),
        (r"\b(fed\s+up|sick\s+of|tired\s+of|had\s+enough|can'?t\s+believe)\b", -0.4),
        (r"\b(not\s+fair|not\s+good\s+enough|not\s+ok(ay)?)\b", -0.3),
        (r"\b(worried|anxious|urgent(ly)?|asap|right\s+now|immediately|desperate)\b", -0.2),
        (r"\b(messed\s+up|screwed\s+up|so\s+annoying|annoyed)\b", -0.3),
        # Life events behind a request (illness, accidents, emergencies) mean distress even in polite words.
        (
            r"\b(hospital|emergenc(y|ies)|accident|funeral|passed\s+away|injured|allergic|dangerous|stranded)\b",
            -0.25,
        ),
        (r"\b(complaint|lawyer|chargeback|report\s+you)\b", -0.3),
        # A run of failures or a broken expectation: "third month in a row", "it was supposed to arrive".
        (r"\bin\s+a\s+row\b|\bon\s+end\b", -0.3),
        (r"\b(?:want|need)\s+(?:my|our)\s+money\s+back\b", -0.3),
        (
            r"\b(?:tried|done|checked)\s+(?:absolutely\s+)?everything\b|\btaking\s+(?:forever|ages|so\s+long)\b",
            -0.35,
        ),
        (
            r"\b(?:los(?:e|es|ing|t)|cost(?:s|ing)?\s+(?:us|me))\s+(?:\w+\s+)?"
            r"(?:sales|money|customers|clients|business|income|work)\b",
            -0.3,
        ),
        # How long the problem has lasted: "I've been locked out for two days".
        (
            r"\bbeen\s+(?:\w+\s+){0,3}for\s+(?:over\s+|more\s+than\s+|almost\s+|nearly\s+)?"
            r"(?:two|three|four|five|six|seven|several|many|\d+)\s+(?:hours|days|weeks|months)\b",
            -0.2,
        ),
        (
            r"\bnothing\s+(?:ever\s+)?(?:changes|happens|works|gets\s+(?:done|fixed))\b|\bnobody\s+(?:\w+\s+)?(?:told|tells|called|calls|answers|cares|listens|is\s+listening|knows|helps|helped|helping|is\s+helping)\b",
            -0.3,
        ),
        (r"\b(?:won'?t|doesn'?t|didn'?t|can'?t|isn'?t|aren'?t)\s+even\b", -0.25),
        (r"\banother\s+(?:delay|excuse|week|day|month|email|call|form|reset|technician|engineer)\b", -0.25),
        (
            r"\b(?:can'?t|cannot|couldn'?t)\s+(?:possibly\s+)?be\s+right\b|\bthat'?s\s+not\s+(?:right|true)\b",
            -0.3,
        ),
        (r"\bbecause\s+of\s+you\b|\byour\s+(?:mistake|fault|error)\b", -0.3),
        (r"\b(?:are|you'?re)\s+(?:you\s+)?(?:kidding|joking|serious)\b|^\W*seriously\W|\bno\s+way\b", -0.3),
        # Relief and thanks that VADER underrates in short replies.
        (
            r"\b(that'?s\s+a\s+relief|sorted|that\s+worked|works\s+now|problem\s+solved|appreciate\s+it|"
            r"(?:it'?s|that'?s|it\s+is|all|got\s+it)\s+(?:all\s+)?fixed)\b",
            0.35,
        ),
        (r"\b(no\s+worries|no\s+problem|not\s+a\s+problem|all\s+good)\b", 0.3),
        # "Nope, that's all, thanks": VADER reads the "no" as negating the thanks.
        (
            r"\b(?:no(?:pe)?|nah)[,.]?\s+(?:that'?s\s+(?:all|everything|it)|I'?m\s+(?:good|all\s+set|fine))\b",
            0.6,
        ),
    )
)

# What went wrong, as opposed to how the customer feels about it: "I can't log in, the code never
# arrives" describes one problem in three cues. With VADER's reading of the same words they take a turn
# no lower than _FACT_CAP, so a detailed first description reads as concern and a later outburst as worse.
_FACT_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.VERBOSE), weight)
    for pattern, weight in (
        (r"\bstill\s+\w+ing\b", -0.15),
        (r"\b(?:does|do|did|will|is|are)(?:n'?t|\s+not)\s+(?:\w+\s+)?work(?:ing)?\b|\bwon'?t\s+work\b", -0.2),
        (r"\b(haven'?t|hasn'?t|have\s+not|has\s+not)\s+(heard|received|arrived|moved|been)\b", -0.2),
        (r"\bnever\s+(arrive[sd]?|happen(s|ed)?|came|come|work(s|ed)?|show(s|ed)?\s+up|got)\b", -0.35),
        (r"\bnothing\b", -0.1),
        (r"\b(locked\s+out|can'?t\s+(log\s*in|access|get\s+through))\b", -0.2),
        (r"\bi\s+(can'?t|cannot|couldn'?t)\b", -0.15),
        (r"\b(wrong|declined|cancell?ed|missing|broken|damaged|charged\s+twice|not\s+working)\b", -0.15),
        (r"\b(?:was|were|is|are)\s+(?:supposed|meant)\s+to\b|\bwhere\s+(?:is|are)\s+my\b", -0.2),
        (r"\bcharged\s+(?:me\s+|us\s+)?(?:twice|double)\b|\bdouble[-\s]charged\b", -0.15),
        (r"\bstill\s+(?:so\s+|very\s+|really\s+)?(?:slow|failing|dead|the\s+same|missing)\b", -0.25),
    )
)
_FACT_CAP = -0.3

# Spanish phrases whose meaning is more than their words; single words are in _SPANISH_LEXICON below.
_SPANISH_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.VERBOSE), weight)
    for pattern, weight in (
        (
            r"\b(segunda|tercera|cuarta|quinta)\s+vez\b|\botra\s+vez\b|\b(varias|dos|tres|cuatro|muchas)\s+veces\b",
            -0.45,
        ),
        (r"\b(todav[ií]a\s+no|sigue\s+sin|sigo\s+sin|a[uú]n\s+no|llevo\s+\w+\s+\w+\s+sin)\b", -0.35),
        (
            r"\b(sigue|sigo|seguimos|est[aá])\s+(igual|esperando|fallando|sin\s+funcionar)\b"
            r"| \bllevo\s+(?:ya\s+)?(?:\w+\s+)?(?:horas|d[ií]as|semanas|meses)\b",
            -0.3,
        ),
        (
            r"\b(no\s+(?:me\s+|nos\s+|le\s+)?funciona|no\s+(?:me\s+|nos\s+)?sirve|p[eé]rdida\s+de\s+tiempo|tomadura\s+de\s+pelo|en\s+serio\s*\?)",
            -0.3,
        ),
        (
            r"\b(hablar\s+con\s+(una\s+persona|alguien|un\s+humano|un\s+agente|un\s+supervisor|un\s+responsable))\b",
            -0.3,
        ),
        (r"\b(no\s+reconozco|sin\s+avisar(?:me)?|por\s+(?:su|vuestra)\s+culpa|c[oó]mo\s+que\s+no)\b", -0.25),
        (r"\bno\s+(?:puedo|podemos|consigo|me\s+deja|nos\s+deja)\b", -0.2),
        (
            r"\b(?:me|nos)\s+(?:han|ha)\s+cobrado\s+(?:dos\s+veces|de\s+m[aá]s|doble)|\bcobro\s+(?:doble|indebido)",
            -0.2,
        ),
        (r"\bno\s+(?:me\s+|nos\s+)?(?:ha|han)\s+(?:llegado|contestado|llamado|devuelto|respondido)\b", -0.2),
        (
            r"\b(ya\s+funciona|ya\s+est[aá]\s+(?:arreglad[oa]|solucionad[oa]|resuelt[oa])|por\s+fin|no\s+pasa\s+nada)\b",
            0.3,
        ),
    )
)

# A small valence lexicon for Spanish support chat, on VADER's scale (-4…4), keyed without accents.
# Gendered and plural forms are found from the masculine singular.
_SPANISH_LEXICON: dict[str, float] = {
    # thanks, relief, satisfaction
    "gracias": 1.6, "agradezco": 2.0, "agradecido": 2.0, "amable": 2.0, "genial": 2.6, "perfecto": 2.4,
    "excelente": 2.8, "estupendo": 2.6, "fenomenal": 2.6, "fantastico": 2.6, "maravilla": 2.6,
    "maravilloso": 2.6, "buenisimo": 2.6, "bien": 0.5, "bueno": 0.6, "encanta": 2.6, "encantado": 2.4,
    "contento": 2.0, "feliz": 2.4, "alivio": 2.0, "aliviado": 2.0, "tranquilo": 1.2, "solucionado": 2.0,
    "solucionarlo": 1.6, "resuelto": 2.0, "arreglado": 1.8, "arreglarlo": 1.4, "funciona": 1.0,
    "rapido": 1.0, "rapidez": 1.2, "util": 1.4, "ayudado": 1.2, "vale": 0.3, "ok": 0.3, "claro": 0.3,
    # anger, frustration, worry
    "harto": -2.6, "cansado": -1.6, "enfadado": -2.6, "enojado": -2.6, "furioso": -3.2, "molesto": -2.0,
    "molestia": -1.6, "indignado": -3.0, "indignante": -3.0, "frustrado": -2.6, "frustrante": -2.6,
    "decepcionado": -2.2, "decepcion": -2.2, "verguenza": -3.0, "vergonzoso": -3.0, "inaceptable": -3.0,
    "intolerable": -3.0, "insoportable": -3.0, "ridiculo": -2.6, "absurdo": -2.4, "pesimo": -3.0,
    "horrible": -3.0, "terrible": -3.0, "fatal": -2.6, "desastre": -3.0, "lamentable": -2.6,
    "estafa": -3.0, "timo": -3.0, "robo": -2.6, "robado": -2.0, "engano": -2.6, "mentira": -2.2,
    "chapuza": -2.6, "basura": -3.0, "inutil": -2.6, "incompetente": -3.0, "incompetencia": -3.0,
    "mal": -1.6, "malo": -2.0, "peor": -2.6, "lento": -1.2, "lentisimo": -2.2, "roto": -1.6,
    "incorrecto": -1.0, "averia": -1.2, "averiado": -1.6, "problema": -1.0, "error": -1.0, "fallo": -1.2, "falla": -1.2,
    "retraso": -1.2, "retrasado": -1.2, "preocupado": -1.8, "preocupa": -1.8, "nervioso": -1.6,
    "urgente": -1.2, "urge": -1.2, "desesperado": -2.6, "imposible": -1.8, "nadie": -1.2, "nunca": -0.8,
    "perdido": -1.2, "queja": -1.6, "reclamacion": -1.0, "increible": -1.2, "lata": -1.6, "rollo": -1.2,
    "pena": -1.6, "lastima": -1.6, "fastidio": -1.6, "uf": -0.8, "vaya": -0.5, "bloqueado": -1.2,
    "miedo": -1.8, "asustado": -2.0, "triste": -2.0, "disgustado": -2.2, "faltaba": -0.6, "colmo": -2.4,
    "cachondeo": -2.6, "vergonzosa": -3.0, "abuso": -2.6, "frio": -0.6, "tarde": -0.4,
}  # fmt: skip
# "Buenas tardes" is a greeting, not lateness.
_SPANISH_GREETING = re.compile(r"\bbuen[oa]s\s+(?:tardes|noches|d[ií]as)\b", re.IGNORECASE)
_SPANISH_NEGATORS = frozenset({"no", "nunca", "ni", "tampoco", "sin", "jamas"})
_SPANISH_BOOSTERS = {
    "muy": 0.3, "super": 0.3, "tan": 0.3, "totalmente": 0.3, "realmente": 0.3, "demasiado": 0.3,
    "mucho": 0.3, "muchas": 0.3, "muchisimas": 0.45, "muchisimo": 0.45, "bastante": 0.15,
    "increiblemente": 0.4, "que": 0.2, "poco": -0.3, "algo": -0.2,
}  # fmt: skip
_SPANISH_TOKEN = re.compile(r"[^\W\d_]+")


_UNACCENTED = str.maketrans("áéíóúüñàèìòù", "aeiouunaeiou")


def _fold(word: str) -> str:
    return word.lower().translate(_UNACCENTED)


def _spanish_valence(word: str) -> float | None:
    value = _SPANISH_LEXICON.get(word)
    if value is None and len(word) > 3:
        stem = word[:-1] if word.endswith("s") else word
        value = _SPANISH_LEXICON.get(stem)
        if value is None and stem.endswith("a"):
            value = _SPANISH_LEXICON.get(stem[:-1] + "o")
    return value


def _spanish_base(text: str) -> float:
    """A VADER-style compound for Spanish: lexicon valence, boosters, negation, capitals and "!"."""
    text = _SPANISH_GREETING.sub(" ", text)
    tokens = _SPANISH_TOKEN.findall(text)
    shouting = sum(1 for t in tokens if t.isupper() and len(t) > 1) >= 0.5 * len(tokens)
    total = 0.0
    # Negation and boosters reach back at most three words and never across punctuation.
    for clause in _CLAUSE.split(text):
        tokens = _SPANISH_TOKEN.findall(clause)
        words = [_fold(t) for t in tokens]
        for i, word in enumerate(words):
            value = _spanish_valence(word)
            if not value:
                continue
            sign = 1.0 if value > 0 else -1.0
            for distance, j in enumerate((i - 1, i - 2)):
                if j >= 0 and words[j] in _SPANISH_BOOSTERS:
                    value += sign * _SPANISH_BOOSTERS[words[j]] * (1.0 if distance == 0 else 0.95)
            if any(words[j] in _SPANISH_NEGATORS for j in range(max(0, i - 3), i)):
                value *= -0.74
            if not shouting and tokens[i].isupper() and len(tokens[i]) > 1:
                value += 0.733 * (1.0 if value > 0 else -1.0)
            total += value
    if total:
        total += min(text.count("!"), 4) * 0.292 * (1.0 if total > 0 else -1.0)
    return total / math.sqrt(total * total + 15)


_CLAUSE = re.compile(r"[,.;:!?¡¿…()]+")


# Words that tell a Spanish turn from an English one when language.is_spanish has too little to go on
# ("Uf, qué rollo.", "Esto empieza a ser molesto."): Spanish function words and the lexicon above,
# against frequent English function words.
_SPANISH_HINTS = frozenset(
    {"lo", "le", "les", "se", "te", "nos", "esto", "esta", "este", "eso", "esa", "ese", "ser", "ha", "han",
     "hemos", "hay", "pues", "y", "o", "ahora", "aqui", "igual", "otro", "ni", "tampoco", "nunca", "mas",
     "pero", "que", "muy", "ya", "tan", "mucho", "muchas", "empieza", "llevo", "sigue", "sigo", "vez", "veces",
     "esperando", "estoy", "estamos", "nada", "esperare"}
    | set(_SPANISH_LEXICON) - {"ok", "error", "horrible", "terrible", "mal", "fatal", "increible"}
)  # fmt: skip
_ENGLISH_HINTS = frozenset(
    {"the", "is", "it", "its", "i", "im", "my", "you", "your", "to", "and", "this", "that", "was", "for", "of",
     "have", "has", "with", "not", "but", "what", "just", "so", "can", "will", "be", "are", "in", "at", "from",
     "get", "got", "did", "do", "does", "dont", "cant", "please", "thanks", "thank", "hi", "hello", "yes",
     "still", "again", "why", "where", "how", "when", "we", "they", "our", "on", "an", "been", "would",
     "could", "should"}
)  # fmt: skip


def _reads_spanish(text: str, locale: str = "") -> bool:
    if is_spanish(text):
        return True
    words = [_fold(w).replace("'", "") for w in _SPANISH_TOKEN.findall(text)]
    spanish = sum(1 for w in words if w in _SPANISH_HINTS)
    english = sum(1 for w in words if w in _ENGLISH_HINTS)
    if locale.lower().startswith("es"):
        return english == 0 or spanish > english
    return spanish > english and (spanish >= 2 or len(words) <= 4)


# Resignation: accepting what is offered without being satisfied ("fine, whatever", "ok I guess",
# "qué remedio"), and hope that is really worry ("let's hope", "ojalá"). The polite words around it
# ("ok", "thanks", "vale") are what VADER and the cues above reward, so when one of these fires the
# turn's positive evidence is dropped and the cue weight stands.
_RESIGNED_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.VERBOSE), weight)
    for pattern, weight in (
        (r"\bwhatever\b(?!\s+(?:works|suits|is\s+\w+est|you\s+(?:need|think\s+is\s+best)|it\s+takes))", -0.4),
        # "ok I guess", "thanks, I suppose", "I guess I'll wait": not "I guess that works".
        (
            r"\b(?:ok(?:ay)?|fine|sure|alright|all\s+right|thanks|thank\s+you|yeah|yes|right),?\s+I\s+(?:guess|suppose)\b"
            r"| \bI\s+(?:guess|suppose)\s*(?:$|[.,!…;]|so\b|I(?:\s+have\s+to|\s+have\s+no|\s+can'?t|\s+don'?t\s+have))",
            -0.3,
        ),
        (
            r"\b(?:not|isn'?t|wasn'?t|hardly)\s+(?:really\s+|exactly\s+|very\s+|that\s+|too\s+|particularly\s+)?"
            r"(?:great|ideal|thrilled|impressed|happy|pleased|satisfied|amused|delighted|"
            r"what\s+I\s+(?:wanted|asked\s+for|expected|hoped\s+for|was\s+(?:hoping|expecting)\s+for?))\b",
            -0.3,
        ),
        (
            r"\b(?:have|has)\s+to\s+do\b|\b(?:no|not\s+much\s+(?:of\s+a\s+)?)choice\b|\bit\s+is\s+what\s+it\s+is\b",
            -0.3,
        ),
        (
            r"\bif\s+(?:that'?s|that\s+is)\s+(?:the\s+best|all|really\s+all)\b|\bbetter\s+than\s+nothing\b",
            -0.35,
        ),
        (r"\b(?:thanks|thank\s+you)\s+(?:anyway|for\s+trying)\b|\bthanks\s+for\s+nothing\b", -0.25),
        (r"\b(?:disappoint\w*|meh|underwhelm\w*|let\s+down)\b", -0.3),
        (
            r"\b(?:I'?ll|I\s+will|I'?d)\s+(?:just\s+)?have\s+to\s+(?:wait|live\s+with\s+it|deal\s+with\s+it)\b",
            -0.25,
        ),
        # Hope that is really doubt: "let's hope", "I just hope it works this time", "we'll see".
        (r"\b(?:let'?s\s+hope|we'?ll\s+see|I\s+(?:just|only)\s+hope)\b", -0.25),
        # Sarcastic praise for more of the problem: "great, another week of waiting".
        (
            r"\b(?:great|perfect|wonderful|fantastic|brilliant|lovely|awesome)[,.!]*\s+(?:so\s+)?(?:another|more)\s+"
            r"(?:\w+\s+)?(?:days?|weeks?|hours?|months?|delays?|wait|waiting|excuses?|forms?)\b",
            -0.5,
        ),
        (
            r"\bqu[eé]\s+remedio\b|\bno\s+(?:me\s+)?queda\s+(?:otra|m[aá]s\s+remedio)\b|\bsi\s+no\s+hay\s+(?:otra|m[aá]s)\b",
            -0.4,
        ),
        (
            r"\blo\s+que\s+sea\b|\bcomo\s+sea\b|\bme\s+da\s+igual\b|\bpues\s+vaya\b|\ben\s+fin\b|\bsupongo\b(?!\s+que)",
            -0.35,
        ),
        (
            r"\bno\s+es\s+lo\s+(?:ideal|que\s+(?:ped[ií]|quer[ií]a|esperaba))\b"
            r"| \bno\s+(?:estoy|me\s+quedo|quedo)\s+(?:muy\s+|del\s+todo\s+)?(?:content[oa]|satisfech[oa]|convencid[oa])\b"
            r"| \bno\s+me\s+convence\b|\bdecepcion\w*|\besperaba\s+(?:m[aá]s|otra\s+cosa)\b"
            r"| \b(?:habr[aá]|tendr[eé])\s+que\s+esperar\b|\bya\s+veremos\b",
            -0.3,
        ),
    )
)

_ANY_RESIGNED = re.compile(
    "|".join(f"(?:{p.pattern})" for p, _ in _RESIGNED_CUES), re.IGNORECASE | re.VERBOSE
)

# Long runs of capitals are shouting; VADER only rewards caps when the rest of the text is lower case.
_WORDS = re.compile(r"\b[^\W\d_]{3,}\b")
_PUNCT_BURST = re.compile(r"[!?]{2,}")


# A bare acknowledgement ("ok", "vale", "fine", "no" to "anything else?") says the customer heard, not
# how they feel: a resigned "ok" after an angry turn must not read as calm.
_ACK_WORD = (
    r"(?:ok(?:ay)?|k|fine|alright|all\s+right|right|sure|got\s+it|understood|no(?:pe)?|nah|vale|bueno|"
    r"de\s+acuerdo|entendido|ya|then|pues|vaya)"
)
_ACKNOWLEDGEMENT = re.compile(rf"^\W*{_ACK_WORD}(?:\W+{_ACK_WORD})*\W*$", re.IGNORECASE)

# A short "thanks" means what it answers: relief after a remedy ("I've refunded you" - "ok, thanks"),
# manners after a question or information, nothing after bad news.
_BARE_THANKS = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|k|alright|right|sure|vale|bueno|de\s+acuerdo|entendido|got\s+it|understood)\W+)?"
    r"(?:thanks|thank\s+you|thx|ty|cheers|gracias)[.\s]*$",
    re.IGNORECASE,
)
_BARE_THANKS_AFTER_REMEDY = 0.3
_BARE_THANKS_SCORE = 0.15
# "Thanks for finding it at least": grudging, half the warmth.
_GRUDGING = re.compile(r"\bat\s+least\b|\bpor\s+lo\s+menos\b|\bal\s+menos\b", re.IGNORECASE)

# Sarcasm: praise that means the opposite. Idioms that are sarcastic whatever surrounds them...
_SARCASM = re.compile(
    r"\b(great|perfect|wonderful|fantastic|brilliant|lovely|awesome|excellent|marvell?ous|genial|perfecto|"
    r"estupendo|fant[aá]stico|maravilloso)\b[\s,.!…]+(?:just|simply|really|absolutely|truly|simplemente|"
    r"sencillamente|realmente)?[\s,]*\1\b"
    r"| \bthanks\s+for\s+nothing\b|\bgracias\s+por\s+nada\b|\blo\s+que\s+(?:me\s+|nos\s+)?faltaba\b"
    r"| \byeah,?\s+right\b|\bwhat\s+a\s+(?:surprise|shock)\b|\bhow\s+(?:convenient|surprising)\b"
    r"| \blove\s+that\s+for\s+me\b|\b(?:that|this)\s+(?:fixes|solves|changes)\s+everything\b"
    r"| \bof\s+course\s+(?:it|you|they)\s+(?:did|does|do|is|are|was|were|has|have|can'?t|won'?t|didn'?t)\b"
    r"| \bqu[eé]\s+(?:sorpresa|casualidad)\b|\bwow[.,!]*\s+just\s+wow\b|\bI\s+love\s+how\b"
    r"| \bsure,?\s+sure\b|\bsure\s+you\s+(?:will|do|are|did|can)\b"
    r"| [\"“‘'](?:help|helpful|service|support|solution|assistance|priority|ayuda|soluci[oó]n|servicio)[\"”’']",
    re.IGNORECASE | re.VERBOSE,
)
# ...and praise that is sarcastic unless the turn also thanks or reports a fix ("just what I needed!").
_SARCASM_UNLESS_GRATEFUL = re.compile(
    r"\b(?:just|exactly)\s+what\s+I\s+(?:needed|need|wanted)\b|\bjusto\s+lo\s+que\s+necesitaba\b",
    re.IGNORECASE | re.VERBOSE,
)
# A turn that opens with praise and goes on with bad news ("Great. Now I'll miss the wedding.").
_PRAISE_OPENING = re.compile(
    r"^\W*(?:(?:oh|wow|well|ah|vaya|pues)\W+)?(?:great|perfect|wonderful|fantastic|brilliant|lovely|awesome|"
    r"marvell?ous|super|excellent|amazing|fabulous|terrific|splendid|nice|cool|genial|perfecto|estupendo|"
    r"fant[aá]stico|maravilloso|fenomenal|excelente|bravo|de\s+lujo|muy\s+bien|qu[eé]\s+(?:bien|maravilla)|"
    r"de\s+maravilla)\W+",
    re.IGNORECASE,
)
_GRATEFUL = re.compile(
    r"\b(?:thanks|thank\s+you|thx|appreciate|gracias|agradezco|worked|works|fixed|sorted|solved|resolved|"
    r"funciona|arreglad[oa]|solucionad[oa]|resuelt[oa])\b",
    re.IGNORECASE,
)
_SARCASM_SCORE = -0.55

# Praise and nothing else right after the bot gave bad news without a remedy ("Thanks a lot. Really
# helpful." after "unfortunately it can only be done at the airport") is sarcasm, not a recovery.
_BAD_NEWS = re.compile(
    r"\b(?:unfortunately|I'?m\s+afraid|regrettably|sadly|can'?t|cannot|unable\s+to|not\s+able\s+to|"
    r"won'?t\s+be\s+able|(?:is\s+)?not\s+possible|isn'?t\s+possible|no\s+longer|not\s+eligible|isn'?t\s+eligible|"
    r"not\s+covered|isn'?t\s+covered|non-?refundable|final[-\s]sale|nothing\s+(?:more\s+)?(?:I|we)\s+can)\b"
    r"| \b(?:can|may|could|will)\s+take\s+up\s+to\b|\b(?:next|earliest|first)\s+(?:available|possible)\b"
    r"| \b(?:lamentablemente|desafortunadamente|me\s+temo)\b|\bno\s+(?:se\s+)?(?:puede|podemos|es\s+posible)\b"
    r"| \bno\s+es\s+reembolsable\b|\bprimera\s+(?:cita\s+|fecha\s+)?disponible\b",
    re.IGNORECASE | re.VERBOSE,
)
_REMEDY = re.compile(
    r"\b(?:I'?ve|I\s+have|we'?ve|we\s+have|I'?ll|I\s+will|we'?ll|we\s+will|instead|but|however|"
    r"he|hemos|podemos|puedo|pero|sin\s+embargo|en\s+cambio)\b|\b(?:I|we)\s+can(?!'|not|\s+not)\b"
    r"|\b\w+(?:aremos|eremos|iremos)\b",
    re.IGNORECASE,
)
_PRAISE_WORDS = frozenset(
    {"great", "perfect", "wonderful", "fantastic", "brilliant", "lovely", "awesome", "amazing", "excellent",
     "helpful", "useful", "lot", "genial", "perfecto", "estupendo", "fantastico", "maravilloso", "maravilla",
     "util"}
)  # fmt: skip
_PRAISE_FILLER = frozenset(
    {"oh", "wow", "well", "gee", "yeah", "so", "ah", "that", "thats", "s", "this", "is", "how", "what", "a",
     "you", "re", "youre", "are", "very", "really", "super", "just", "absolutely", "truly", "such", "thanks",
     "thank", "much", "help", "service", "big", "bunch", "million", "que", "muy", "vaya", "pues", "menuda",
     "ayuda", "de", "gracias", "muchas"}
)  # fmt: skip


def _is_bad_news(reply_to: str) -> bool:
    return bool(reply_to) and bool(_BAD_NEWS.search(reply_to)) and not _REMEDY.search(reply_to)


_PLAIN_THANKS = re.compile(
    r"\b(?:thank\s+you|thanks|gracias)\b(?!\s+a\s+(?:lot|bunch|million))", re.IGNORECASE
)


def _is_bare_praise(text: str) -> bool:
    if "!" in text or _PLAIN_THANKS.search(text):
        return False
    words = [_fold(w) for w in _SPANISH_TOKEN.findall(text)]
    return (
        bool(words)
        and any(w in _PRAISE_WORDS for w in words)
        and all(w in _PRAISE_WORDS or w in _PRAISE_FILLER for w in words)
    )


# The last contrast in a turn: what follows it is where the customer lands ("fine, but it's not great").
# "No choice but to wait" is not a contrast.
_CONTRAST = re.compile(
    r"(?<!choice)(?<!nothing)(?<!anything)(?<!option)(?<!\ball)"
    r"[,;]?\s+\b(?:but|though|although|however|pero|aunque|sin\s+embargo)\b,?\s*",
    re.IGNORECASE,
)
_CONTRAST_WEIGHT = 0.75
_RESIGNED_FLOOR = -0.55


def score_text(text: str, *, reply_to: str = "", locale: str = "") -> float:
    """Score one customer turn in [-1, 1].

    `reply_to` is the bot's or agent's turn just before it (bare praise after bad news is sarcasm);
    `locale` the customer's, a hint for short turns whose language the words alone do not settle.
    """
    spanish = _reads_spanish(text, locale)
    score = _score_part(text, spanish)
    contrasts = list(_CONTRAST.finditer(text))
    if contrasts:
        last = contrasts[-1]
        before, after = text[: last.start()], text[last.end() :]
        if before.strip(" ,.") and after.strip(" ,.!?"):
            pre, post = _score_part(before, spanish), _score_part(after, spanish)
            # A turn that turns ("fine, but…", "annoying but ok") is read by where it ends; after a bare
            # acknowledgement ("ok, but…") the rest is all there is.
            if (pre >= -0.05 and post <= -0.05) or (pre <= -0.05 and post >= -0.05):
                share = 1.0 if abs(pre) < _SALIENCE_FLOOR else _CONTRAST_WEIGHT
                score = (1 - share) * pre + share * post
    if _BARE_THANKS.match(text) and reply_to:
        if _is_bad_news(reply_to):
            score = 0.0
        elif _REMEDY.search(reply_to):
            score = _BARE_THANKS_AFTER_REMEDY
    elif score > 0 and reply_to and _is_bare_praise(text) and _is_bad_news(reply_to):
        score = _SARCASM_SCORE
    return round(max(-1.0, min(1.0, score)), 3)


def _score_part(text: str, spanish: bool) -> float:
    if _ACKNOWLEDGEMENT.match(text):
        return 0.0
    if _BARE_THANKS.match(text):
        return _BARE_THANKS_SCORE
    sarcastic = _sarcasm(text, spanish)
    if sarcastic is not None:
        return sarcastic
    if spanish:
        base = _spanish_base(text)
        cues = _SPANISH_CUES
    else:
        base = _vader().polarity_scores(_WOULD_LIKE.sub("want", text))["compound"]
        cues = _ENGLISH_CUES
    weights = _cue_weights(text, cues)
    if not spanish:
        facts = sum(_cue_weights(text, _FACT_CUES))
        if facts:
            # Capped together with VADER's own reading of the problem words ("cancelled", "broken").
            weights.append(max(facts, min(0.0, _FACT_CAP - min(base, 0.0))))
    resigned = 0.0
    if _ANY_RESIGNED.search(text):  # one scan for the common case of no resignation at all
        resigned = min((weight for pattern, weight in _RESIGNED_CUES if pattern.search(text)), default=0.0)
    if resigned:
        # The polite words around a resigned acceptance are not satisfaction; and resignation is a
        # mild state: it adds to what else is negative in the turn without stacking into anger.
        negative = min(base, 0.0) + sum(w for w in weights if w < 0)
        score = min(negative, resigned) + 0.25 * max(negative, resigned)
        if not any(w < 0 for w in weights):
            score = max(score, _RESIGNED_FLOOR)
    else:
        score = base + sum(weights)
    if score > 0 and _GRUDGING.search(text):
        score *= 0.5
    words = _WORDS.findall(text)
    shouted = sum(1 for w in words if w.isupper())
    # Shouting makes a complaint angrier; "THANK YOU SO MUCH!!" is delight, left as it reads.
    if shouted >= 2 and shouted >= 0.5 * len(words) and (score < 0.2 or any(w < 0 for w in weights)):
        score -= 0.3
    if _PUNCT_BURST.search(text) and score < 0.05:
        # "2 hours??" is exasperation, not a neutral question.
        score -= 0.15
    return max(-1.0, min(1.0, score))


def _cue_weights(text: str, cues: tuple[tuple[re.Pattern[str], float], ...]) -> list[float]:
    return [weight for pattern, weight in cues if pattern.search(text)]


def _sarcasm(text: str, spanish: bool) -> float | None:
    """The score of a sarcastic turn, or None when the praise in it reads as meant."""
    if _SARCASM.search(text) or (_SARCASM_UNLESS_GRATEFUL.search(text) and not _GRATEFUL.search(text)):
        # What else the turn says can make it worse ("Great, just great. I'll miss the wedding.").
        others = _SARCASM_UNLESS_GRATEFUL.sub(" ", _SARCASM.sub(" ", text))
        others_score = _score_part(others, spanish) if len(others.strip(" ,.!?…")) > 12 else 0.0
        return _SARCASM_SCORE + 0.5 * min(others_score, 0.0)
    opening = _PRAISE_OPENING.match(text)
    if opening and not _GRATEFUL.search(text):
        rest = text[opening.end() :]
        if rest.strip():
            rest_score = _score_part(rest, spanish)
            # "Great, now I have to start again", "genial, otra semana sin luz": more of the problem.
            # ("Nice, now I can log in!" is neither.)
            if rest_score <= -0.1 or (rest_score <= 0.05 and _MORE_OF_IT.match(rest)):
                return min(_SARCASM_SCORE, rest_score - 0.2)
    return None


_MORE_OF_IT = re.compile(
    r"(?:(?:and|so|now)\s+)?(?:another|more|again|yet\s+another|otra|otro|m[aá]s|encima)\b",
    re.IGNORECASE,
)


# Informational turns ("It's #FD-20931") carry no emotion; they should not dilute the state the
# customer was in a turn earlier.
_SALIENCE_FLOOR = 0.1


def _salience(score: float) -> float:
    return 1.0 if abs(score) >= _SALIENCE_FLOOR else 0.25


# Newest first: the current state is mostly the last turn, tempered by the two or three before it.
_RECENCY_WEIGHTS = (1.0, 0.55, 0.3, 0.15)
_LAST_WORD_SHARE = 0.5
_CLEARLY_POSITIVE = 0.2


def current_state(scores: Sequence[float]) -> str:
    """calm | neutral | concerned | frustrated | angry from the recent trajectory scores."""
    if not scores:
        return "neutral"
    recent = list(reversed(scores[-len(_RECENCY_WEIGHTS) :]))
    weights = [r * _salience(s) for r, s in zip(_RECENCY_WEIGHTS, recent, strict=False)]
    level = sum(w * s for w, s in zip(weights, recent, strict=False)) / sum(weights)
    # Earlier warmth does not cancel a negative last word ("thanks!" … "fine, whatever"): the customer
    # is read as at least half as unhappy as what they just said; and the other way round, relief just
    # expressed ("that worked, thank you!") is not outweighed by the anger it ends.
    if recent[0] < 0:
        level = min(level, _LAST_WORD_SHARE * recent[0])
    elif recent[0] >= _CLEARLY_POSITIVE:
        level = max(level, _LAST_WORD_SHARE * recent[0])
    if level >= 0.3:
        return "calm"
    if level > -0.12:
        return "neutral"
    if level > -0.35:
        return "concerned"
    if level > -0.6:
        return "frustrated"
    return "angry"


# Trend: where the customer is now against where they were, over the turns that say something.
# Turns near zero ("ok", "fine", "thanks", an order number) carry little signal and are left out, except
# the opening turn: a calm opening is the baseline a later outburst is measured from.
_TREND_QUIET = 0.2
_TREND_WINDOW = 6  # informative customer turns considered
_TREND_NOW_WEIGHTS = (1.0, 0.6)  # newest first: the last two informative turns make "now"
_TREND_BAND = 0.2  # dead band: a smaller change is stable
_TREND_LAST_BAND = 0.1  # the last turn itself must have moved at least this far the same way
_IMPROVING_GUARD = -0.2  # still clearly upset is not improving ("furious to merely angry")
_DETERIORATING_GUARD = -0.1  # still content is not deteriorating ("delighted to pleased")


def trend(scores: Sequence[float]) -> str:
    """improving | stable | deteriorating from the recent trajectory, not from the last turn alone.

    "Now" is a recency-weighted mean of the last two informative turns; "before" is the median of the
    informative turns ahead of them in the window, so one outlier (a polite "thanks for checking" in an
    angry run, one grumble in a calm one) moves neither. The change must clear a dead band, and the last
    turn must point the same way, so a customer who dips and comes back is stable.
    """
    points = [s for i, s in enumerate(scores) if i == 0 or abs(s) >= _TREND_QUIET][-_TREND_WINDOW:]
    if len(points) < 2:
        return "stable"
    k = 1 if len(points) == 2 else len(_TREND_NOW_WEIGHTS)
    now_points = list(reversed(points[-k:]))
    weights = _TREND_NOW_WEIGHTS[:k]
    now = sum(w * s for w, s in zip(weights, now_points, strict=True)) / sum(weights)
    before = statistics.median(points[:-k])
    change, last_change = now - before, points[-1] - before
    if change >= _TREND_BAND and last_change >= _TREND_LAST_BAND and points[-1] > _IMPROVING_GUARD:
        return "improving"
    if change <= -_TREND_BAND and last_change <= -_TREND_LAST_BAND and points[-1] <= _DETERIORATING_GUARD:
        return "deteriorating"
    return "stable"
