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


# --- trend on small synthetic trajectories ---------------------------------------------------------


@pytest.mark.parametrize(
    "scores",
    [
        [-0.7, -0.8, 0.7],  # anger, an apology and a fix, "oh great, thank you!"
        [-0.6, 0.5],  # two turns: upset, then relieved
        [-0.9, 0.0, -0.8, 0.0, 0.6],  # order numbers and "ok" between do not hide the recovery
        [-1.0, 0.25],  # grudging thanks after a scam accusation is still better
    ],
)
def test_recoveries_are_improving(scores: list[float]) -> None:
    assert trend(scores) == "improving"


@pytest.mark.parametrize(
    "scores",
    [
        [-0.1, -0.2, -0.3, -0.4, -0.5],  # slow souring, a little worse every turn
        [0.0, -0.25, 0.0, -0.3, -0.45, -0.6],  # with quiet turns between
        [0.0, 0.7, -0.3, -0.6],  # a fix that did not hold
        [0.0, -0.6],  # calm opening, then an outburst: the opening is the baseline
        [0.0, 0.0, -0.5],  # even when the turn between only gave an order number
        [0.3, 0.3, 0.3, -0.6],  # content, then a sharp turn for the worse
    ],
)
def test_souring_is_deteriorating(scores: list[float]) -> None:
    assert trend(scores) == "deteriorating"


@pytest.mark.parametrize(
    "scores",
    [
        [-0.5, -0.5, 0.4, -0.5, -0.5],  # one polite turn inside an angry run
        [0.4, 0.4, -0.5, 0.4, 0.4],  # one grumble inside a calm run
        [-0.4, 0.5, -0.4],  # a thank-you and straight back
        [0.3, 0.3, -0.4, 0.3],  # a dip that comes back
        [-0.5, 0.3, -0.5, 0.3],  # see-saw
        [-0.8, 0.0, 0.0, 0.0],  # "ok", "fine", an email address: nothing to read a direction from
        [-0.8, 0.1, -0.05, 0.15],  # near-zero turns are as quiet as zero ones
        [0.0, 0.0, 0.0],
        [-0.6, -0.55, -0.65, -0.6],  # steadily frustrated
        [0.9, 0.4],  # delighted to pleased is not deteriorating
        [-0.95, -0.6],  # furious to angry is not improving
        [-0.9, -0.9, -0.9, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4],  # the recovery is older than the window
        [-0.5],
        [],
    ],
)
def test_runs_dips_and_quiet_turns_are_stable(scores: list[float]) -> None:
    assert trend(scores) == "stable"


def test_trend_follows_a_conversation_turn_by_turn() -> None:
    replies = [
        ("", "My flight was cancelled and I need to be in Berlin today."),
        (
            "I'm sorry. The next available flight is tomorrow at 18:40.",
            "Great, just great. I'll miss the wedding.",
        ),
        ("I can book you on a train tonight instead, at no cost.", "Oh, thank you! That would be wonderful."),
    ]
    scores = [score_text(text, reply_to=bot) for bot, text in replies]
    assert trend(scores[:2]) == "deteriorating"
    assert trend(scores) == "improving"
    assert current_state(scores) == "calm"


# --- the phenomena behind the trend ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Great, just great.",
        "Oh wonderful, now it won't even turn on.",
        "Perfect. Another week without internet.",
        "Oh perfect, 3 to 5 days without clothes. Just what I needed.",
        "Thanks for nothing.",
        "Yeah right, like that's going to happen.",
        "Genial, lo que me faltaba.",
        "Perfecto, simplemente perfecto.",
        "Gracias por nada.",
        'Thanks so much for your "help".',
        "I love how nobody ever calls back.",
        "Fenomenal, otra semana sin agua.",
    ],
)
def test_sarcasm_reads_negative(text: str) -> None:
    assert score_text(text) <= -0.35


@pytest.mark.parametrize(
    "text",
    [
        "Oh great, thank you!",
        "Great, now it works!",
        "Nice, now I can finally log in!",
        "Just what I needed, thanks!",
        "¡Genial, gracias!",
    ],
)
def test_meant_praise_is_not_sarcasm(text: str) -> None:
    assert score_text(text) >= 0.3


def test_praise_right_after_bad_news_is_sarcasm() -> None:
    bad = "Unfortunately it can only be changed at the airport, where it costs £70."
    remedy = "I've changed it for free and emailed you the new ticket."
    assert score_text("Thanks a lot. Really helpful.", reply_to=bad) <= -0.35
    assert score_text("Thanks a lot. Really helpful.", reply_to=remedy) >= 0.3
    # Plain thanks after bad news is manners, not a recovery and not sarcasm.
    assert score_text("Ok, thanks.", reply_to=bad) == 0.0
    assert score_text("Perfect, thank you.", reply_to=bad) > 0


def test_a_short_thanks_is_read_by_what_it_answers() -> None:
    assert score_text("ok thank you", reply_to="I've refunded $32.40 to your card.") >= 0.2
    assert abs(score_text("thanks", reply_to="What's the order number?")) < 0.2
    assert abs(score_text("Gracias")) < 0.2
    for ack in ("ok", "fine", "no", "Vale.", "Bueno, vale", "ok ok"):
        assert score_text(ack) == 0.0


def test_shouted_thanks_stays_positive_and_shouted_anger_gets_worse() -> None:
    assert score_text("THANK YOU SO MUCH!! That was quick!!") >= 0.5
    assert score_text("I NEED THIS FIXED TODAY") < 0
    assert score_text("¡¡MI PEDIDO LLEGÓ FRÍO OTRA VEZ!!") < score_text("Mi pedido llegó frío otra vez.") < 0


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Estoy muy contento con la solución.", 1),
        ("Sin problema, gracias.", 1),
        ("No está mal.", 1),
        ("Ya funciona, por fin.", 1),
        ("No estoy contento.", -1),
        ("Muy mal servicio.", -1),
        ("Uf, qué rollo.", -1),
        ("Sigo esperando y nadie me dice nada.", -1),
        ("Lo siento pero no me sirve.", -1),
    ],
)
def test_spanish_lexicon_negation_and_boosters(text: str, sign: int) -> None:
    assert sign * score_text(text, locale="es") >= 0.2


def test_a_detailed_problem_description_is_concern_not_anger() -> None:
    description = score_text("I can't log in, the 2FA code never arrives on my phone.")
    assert -0.45 <= description <= -0.12
    assert score_text("Then let me talk to a real person. This is a waste of time.") < description


@given(st.text(max_size=300), st.text(max_size=200))
def test_scores_stay_in_range_for_any_text(text: str, reply_to: str) -> None:
    assert -1.0 <= score_text(text) <= 1.0
    assert -1.0 <= score_text(text, reply_to=reply_to, locale="es") <= 1.0


@given(st.lists(st.floats(min_value=-1, max_value=1), max_size=12))
def test_state_and_trend_are_always_valid_labels(scores: list[float]) -> None:
    assert current_state(scores) in ("calm", "neutral", "concerned", "frustrated", "angry")
    assert trend(scores) in ("improving", "stable", "deteriorating")
