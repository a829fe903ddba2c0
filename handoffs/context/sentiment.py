"""Per-turn sentiment for customer turns, and the emotion state read off the trajectory.

VADER is the base: it handles English intensifiers, negation, mixed-case emphasis and "!!". Support
chat has its own vocabulary of anger that VADER scores as neutral or even positive ("this is the
third time", "you people keep promising…" comes out +0.40), so a small lexicon of support cues is
added on top. Spanish turns skip VADER: its English lexicon reads Spanish "no" as a negative word
and misses everything else, so they are scored from a Spanish cue list instead.

Endings are where support chats go wrong quietly: "ok I guess, but it's not great", "fine, whatever",
"vale, qué remedio" are polite on the surface. Resignation cues drop the politeness and score the turn
mildly negative; a turn that turns at "but" is read mostly by where it ends; and the current state is
never more positive than half of a negative last turn, so earlier thanks cannot average it away.
"""

from __future__ import annotations

import re
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
    return analyzer


_REQUEST_WORDS = {"please": 0.0, "help": 0.0, "sure": 0.3}


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
        (r"\bstill\s+\w+ing\b", -0.15),
        (
            r"\bwaiting\s+(?:for\s+)?(?:over\s+|more\s+than\s+|almost\s+|nearly\s+)?"
            r"(?:a|an|one|two|three|four|five|six|\d+|several|many)\s+(?:days?|weeks?|months?|hours?)\b",
            -0.3,
        ),
        (r"\b(?:does|do|did|will|is|are)(?:n'?t|\s+not)\s+(?:\w+\s+)?work(?:ing)?\b|\bwon'?t\s+work\b", -0.2),
        (r"\b(haven'?t|hasn'?t|have\s+not|has\s+not)\s+(heard|received|arrived|moved|been)\b", -0.2),
        (r"\bnever\s+(arrive[sd]?|happen(s|ed)?|came|come|work(s|ed)?|show(s|ed)?\s+up|got)\b", -0.35),
        (r"\bnothing\b", -0.1),
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
        (r"\b(not\s+fair|unfair|not\s+good\s+enough|not\s+ok(ay)?)\b", -0.3),
        (r"\b(worried|anxious|urgent(ly)?|asap|right\s+now|immediately|desperate)\b", -0.2),
        (r"\b(messed\s+up|screwed\s+up|so\s+annoying|annoyed)\b", -0.3),
        (r"\b(locked\s+out|can'?t\s+(log\s*in|access|get\s+through))\b", -0.2),
        (r"\bi\s+(can'?t|cannot|couldn'?t)\b", -0.15),
        # Life events behind a request (illness, accidents, emergencies) mean distress even in polite words.
        (
            r"\b(hospital|emergenc(y|ies)|accident|funeral|passed\s+away|injured|allergic|dangerous|stranded)\b",
            -0.25,
        ),
        (r"\b(wrong|declined|cancell?ed|missing|broken|damaged|charged\s+twice|not\s+working)\b", -0.15),
        (r"\b(complaint|lawyer|chargeback|report\s+you)\b", -0.3),
        # Relief and thanks that VADER underrates in short replies.
        (
            r"\b(that'?s\s+a\s+relief|sorted|that\s+worked|works\s+now|problem\s+solved|appreciate\s+it)\b",
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

_SPANISH_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.VERBOSE), weight)
    for pattern, weight in (
        (r"\b(segunda|tercera|cuarta)\s+vez\b|\botra\s+vez\b|\bvarias\s+veces\b", -0.45),
        (r"\b(todav[ií]a\s+no|sigue\s+sin|sigo\s+sin|a[uú]n\s+no|llevo\s+\w+\s+\w+\s+sin)\b", -0.35),
        (
            r"\b(inaceptable|rid[ií]culo|vergüenza|verguenza|p[eé]simo|horrible|terrible|fatal|estafa)\b",
            -0.45,
        ),
        (r"\b(harto|harta|cansado|cansada|enfadado|enfadada|molesto|molesta|indignado|indignada)\b", -0.4),
        (r"\b(nadie|no\s+funciona|no\s+sirve|queja|reclamaci[oó]n|p[eé]rdida\s+de\s+tiempo)\b", -0.3),
        (r"\b(hablar\s+con\s+(una\s+persona|alguien|un\s+humano|un\s+agente|un\s+supervisor))\b", -0.3),
        (r"\b(urgente|preocupad[oa]|problema|no\s+reconozco|error)\b", -0.2),
        (r"\b(gracias|vale|perfecto|genial|excelente|estupendo|fenomenal|much[ií]simas|amable)\b", 0.35),
        (r"\b(muchas\s+gracias|much[ií]simas\s+gracias|me\s+encanta|solucionado|resuelto)\b", 0.3),
    )
)

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
_SHOUTED_WORD = re.compile(r"\b[A-Z]{3,}\b")
_WORDS = re.compile(r"\b[^\W\d_]{3,}\b")
_PUNCT_BURST = re.compile(r"[!?]{2,}")


# A bare acknowledgement ("ok", "vale", "fine") says the customer heard, not how they feel: a resigned
# "ok" after an angry turn must not read as calm.
_ACKNOWLEDGEMENT = re.compile(
    r"^\W*(?:ok(?:ay)?|k|fine|alright|all\s+right|right|sure|got\s+it|understood|vale|bueno|de\s+acuerdo|entendido)\W*$",
    re.IGNORECASE,
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


def score_text(text: str) -> float:
    """Score one customer turn in [-1, 1]."""
    score = _score_part(text)
    contrasts = list(_CONTRAST.finditer(text))
    if contrasts:
        last = contrasts[-1]
        before, after = text[: last.start()], text[last.end() :]
        if before.strip(" ,.") and after.strip(" ,.!?"):
            pre, post = _score_part(before), _score_part(after)
            # A turn that turns ("fine, but…", "annoying but ok") is read by where it ends; after a bare
            # acknowledgement ("ok, but…") the rest is all there is.
            if (pre >= -0.05 and post <= -0.05) or (pre <= -0.05 and post >= -0.05):
                share = 1.0 if abs(pre) < _SALIENCE_FLOOR else _CONTRAST_WEIGHT
                score = (1 - share) * pre + share * post
    return round(max(-1.0, min(1.0, score)), 3)


def _score_part(text: str) -> float:
    if _ACKNOWLEDGEMENT.match(text):
        return 0.0
    if is_spanish(text):
        base = 0.0
        cues = _SPANISH_CUES
    else:
        base = _vader().polarity_scores(text)["compound"]
        cues = _ENGLISH_CUES
    weights = [weight for pattern, weight in cues if pattern.search(text)]
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
    words = _WORDS.findall(text)
    shouted = _SHOUTED_WORD.findall(text)
    if len(shouted) >= 2 and len(shouted) >= 0.5 * len(words):
        score -= 0.3
    if _PUNCT_BURST.search(text) and score < 0.05:
        # "2 hours??" is exasperation, not a neutral question.
        score -= 0.15
    return max(-1.0, min(1.0, score))


# Informational turns ("It's #FD-20931") carry no emotion; they should not dilute the state the
# customer was in a turn earlier.
_SALIENCE_FLOOR = 0.1


def _salience(score: float) -> float:
    return 1.0 if abs(score) >= _SALIENCE_FLOOR else 0.25


# Newest first: the current state is mostly the last turn, tempered by the two or three before it.
_RECENCY_WEIGHTS = (1.0, 0.55, 0.3, 0.15)
_LAST_WORD_SHARE = 0.5


def current_state(scores: Sequence[float]) -> str:
    """calm | neutral | concerned | frustrated | angry from the recent trajectory scores."""
    if not scores:
        return "neutral"
    recent = list(reversed(scores[-len(_RECENCY_WEIGHTS) :]))
    weights = [r * _salience(s) for r, s in zip(_RECENCY_WEIGHTS, recent, strict=False)]
    level = sum(w * s for w, s in zip(weights, recent, strict=False)) / sum(weights)
    # Earlier warmth does not cancel a negative last word ("thanks!" … "fine, whatever"): the customer
    # is read as at least half as unhappy as what they just said.
    if recent[0] < 0:
        level = min(level, _LAST_WORD_SHARE * recent[0])
    if level >= 0.3:
        return "calm"
    if level > -0.12:
        return "neutral"
    if level > -0.35:
        return "concerned"
    if level > -0.6:
        return "frustrated"
    return "angry"


_TREND_WINDOW = 5
_TREND_SLOPE = 0.1  # score units per customer turn
_TREND_GUARD = 0.2


def trend(scores: Sequence[float]) -> str:
    """improving | stable | deteriorating from a salience-weighted least-squares slope."""
    recent = list(scores[-_TREND_WINDOW:])
    if len(recent) < 2:
        return "stable"
    weights = [_salience(s) for s in recent]
    total = sum(weights)
    mean_x = sum(w * x for x, w in enumerate(weights)) / total
    mean_y = sum(w * y for w, y in zip(weights, recent, strict=True)) / total
    var = sum(w * (x - mean_x) ** 2 for x, w in enumerate(weights))
    if var == 0:
        return "stable"
    cov = sum(w * (x - mean_x) * (y - mean_y) for x, (w, y) in enumerate(zip(weights, recent, strict=True)))
    slope = cov / var
    # The direction must agree with where the customer is now: going from furious to merely angry is
    # not "improving" for the agent about to pick the conversation up.
    if slope >= _TREND_SLOPE and recent[-1] > -_TREND_GUARD:
        return "improving"
    if slope <= -_TREND_SLOPE and recent[-1] < _TREND_GUARD:
        return "deteriorating"
    return "stable"
