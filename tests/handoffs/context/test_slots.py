"""Slot extraction: what counts as a detail the customer gave, and what only looks like one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoffs.context.slots import asked_slots, extract, normalise


def _found(text: str, role: str = "customer", asked: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(s.slot, s.value) for s in extract(text, role=role, asked=asked)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My order number is #KX-48213", ("order_number", "KX-48213")),
        ("it's about order 7730155", ("order_number", "7730155")),
        ("Order 55102-B arrived broken", ("order_number", "55102-B")),
        ("Pedido 4410923, por favor", ("order_number", "4410923")),
        ("booking reference QX7T2M", ("order_number", "QX7T2M")),
        ("write to me at dana.reyes@example.com", ("email", "dana.reyes@example.com")),
        ("call me on +1 (415) 555-0134", ("phone", "+1 (415) 555-0134")),
        ("my number is 020 7946 0958", ("phone", "020 7946 0958")),
        ("it's (415) 555-0134", ("phone", "(415) 555-0134")),
        ("mi móvil es +34 612 345 678", ("phone", "+34 612 345 678")),
        ("UPS says 1Z999AA10123456784", ("tracking_number", "1Z999AA10123456784")),
        ("tracking number 9400111899223197428490", ("tracking_number", "9400111899223197428490")),
        ("Account ID is ACC-99812", ("account_id", "ACC-99812")),
        ("claim CLM-88410 is open", ("account_id", "CLM-88410")),
        ("ticket TKT-20419 was closed", ("request_id", "TKT-20419")),
        ("I was charged $4.50", ("amount", "$4.50")),
        ("they took 45 EUR", ("amount", "45 EUR")),
        ("a €30 fee", ("amount", "€30")),
        ("about 30 euros", ("amount", "30 euros")),
        ("it shipped on 2026-11-03", ("date", "2026-11-03")),
        ("since March 3 nothing", ("date", "March 3")),
        ("it broke yesterday", ("date", "yesterday")),
        ("delivered on 3/11", ("date", "3/11")),
        ("My name is Dana Reyes", ("name", "Dana Reyes")),
        ("Hi, this is Dana", ("name", "Dana")),
        ("me llamo Lucía Gómez", ("name", "Lucía Gómez")),
        (
            "send it to 42 Elm Street, Springfield IL 62704",
            ("address", "42 Elm Street, Springfield IL 62704"),
        ),
        ("vivo en Calle Mayor 12, Madrid", ("address", "Calle Mayor 12, Madrid")),
        ("I bought an iPhone 15 Pro last week", ("product", "iPhone 15 Pro")),
        ("we are on the Premium plan", ("product", "Premium plan")),
    ],
)
def test_customer_slots_in_many_shapes(text: str, expected: tuple[str, str]) -> None:
    assert expected in _found(text)


@pytest.mark.parametrize(
    "text",
    [
        "We open at 10:30 and close at 17:00.",
        "I ordered 2 pizzas and 3 drinks.",
        "I rate it 4 out of 5",
        "I've tried three times today",
        "THIS IS RIDICULOUS",
        "I'm Frustrated with this",
    ],
)
def test_things_that_only_look_like_slots(text: str) -> None:
    assert _found(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my mobile is 07700 900123", ("phone", "07700 900123")),
        ("I'm on +44 20 7946 0958 until six", ("phone", "+44 20 7946 0958")),
        ("call me at 300 441 982 after lunch", ("phone", "300 441 982")),
        ("mi número es 612 34 56 78", ("phone", "612 34 56 78")),
        ("llámeme al 91 234 56 78 por la tarde", ("phone", "91 234 56 78")),
        ("You can text 415 555 0134 anytime", ("phone", "415 555 0134")),
        ("desde el extranjero: 0034 612 345 678", ("phone", "0034 612 345 678")),
        ("my cell is (415) 555-0134, thanks", ("phone", "(415) 555-0134")),
        ("06 12 34 56 78 is my portable", ("phone", "06 12 34 56 78")),
        # The phone word heads the phrase; the account only says which number.
        ("The phone number on my account is 07700 900123", ("phone", "07700 900123")),
        ("el móvil asociado a la cuenta es 612 345 678", ("phone", "612 345 678")),
        # Numeric dates with slashes, dots or dashes, and a year.
        ("my date of birth is 12/04/1979", ("date", "12/04/1979")),
        ("born 12.04.1979", ("date", "12.04.1979")),
        ("nací el 03-11-1985", ("date", "03-11-1985")),
        ("the charge on 5/9/26 isn't mine", ("date", "5/9/26")),
        # Spaced identifiers still belong to their keyword.
        ("my account number's 5521 0098 7731", ("account_id", "5521 0098 7731")),
        ("mi número de cliente es el 4410 0098 2231", ("account_id", "4410 0098 2231")),
    ],
)
def test_spaced_and_slashed_numbers(text: str, expected: tuple[str, str]) -> None:
    assert _found(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "The shop is open 9 30 to 17 30",
        "I paid 612 345 678 € for it?",
        "it was 4/5 stars",
        "between 10.30 and 12.15 please",
        "account 5521 0098 7731",  # one id, not an id and a phone
        "Order 300 441 982 never came",
    ],
)
def test_spaced_numbers_that_are_not_phones(text: str) -> None:
    assert all(slot != "phone" for slot, _ in _found(text))


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        ("What's the best number to reach you on?", "300 441 982", ("phone", "300 441 982")),
        ("¿Me da un teléfono de contacto?", "Sí, el 612345678", ("phone", "612345678")),
        ("Could I get a contact number for the courier?", "07700 900123 please", ("phone", "07700 900123")),
        ("What's the account number on your bill?", "5521 0098 7731", ("account_id", "5521 0098 7731")),
        ("Can you give me the order number?", "It's 300 441 982", ("order_number", "300 441 982")),
    ],
)
def test_spaced_answers_to_the_bots_question(question: str, answer: str, expected: tuple[str, str]) -> None:
    assert _found(answer, asked=asked_slots(question)) == [expected]


def test_dates_are_not_phone_numbers() -> None:
    assert _found("it was due 2026-11-03 and 2026-11-10") == [("date", "2026-11-03"), ("date", "2026-11-10")]


def test_bot_confirms_identifiers_but_not_policy() -> None:
    bot = "Thanks, I see order FD-20931. Delivery costs $4.99, support opens at 10:30, and your plan allows 2 activations."
    assert _found(bot, role="bot") == [("order_number", "FD-20931")]


def test_bot_questions_do_not_provide_slots() -> None:
    assert _found("Is your order number something like AB-12345?", role="bot") == []


def test_short_answer_to_the_bots_question() -> None:
    asked = asked_slots("Sorry about that! What's the order number?")
    assert asked == ("order_number",)
    assert _found("It's #FD-20931", asked=asked) == [("order_number", "FD-20931")]
    assert _found("A1B2C3D", asked=asked_slots("Could you share your booking reference?")) == [
        ("order_number", "A1B2C3D")
    ]


def test_name_given_as_an_answer() -> None:
    assert _found("Dana Reyes", asked=asked_slots("May I have your full name?")) == [("name", "Dana Reyes")]


def test_agent_and_system_roles_give_nothing_from_extract() -> None:
    assert extract("order 1234567", role="system") == []


def test_normalised_forms_match_across_spellings() -> None:
    assert normalise("order_number", "#FD-20931") == normalise("order_number", "fd 20931")
    assert normalise("phone", "+1 (415) 555-0134") == normalise("phone", "415.555.0134")
    assert normalise("email", "Dana@Example.com") == normalise("email", "dana@example.com")


@given(st.text(max_size=300), st.sampled_from(["customer", "bot"]))
def test_extraction_never_fails_and_values_come_from_the_text(text: str, role: str) -> None:
    for slot in extract(text, role=role, asked=("order_number", "name")):
        assert slot.value in text
