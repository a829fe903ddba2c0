"""The self-model's pure rules: no Django, no database."""

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoffs.selfmodel.rules import (
    CONFIDENCE_CEILING,
    DEFAULT_HALF_LIFE,
    HISTORY_LIMIT,
    SOURCES_LIMIT,
    Belief,
    Observation,
    aggregate,
    aggregate_all,
    decayed,
    half_life,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


def observe(
    value="en",
    *,
    key="preferred_language",
    confidence=0.6,
    source="bot",
    ref="bot-1",
    ago=timedelta(0),
    scope="general",
    id=None,
):
    return Observation(
        id=next(_ids) if id is None else id,
        key=key,
        value=value,
        confidence=confidence,
        scope=scope,
        source=source,
        source_ref=ref,
        observed_at=NOW - ago,
    )


# --- agreement -----------------------------------------------------------------------------------


def test_agreeing_evidence_from_two_sources_raises_confidence():
    # given two bots that each say "en" with 0.6
    observations = [observe("en", ref="bot-1"), observe("en", ref="bot-2")]

    # when
    belief = aggregate(observations, now=NOW)

    # then noisy-OR: 1 - 0.4 * 0.4
    assert belief.value == "en"
    assert belief.confidence == pytest.approx(0.84)


def test_agreeing_evidence_never_reaches_certainty():
    observations = [observe("en", confidence=0.9, ref=f"bot-{n}") for n in range(20)]

    assert aggregate(observations, now=NOW).confidence == CONFIDENCE_CEILING
    assert aggregate([observe("en", confidence=1.0)], now=NOW).confidence == CONFIDENCE_CEILING


def test_a_source_repeating_itself_is_not_corroboration():
    observations = [observe("en", ref="bot-1", ago=timedelta(minutes=m)) for m in range(5)]

    assert aggregate(observations, now=NOW).confidence == pytest.approx(0.6)


def test_strings_agree_whatever_their_case_and_spacing_and_the_latest_spelling_is_shown():
    observations = [
        observe("english", ref="bot-1", ago=timedelta(hours=2)),
        observe("  English ", ref="bot-2", ago=timedelta(hours=1)),
        observe("English", source="agent", ref="dana", confidence=0.5),
    ]

    belief = aggregate(observations, now=NOW)

    assert belief.value == "English"
    assert belief.history == []
    assert len(belief.sources) == 3


def test_numbers_agree_across_int_and_float_but_not_with_booleans():
    belief = aggregate(
        [observe(2, ref="a"), observe(2.0, ref="b"), observe(True, ref="c", confidence=0.1)], now=NOW
    )

    assert belief.value == 2
    assert [entry["value"] for entry in belief.history] == [True]


def test_the_same_observation_delivered_twice_counts_once():
    first, again = observe("en", id="obs-1"), observe("en", id="obs-1")

    assert aggregate([first, again], now=NOW) == aggregate([first], now=NOW)
    assert len(aggregate([first, again], now=NOW).sources) == 1


def test_an_edited_observation_replaces_its_earlier_version():
    # given observation 1 said "en", then was edited to "En" after another bot said "EN"
    original = observe("en", id=1, ref="bot-1", ago=timedelta(hours=2))
    other = observe("EN", id=2, ref="bot-2", ago=timedelta(hours=1))
    edited = observe("En", id=1, ref="bot-1")

    belief = aggregate([original, other, edited], now=NOW)

    assert belief.value == "En"
    assert [entry["id"] for entry in belief.sources] == [1, 2]


# --- decay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "low", "high"),
    [
        ("mood", timedelta(hours=1), timedelta(hours=24)),
        ("emotion.current", timedelta(hours=1), timedelta(hours=24)),
        ("frustration", timedelta(hours=1), timedelta(hours=24)),
        ("preferred_language", timedelta(days=60), timedelta(days=366)),
        ("Locale", timedelta(days=60), timedelta(days=366)),
        ("language", timedelta(days=60), timedelta(days=366)),
        ("communication.channel", timedelta(weeks=1), timedelta(weeks=10)),
        ("expertise", timedelta(weeks=1), timedelta(weeks=10)),
    ],
)
def test_half_life_follows_the_key_family(key, low, high):
    assert low <= half_life(key) <= high


def test_unknown_keys_and_lookalikes_get_the_default_half_life():
    assert half_life("plan") == DEFAULT_HALF_LIFE
    assert half_life("moodboard") == DEFAULT_HALF_LIFE  # a prefix only counts at a dot


def test_emotions_fade_faster_than_language():
    assert half_life("mood") < half_life("expertise") < half_life("preferred_language")


@pytest.mark.parametrize(
    "key", ["mood", "emotion.current", "preferred_language", "communication", "expertise", "plan"]
)
def test_decay_halves_at_one_half_life(key):
    one = half_life(key)

    assert decayed(0.8, age=one, key=key) == pytest.approx(0.4)
    assert decayed(0.8, age=2 * one, key=key) == pytest.approx(0.2)
    assert aggregate([observe("x", key=key, confidence=0.8, ago=one)], now=NOW).confidence == pytest.approx(
        0.4
    )


def test_observations_from_the_future_count_as_age_zero():
    assert decayed(0.7, age=-timedelta(hours=3), key="mood") == 0.7
    assert (
        aggregate([observe("calm", key="mood", confidence=0.7, ago=-timedelta(hours=3))], now=NOW).confidence
        == 0.7
    )


def test_a_huge_age_decays_to_zero_without_error():
    assert decayed(1.0, age=timedelta.max, key="mood") == 0.0


# --- contradiction -------------------------------------------------------------------------------


def test_contradiction_goes_to_the_more_confident_value_at_the_same_age():
    belief = aggregate(
        [observe("en", confidence=0.7, ref="a"), observe("es", confidence=0.6, ref="b")], now=NOW
    )

    assert belief.value == "en"
    assert belief.confidence == pytest.approx(0.7)
    assert belief.history == [
        {"value": "es", "confidence": 0.6, "until": "2026-11-20T10:00:00Z", "source": "bot"}
    ]


def test_contradiction_goes_to_the_fresher_value_when_the_old_one_has_faded():
    # given a confident "calm" twelve hours ago (two half-lives: 0.9 -> 0.225) and a weaker "angry" now
    calm = observe("calm", key="mood", confidence=0.9, ref="a", ago=timedelta(hours=12))
    angry = observe("angry", key="mood", confidence=0.5, ref="b")

    belief = aggregate([calm, angry], now=NOW)

    assert belief.value == "angry"
    # the loser keeps the confidence it had when last stated
    assert belief.history == [
        {"value": "calm", "confidence": 0.9, "until": "2026-11-19T22:00:00Z", "source": "bot"}
    ]


def test_agreement_can_outweigh_one_stronger_contradiction():
    observations = [observe("en", ref="a"), observe("en", ref="b"), observe("es", confidence=0.8, ref="c")]

    assert aggregate(observations, now=NOW).value == "en"  # 0.84 > 0.8


# --- who said it ---------------------------------------------------------------------------------


def test_an_agent_beats_a_newer_and_more_confident_bot():
    agent = observe("en", source="agent", ref="dana", confidence=0.6, ago=timedelta(days=1))
    bot = observe("es", source="bot", ref="bot-1", confidence=1.0)

    belief = aggregate([agent, bot], now=NOW)

    assert belief.value == "en"
    assert belief.history[0]["value"] == "es"
    assert belief.history[0]["source"] == "bot"


def test_a_newer_agent_beats_an_older_more_confident_agent():
    older = observe("en", source="agent", ref="dana", confidence=0.95, ago=timedelta(days=2))
    newer = observe("es", source="agent", ref="lee", confidence=0.5)

    belief = aggregate([older, newer], now=NOW)

    assert belief.value == "es"
    assert belief.confidence == pytest.approx(0.5)
    assert belief.history == [
        {"value": "en", "confidence": 0.95, "until": "2026-11-18T10:00:00Z", "source": "agent"}
    ]


def test_a_superseded_value_remembers_that_a_person_said_it():
    agent = observe("en", source="agent", ref="dana", ago=timedelta(days=2))
    echoing_bot = observe("en", source="bot", ref="bot-1", ago=timedelta(days=1))
    correction = observe("es", source="agent", ref="lee")

    history = aggregate([agent, echoing_bot, correction], now=NOW).history

    assert [(entry["value"], entry["source"], entry["until"]) for entry in history] == [
        ("en", "agent", "2026-11-19T10:00:00Z")
    ]


def test_agents_at_the_same_moment_are_settled_by_confidence():
    sure = observe("en", source="agent", ref="dana", confidence=0.9, id=1)
    unsure = observe("es", source="agent", ref="lee", confidence=0.4, id=2)

    assert aggregate([unsure, sure], now=NOW).value == "en"
    assert aggregate([sure, unsure], now=NOW).value == "en"


def test_bots_agreeing_with_the_agent_raise_the_agents_value():
    agent = observe("en", source="agent", ref="dana", confidence=0.5, ago=timedelta(hours=1))
    bot = observe("EN", source="bot", ref="bot-1", confidence=0.5)

    belief = aggregate([agent, bot], now=NOW)

    assert belief.value == "EN"
    assert belief.confidence > 0.5
    assert [entry["source"] for entry in belief.sources] == ["bot", "agent"]


def test_inferred_loses_to_a_bot_of_equal_confidence_and_age():
    belief = aggregate(
        [observe("en", source="inferred", ref="lang-detect"), observe("es", source="bot")], now=NOW
    )

    assert belief.value == "es"


def test_inferred_counts_half_against_a_bot():
    bot = observe("es", source="bot", confidence=0.4)

    assert (
        aggregate([observe("en", source="inferred", confidence=0.9), bot], now=NOW).value == "en"
    )  # 0.45 > 0.4
    assert (
        aggregate([observe("en", source="inferred", confidence=0.7), bot], now=NOW).value == "es"
    )  # 0.35 < 0.4


def test_inferred_loses_to_an_older_agent():
    agent = observe("en", source="agent", ref="dana", confidence=0.3, ago=timedelta(days=3))
    inferred = observe("es", source="inferred", ref="lang-detect", confidence=1.0)

    assert aggregate([agent, inferred], now=NOW).value == "en"


# --- scope ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        (["general"], "general"),
        (["general", "billing"], "billing"),
        (["technical", "general"], "technical"),
        (["general", "sensitive", "billing"], "sensitive"),
        (["billing", "technical"], "sensitive"),
    ],
)
def test_scope_is_the_most_restrictive_among_all_observations(scopes, expected):
    observations = [observe(f"value-{n}", scope=scope, ref=f"bot-{n}") for n, scope in enumerate(scopes)]

    assert aggregate(observations, now=NOW).scope == expected


def test_a_losing_sensitive_value_still_restricts_the_belief():
    winner = observe("en", confidence=0.9, scope="general")
    loser = observe("es", confidence=0.1, scope="sensitive", ref="bot-2")

    assert aggregate([winner, loser], now=NOW).scope == "sensitive"


# --- shape ---------------------------------------------------------------------------------------


def test_as_dict_has_the_spec_shape():
    belief = aggregate([observe("en", ago=timedelta(hours=1), id=7)], now=NOW)

    assert belief.as_dict() == {
        "key": "preferred_language",
        "value": "en",
        "confidence": round(0.6 * 0.5 ** (1 / (180 * 24)), 4),
        "scope": "general",
        "updated_at": "2026-11-20T09:00:00Z",
        "sources": [
            {"source": "bot", "ref": "bot-1", "confidence": 0.6, "at": "2026-11-20T09:00:00Z", "id": 7}
        ],
        "history": [],
    }
    json.dumps(belief.as_dict())


def test_as_dict_keeps_a_non_utc_offset():
    paris = timezone(timedelta(hours=1))
    observation = Observation(
        id=1,
        key="mood",
        value="calm",
        confidence=0.5,
        scope="general",
        source="bot",
        source_ref="b",
        observed_at=datetime(2026, 11, 20, 11, 0, tzinfo=paris),
    )

    assert aggregate([observation], now=NOW).as_dict()["updated_at"] == "2026-11-20T11:00:00+01:00"


def test_sources_are_newest_first_and_capped():
    observations = [observe("en", ref=f"bot-{n}", ago=timedelta(minutes=n)) for n in range(15)]

    sources = aggregate(observations, now=NOW).sources

    assert len(sources) == SOURCES_LIMIT
    assert [entry["ref"] for entry in sources] == [f"bot-{n}" for n in range(SOURCES_LIMIT)]


def test_history_is_newest_first_and_capped():
    agent = observe("en", source="agent", ref="dana")
    losers = [observe(f"lang-{n}", ref=f"bot-{n}", ago=timedelta(minutes=n + 1)) for n in range(15)]

    history = aggregate([agent, *losers], now=NOW).history

    assert len(history) == HISTORY_LIMIT
    assert [entry["value"] for entry in history] == [f"lang-{n}" for n in range(HISTORY_LIMIT)]


def test_updated_at_is_the_newest_supporting_observation():
    agent = observe("en", source="agent", ref="dana", ago=timedelta(hours=5))
    newer_bot = observe("es", ago=timedelta(hours=1))

    assert aggregate([agent, newer_bot], now=NOW).updated_at == NOW - timedelta(hours=5)


# --- input checks --------------------------------------------------------------------------------


def test_no_observations_no_belief():
    assert aggregate([], now=NOW) is None
    assert aggregate_all([], now=NOW) == []


def test_aggregate_refuses_mixed_keys():
    with pytest.raises(ValueError, match="one key"):
        aggregate([observe(key="mood"), observe(key="locale")], now=NOW)


@pytest.mark.parametrize("confidence", [-0.01, 1.01, float("nan"), float("inf")])
def test_confidence_outside_zero_to_one_is_rejected(confidence):
    with pytest.raises(ValueError, match="confidence"):
        observe(confidence=confidence)
    with pytest.raises(ValueError, match="confidence"):
        decayed(confidence, age=timedelta(0), key="mood")


def test_unknown_scope_source_and_naive_times_are_rejected():
    with pytest.raises(ValueError, match="scope"):
        observe(scope="secret")
    with pytest.raises(ValueError, match="source"):
        observe(source="crm")
    with pytest.raises(ValueError, match="aware"):
        aggregate([observe()], now=datetime(2026, 11, 20))


# --- properties ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=4)
    | st.sampled_from(["en", " EN", "es", "Es "]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=5,
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]),
)


def observations_of(*, keys=("mood", "preferred_language", "plan"), sources=("agent", "bot", "inferred")):
    # A handful of each, so that equal times, repeated ids, shared refs and agreeing values are common.
    return st.builds(
        Observation,
        id=st.one_of(st.integers(0, 5), st.sampled_from(["a", "b", "1"])),
        key=st.sampled_from(keys),
        value=json_values,
        confidence=st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0, 1)),
        scope=st.sampled_from(["general", "billing", "technical", "sensitive"]),
        source=st.sampled_from(sources),
        source_ref=st.sampled_from(["bot-1", "bot-2", "dana"]),
        observed_at=st.one_of(moments, st.just(NOW)),
    )


observations = observations_of()
nows = st.one_of(
    st.just(NOW), moments, st.just(datetime(9999, 12, 31, tzinfo=UTC)), st.just(datetime(1, 1, 2, tzinfo=UTC))
)


def serialised(beliefs):
    return json.dumps([belief.as_dict() for belief in beliefs], sort_keys=True, default=str)


@settings(max_examples=300)
@given(st.lists(observations, max_size=12), st.randoms(use_true_random=False), nows)
def test_arrival_order_does_not_change_the_beliefs(original, random, now):
    shuffled = random.sample(original, len(original))

    assert aggregate_all(original, now=now) == aggregate_all(shuffled, now=now)
    assert serialised(aggregate_all(original, now=now)) == serialised(aggregate_all(shuffled, now=now))


@settings(max_examples=300)
@given(st.lists(observations, max_size=12), nows)
def test_confidence_stays_within_zero_and_the_ceiling(items, now):
    for belief in aggregate_all(items, now=now):
        assert 0.0 <= belief.confidence <= CONFIDENCE_CEILING
        assert all(0.0 <= entry["confidence"] <= CONFIDENCE_CEILING for entry in belief.history)
        assert all(0.0 <= entry["confidence"] <= 1.0 for entry in belief.sources)


@given(
    st.floats(0, 1),
    st.timedeltas(min_value=timedelta(0)),
    st.timedeltas(min_value=timedelta(0)),
    st.sampled_from(["mood", "locale", "plan"]),
)
def test_decay_is_bounded_and_never_grows_with_age(confidence, age, more, key):
    younger = decayed(confidence, age=age, key=key)

    assert 0.0 <= younger <= confidence
    if age <= timedelta.max - more:
        assert decayed(confidence, age=age + more, key=key) <= younger


@given(st.lists(observations, max_size=12), nows)
def test_aggregate_all_partitions_by_key(items, now):
    beliefs = aggregate_all(items, now=now)

    assert [belief.key for belief in beliefs] == sorted({item.key for item in items})
    for belief in beliefs:
        assert isinstance(belief, Belief)
        assert belief == aggregate([item for item in items if item.key == belief.key], now=now)


@given(
    st.lists(observations_of(keys=["plan"], sources=["bot", "inferred"]), min_size=1, max_size=6),
    st.floats(0.01, 1),
)
def test_one_more_agreeing_source_never_lowers_confidence(items, confidence):
    belief = aggregate(items, now=NOW)
    ally = Observation(
        id="ally",
        key="plan",
        value=belief.value,
        confidence=confidence,
        scope="general",
        source="bot",
        source_ref="ally",
        observed_at=NOW,
    )

    strengthened = aggregate([*items, ally], now=NOW)

    assert strengthened.confidence >= belief.confidence
