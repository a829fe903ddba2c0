"""Per-turn sentiment for customer turns, and the emotion state read off the trajectory.

VADER is the base: it handles English intensifiers, negation, mixed-case emphasis and "!!". Support
chat has its own vocabulary of anger that VADER scores as neutral or even positive ("this is the
third time", "you people keep promising…" comes out +0.40), so a small lexicon of support cues is
added on top. Spanish turns skip VADER: its English lexicon reads Spanish "no" as a negative word
and misses everything else, so they are scored from a Spanish cue list instead.
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

    return SentimentIntensityAnalyzer()


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
            r"\b(still|yet)\s+(not|no|hasn'?t|haven'?t|isn'?t|doesn'?t|can'?t|won'?t|nothing|waiting|broken|dripping|down)\b",
            -0.35,
        ),
        (r"\bstill\s+\w+ing\b", -0.15),
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


def score_text(text: str) -> float:
    """Score one customer turn in [-1, 1]."""
    if _ACKNOWLEDGEMENT.match(text):
        return 0.0
    if is_spanish(text):
        base = 0.0
        cues = _SPANISH_CUES
    else:
        base = _vader().polarity_scores(text)["compound"]
        cues = _ENGLISH_CUES
    cue_sum = sum(weight for pattern, weight in cues if pattern.search(text))
    score = base + cue_sum
    words = _WORDS.findall(text)
    shouted = _SHOUTED_WORD.findall(text)
    if len(shouted) >= 2 and len(shouted) >= 0.5 * len(words):
        score -= 0.3
    if _PUNCT_BURST.search(text) and score < 0.05:
        # "2 hours??" is exasperation, not a neutral question.
        score -= 0.15
    return round(max(-1.0, min(1.0, score)), 3)


# Informational turns ("It's #FD-20931") carry no emotion; they should not dilute the state the
# customer was in a turn earlier.
_SALIENCE_FLOOR = 0.1


def _salience(score: float) -> float:
    return 1.0 if abs(score) >= _SALIENCE_FLOOR else 0.25


# Newest first: the current state is mostly the last turn, tempered by the two or three before it.
_RECENCY_WEIGHTS = (1.0, 0.55, 0.3, 0.15)


def current_state(scores: Sequence[float]) -> str:
    """calm | neutral | concerned | frustrated | angry from the recent trajectory scores."""
    if not scores:
        return "neutral"
    recent = list(reversed(scores[-len(_RECENCY_WEIGHTS) :]))
    weights = [r * _salience(s) for r, s in zip(_RECENCY_WEIGHTS, recent, strict=False)]
    level = sum(w * s for w, s in zip(weights, recent, strict=False)) / sum(weights)
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
