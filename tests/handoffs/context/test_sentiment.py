"""Customer-turn scores and the emotion state read from a trajectory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoffs.context.sentiment import current_state, score_text, trend


@pytest.mark.parametrize(
    "text",
    [
        "This is the third time I've had to contact you about this.",
        "Second time this month the courier lost my parcel.",
        "It's still not working.",
        "I need a human, not a script.",
        "Honestly this is unacceptable.",
        "You people keep promising refunds that never arrive.",
        "What a waste of time.",
        "This is ridiculous",
        "Es la segunda vez que me pasa.",
        "Esto es inaceptable, estoy harta.",
    ],
)
def test_support_frustration_reads_negative(text: str) -> None:
    assert score_text(text) <= -0.3


@pytest.mark.parametrize(
    "text",
    ["Perfect, thank you so much!", "That worked, appreciate it.", "Genial, muchas gracias.", "No worries!"],
)
def test_thanks_and_relief_read_positive(text: str) -> None:
    assert score_text(text) >= 0.3


@pytest.mark.parametrize("text", ["It's #FD-20931", "+1 (415) 555-0134", "Pedido 4410923.", "ok", "Vale."])
def test_informational_turns_are_neutral(text: str) -> None:
    assert -0.1 <= score_text(text) <= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "ok I guess, but it's not great",
        "fine, whatever",
        "Thanks, I suppose.",
        "I suppose that'll have to do.",
        "I guess I have no choice but to wait.",
        "If that's the best you can do.",
        "Alright then. Not thrilled.",
        "A bit disappointed to be honest.",
        "Great, another week of waiting.",
        "Sure, but I've been waiting for two weeks already.",
        "Ok, but it still does not work.",
        "Vale, qué remedio.",
        "Bueno, si no hay otra opción...",
        "Pues vaya. No es lo que pedí.",
        "Vale, lo que sea.",
    ],
)
def test_mildly_negative_endings_read_negative(text: str) -> None:
    assert -0.6 < score_text(text) <= -0.2


@pytest.mark.parametrize(
    "text",
    [
        "Ok thanks, that's fine.",
        "Fine, that works for me.",
        "Thanks, I'll wait for the email then.",
        "Perfect, I hope it arrives soon!",
        "Cool, whatever works for you.",
        "I'm happy with that, although the wait was long.",
        "Nope, that's everything. Thanks!",
        "Muy bien, gracias, supongo que llegará el lunes.",
        "Vale, esperaré la llamada. Gracias.",
        # Accepting with a grumble lands on the acceptance.
        "That's annoying but ok.",
        "No es lo ideal, pero vale.",
    ],
)
def test_satisfied_or_accepting_endings_do_not(text: str) -> None:
    assert score_text(text) > -0.12


def test_requests_are_not_positive_feelings() -> None:
    assert score_text("Please help, my card was stolen!") < 0
    assert score_text("Fine, but this is the second delay this week. Please make sure it ships.") <= -0.3


def test_a_negative_last_word_is_not_averaged_away() -> None:
    # Thanks earlier, then a resigned ending: the agent should meet a concerned customer.
    assert current_state([-0.4, 0.6, score_text("fine, whatever")]) == "concerned"
    assert current_state([-0.4, 0.6, score_text("Ok thanks, that's fine.")]) == "calm"
    # A mild grumble after thanks stays neutral.
    assert current_state([0.6, -0.1]) == "neutral"


def test_spanish_turns_do_not_inherit_english_lexicon() -> None:
    # VADER's English lexicon scores the Spanish "no" as a negative word.
    assert score_text("No hablo bien inglés, ¿puede alguien ayudarme en español?") > -0.1


def test_shouting_and_bursts_make_it_worse() -> None:
    assert score_text("WHERE IS MY ORDER, I PAID TWO WEEKS AGO") < score_text(
        "Where is my order, I paid two weeks ago"
    )
    assert score_text("2 hours?? I need the card now") < score_text("2 hours? I need the card now")


def test_negation_is_respected() -> None:
    assert score_text("The new router is not good at all.") < 0 < score_text("The new router is good.")


def test_current_state_survives_an_informational_turn() -> None:
    assert current_state([-0.7, 0.0]) in ("frustrated", "angry")


def test_current_state_labels_span_the_scale() -> None:
    assert current_state([0.8]) == "calm"
    assert current_state([0.0]) == "neutral"
    assert current_state([-0.3]) == "concerned"
    assert current_state([-0.5]) == "frustrated"
    assert current_state([-0.9]) == "angry"
    assert current_state([]) == "neutral"


def test_trend_uses_the_slope_not_the_last_turn() -> None:
    assert trend([0.3, 0.0, -0.4, -0.7]) == "deteriorating"
    assert trend([-0.8, -0.5, 0.0, 0.6]) == "improving"
    # One dip after a steady run is not yet a deteriorating trend.
    assert trend([0.2, 0.2, 0.2, 0.2, 0.1]) == "stable"
    assert trend([-0.5]) == "stable"


def test_trend_does_not_call_a_still_angry_customer_improving() -> None:
    assert trend([-0.95, -0.6]) == "stable"


@given(st.text(max_size=300))
def test_scores_stay_in_range_for_any_text(text: str) -> None:
    assert -1.0 <= score_text(text) <= 1.0


@given(st.lists(st.floats(min_value=-1, max_value=1), max_size=12))
def test_state_and_trend_are_always_valid_labels(scores: list[float]) -> None:
    assert current_state(scores) in ("calm", "neutral", "concerned", "frustrated", "angry")
    assert trend(scores) in ("improving", "stable", "deteriorating")
