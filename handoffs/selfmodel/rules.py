"""The pure rules that turn observations about a customer into beliefs (the customer "self-model").

No Django, no database, no clock: callers pass ``now``. Everything here is deterministic, so the
same observations give the same beliefs whatever order they arrived in. The rules in plain words,
for support leads, are in ``docs/self-model.md``; keep the two in step.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SCOPES = ("general", "billing", "technical", "sensitive")
SOURCES = ("agent", "bot", "inferred")

# Never fully certain: a belief is about a person, and people change their minds.
CONFIDENCE_CEILING = 0.99
SOURCES_LIMIT = 10
HISTORY_LIMIT = 10

# A person outranks a bot, a bot outranks Warmline's own guess.
_AUTHORITY = {"inferred": 0, "bot": 1, "agent": 2}
# When bots and Warmline's own inferences disagree, an inference counts half: it is derived from the
# same conversation the bot saw, with less context than the bot had.
_RANKING_WEIGHT = {"agent": 1.0, "bot": 1.0, "inferred": 0.5}


@dataclass(frozen=True)
class KeyFamily:
    """Keys whose beliefs fade at the same pace. ``keys`` match exactly or as dotted prefixes."""

    name: str
    half_life: timedelta
    keys: tuple[str, ...]

    def matches(self, key: str) -> bool:
        wanted = key.strip().casefold()
        return any(wanted == name or wanted.startswith(name + ".") for name in self.keys)


KEY_FAMILIES = (
    KeyFamily("emotional state", timedelta(hours=6), ("mood", "emotion", "frustration", "sentiment")),
    KeyFamily("language", timedelta(days=180), ("preferred_language", "language", "locale")),
    KeyFamily(
        "communication preference",
        timedelta(weeks=4),
        ("communication", "communication_preference", "preferred_channel", "contact_preference", "tone"),
    ),
    KeyFamily("expertise", timedelta(weeks=6), ("expertise", "technical_level", "skill_level")),
)
# Anything else (plan, device, household...) is a fact that may well change within weeks.
DEFAULT_HALF_LIFE = timedelta(weeks=2)


@dataclass(frozen=True, kw_only=True)
class Observation:
    id: int | str
    key: str
    value: Any
    confidence: float
    scope: str
    source: str
    source_ref: str
    observed_at: datetime

    def __post_init__(self) -> None:
        # Rejected here rather than clamped later: a bad observation is a bug upstream, and clamping
        # would hide it inside a plausible-looking belief.
        if not isinstance(self.key, str) or not self.key:
            raise ValueError("an observation needs a non-empty key")
        _check_confidence(self.confidence)
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, not {self.scope!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {self.source!r}")
        _check_aware(self.observed_at, "observed_at")


@dataclass(frozen=True, kw_only=True)
class Belief:
    key: str
    value: Any
    confidence: float
    scope: str
    updated_at: datetime
    sources: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The spec's belief shape, plus ``history``; copies, so callers may mutate it freely."""
        return {
            "key": self.key,
            "value": copy.deepcopy(self.value),
            "confidence": self.confidence,
            "scope": self.scope,
            "updated_at": _iso(self.updated_at),
            "sources": copy.deepcopy(self.sources),
            "history": copy.deepcopy(self.history),
        }


def half_life(key: str) -> timedelta:
    for family in KEY_FAMILIES:
        if family.matches(key):
            return family.half_life
    return DEFAULT_HALF_LIFE


def decayed(confidence: float, *, age: timedelta, key: str) -> float:
    """``confidence`` after ``age``: halved once per half-life of the key's family."""
    _check_confidence(confidence)
    if age <= timedelta(0):  # observed "in the future": clock skew between bot and console
        return float(confidence)
    return float(confidence * 0.5 ** (age / half_life(key)))


def aggregate(observations: Iterable[Observation], *, now: datetime) -> Belief | None:
    """The belief about one key as of ``now``, or None without observations."""
    _check_aware(now, "now")
    ordered = _deduplicated(observations)
    if not ordered:
        return None
    keys = {observation.key for observation in ordered}
    if len(keys) > 1:
        raise ValueError(
            f"aggregate() takes observations of one key, got {sorted(keys)}; use aggregate_all()"
        )

    groups = _group_by_value(ordered)
    winner = _winner(groups, now=now)
    losers = sorted(
        (group for group in groups if group is not winner),
        key=lambda group: _arrival_order(group.latest),
        reverse=True,
    )
    supporting = list(reversed(winner.observations))
    return Belief(
        key=winner.latest.key,
        value=copy.deepcopy(winner.latest.value),  # the latest original spelling, for display
        confidence=_reported(_support(winner.observations, now=now)),
        scope=_belief_scope(ordered),
        updated_at=winner.latest.observed_at,
        sources=[_source_entry(observation) for observation in supporting[:SOURCES_LIMIT]],
        history=[_history_entry(group) for group in losers[:HISTORY_LIMIT]],
    )


def aggregate_all(observations: Iterable[Observation], *, now: datetime) -> list[Belief]:
    """One belief per key, sorted by key."""
    by_key: dict[str, list[Observation]] = {}
    for observation in observations:
        by_key.setdefault(observation.key, []).append(observation)
    beliefs = (aggregate(by_key[key], now=now) for key in sorted(by_key))
    return [belief for belief in beliefs if belief is not None]


@dataclass(frozen=True)
class _ValueGroup:
    """Observations that agree on one value (after normalisation), oldest first."""

    canonical: str
    observations: tuple[Observation, ...]

    @property
    def latest(self) -> Observation:
        return self.observations[-1]


def _winner(groups: Sequence[_ValueGroup], *, now: datetime) -> _ValueGroup:
    agent_said = [
        observation for group in groups for observation in group.observations if observation.source == "agent"
    ]
    if agent_said:
        # Product rule: a person's word stands until a person says otherwise, however fresh or
        # confident the bots are. Among people, the latest statement is the correction.
        latest = max(agent_said, key=lambda o: (o.observed_at, o.confidence, _arrival_order(o)))
        return next(group for group in groups if group.canonical == _canonical(latest.value))
    return max(
        groups,
        key=lambda group: (_support(group.observations, now=now, ranking=True), _arrival_order(group.latest)),
    )


def _support(observations: Iterable[Observation], *, now: datetime, ranking: bool = False) -> float:
    """How strongly these agreeing observations back their value at ``now``.

    One vote per source (its strongest, after decay): a bot repeating itself every turn is not
    corroboration, two bots or a bot and an agent agreeing is. Votes combine by noisy-OR.
    """
    strongest: dict[tuple[str, str], float] = {}
    for observation in observations:
        strength = decayed(observation.confidence, age=now - observation.observed_at, key=observation.key)
        if ranking:
            strength *= _RANKING_WEIGHT[observation.source]
        voter = (observation.source, observation.source_ref)
        strongest[voter] = max(strongest.get(voter, 0.0), strength)
    return _noisy_or(strongest.values())


def _noisy_or(strengths: Iterable[float]) -> float:
    doubt = 1.0
    for strength in sorted(strengths):  # a fixed order keeps the float result arrival-independent
        doubt *= 1.0 - strength
    return 1.0 - doubt


def _reported(support: float) -> float:
    # Rounded so that beliefs compare and serialise stably; four places is finer than anyone reads.
    return round(min(max(support, 0.0), CONFIDENCE_CEILING), 4)


def _belief_scope(observations: Iterable[Observation]) -> str:
    """The most restrictive scope among all the key's observations, losers included.

    Losing values are shown in ``history``, so they must not leak either. Billing and technical are
    siblings, not ranked; a key seen under both is raised to sensitive, whose readers see everything.
    """
    scopes = {observation.scope for observation in observations}
    if "sensitive" in scopes or {"billing", "technical"} <= scopes:
        return "sensitive"
    for scope in ("billing", "technical"):
        if scope in scopes:
            return scope
    return "general"


def _source_entry(observation: Observation) -> dict[str, Any]:
    return {
        "source": observation.source,
        "ref": observation.source_ref,
        "confidence": observation.confidence,
        "at": _iso(observation.observed_at),
        "id": observation.id,
    }


def _history_entry(group: _ValueGroup) -> dict[str, Any]:
    # "until" is the last time anyone stated this value; its confidence is as it stood then, since
    # as of now an old mood would read as zero and say nothing about why it was believed.
    until = group.latest.observed_at
    return {
        "value": copy.deepcopy(group.latest.value),
        "confidence": _reported(_support(group.observations, now=until)),
        "until": _iso(until),
        "source": max((o.source for o in group.observations), key=_AUTHORITY.__getitem__),
    }


def _group_by_value(ordered: Sequence[Observation]) -> list[_ValueGroup]:
    members: dict[str, list[Observation]] = {}
    for observation in ordered:
        members.setdefault(_canonical(observation.value), []).append(observation)
    return [_ValueGroup(canonical, tuple(group)) for canonical, group in members.items()]


def _deduplicated(observations: Iterable[Observation]) -> list[Observation]:
    """In arrival-independent order, each observation id once (delivery is at least once).

    Where one id comes with different contents, the latest version wins, as an edit would.
    """
    latest_by_id: dict[tuple[str, int | str], Observation] = {}
    for observation in sorted(observations, key=_arrival_order):
        latest_by_id[(type(observation.id).__name__, observation.id)] = observation
    return sorted(latest_by_id.values(), key=_arrival_order)


def _arrival_order(observation: Observation) -> tuple[Any, ...]:
    """A total order on observations, so that no result depends on the order they arrived in."""
    return (
        observation.observed_at,
        _iso(observation.observed_at),  # the same instant written with two offsets
        str(observation.id),
        type(observation.id).__name__,
        observation.source,
        observation.source_ref,
        observation.confidence,
        observation.scope,
        _json_text(observation.value),
    )


def _canonical(value: Any) -> str:
    """The text two values share when they agree: strings compared case- and spacing-blind."""
    return _json_text(_normalised(value))


def _normalised(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 2.0 and 2 agree
    if isinstance(value, dict):
        return {str(name): _normalised(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalised(item) for item in value]
    return value


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
    except TypeError:  # dict keys of mixed types cannot be sorted
        return repr(value)


def _iso(moment: datetime) -> str:
    text = moment.isoformat()
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


def _check_confidence(confidence: float) -> None:
    if not isinstance(confidence, int | float) or not math.isfinite(confidence) or not 0 <= confidence <= 1:
        raise ValueError(f"confidence must be a number from 0 to 1, not {confidence!r}")


def _check_aware(moment: datetime, name: str) -> None:
    # Naive and aware datetimes cannot be compared; failing here names the culprit.
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, not {moment!r}")
