"""The draft check (spec ``draft-check``): repeat questions and contradicted commitments, English and Spanish.

Two hand-written packages (one English, one Spanish) as the context engines would leave them, and a
table of drafts per kind: positives in many phrasings and the negatives that share their words.
"""

from __future__ import annotations

import copy
import json
import statistics
import time

import pytest

from handoffs.assist.draft_check import check_draft
from handoffs.services.drafts import draft_check
from tests.handoffs.context.replaying import SHARED_FIXTURES, replay

MONDAY = "2026-11-23T10:{:02d}:00Z"  # the conversations happen on a Monday morning

EN = {
    "information_provided": [
        {"slot": "product", "value": "Nike Air Zoom Pegasus 40", "seq": 1},
        {"slot": "date", "value": "March 3", "seq": 1},
        {"slot": "amount", "value": "$129.99", "seq": 1},
        {"slot": "order_number", "value": "KX-48213", "seq": 1},
        {"slot": "name", "value": "Dana Reyes", "seq": 1},
        {"slot": "email", "value": "dana@example.com", "seq": 3},
        {"slot": "tracking_number", "value": "1Z999AA10123456784", "seq": 5},
        {"slot": "phone", "value": "+1 (415) 555-0134", "seq": 5},
        {"slot": "address", "value": "42 Elm Street, Springfield, IL 62704", "seq": 7},
    ],
    "commitments": [
        {
            "text": "I've processed a refund of $129.99; it will reach your card within 3 business days.",
            "kind": "refund",
            "due": "2026-11-26",
            "seq": 2,
            "source": "detected",
            "status": "open",
            "amount": "129.99",
            "currency": "USD",
        },
        {
            "text": "A supervisor will call you by Friday.",
            "kind": "callback",
            "due": "2026-11-27",
            "seq": 4,
            "source": "detected",
            "status": "open",
        },
        {
            "text": "I'll email you the return label within 2 hours.",
            "kind": "follow_up",
            "due": "2026-11-23T12:06:00Z",
            "seq": 6,
            "source": "detected",
            "status": "open",
        },
        {
            "text": "I've added a $10 credit to your account for the delay.",
            "kind": "credit",
            "due": None,
            "seq": 6,
            "source": "detected",
            "status": "kept",
            "amount": "10",
            "currency": "USD",
        },
    ],
    "transcript": [
        {
            "seq": 1,
            "role": "customer",
            "text": "I'm Dana Reyes. I ordered Nike Air Zoom Pegasus 40 on March 3 and paid $129.99, order #KX-48213.",
        },
        {
            "seq": 2,
            "role": "bot",
            "text": "I've processed a refund of $129.99; it will reach your card within 3 business days.",
        },
        {"seq": 3, "role": "customer", "text": "Send the confirmation to dana@example.com"},
        {"seq": 4, "role": "bot", "text": "A supervisor will call you by Friday."},
        {
            "seq": 5,
            "role": "customer",
            "text": "The return tracking is 1Z999AA10123456784. Call me on +1 (415) 555-0134.",
        },
        {
            "seq": 6,
            "role": "bot",
            "text": "I'll email you the return label within 2 hours. I've added a $10 credit.",
        },
        {"seq": 7, "role": "customer", "text": "My address is 42 Elm Street, Springfield, IL 62704."},
    ],
}
for _i, _turn in enumerate(EN["transcript"]):
    _turn["at"] = MONDAY.format(_i + 1)

ES = {
    "information_provided": [
        {"slot": "amount", "value": "45 €", "seq": 1},
        {"slot": "account_id", "value": "4471920", "seq": 1},
        {"slot": "order_number", "value": "4410923", "seq": 1},
        {"slot": "email", "value": "lucia.gomez@correo.es", "seq": 3},
        {"slot": "phone", "value": "612 34 56 78", "seq": 3},
        {"slot": "address", "value": "Calle Alcalá 123, 3º B, Madrid", "seq": 5},
    ],
    "commitments": [
        {
            "text": "Le devolveremos los 45 € de la comisión en 2 días hábiles y le llamaremos mañana para confirmarlo.",
            "kind": "callback",
            "due": "2026-11-25",
            "seq": 4,
            "source": "detected",
            "status": "open",
            "amount": "45",
            "currency": "EUR",
        },
        {
            "text": "Le aplicaremos un descuento del 20 % en la próxima factura.",
            "kind": "credit",
            "due": None,
            "seq": 6,
            "source": "detected",
            "status": "open",
        },
    ],
    "transcript": [
        {
            "seq": 1,
            "role": "customer",
            "text": "Me han cobrado una comisión de 45 € en el pedido 4410923. Mi número de cliente es 4471920.",
        },
        {"seq": 2, "role": "bot", "text": "¿Me confirma su correo y su teléfono?"},
        {"seq": 3, "role": "customer", "text": "lucia.gomez@correo.es, 612 34 56 78"},
        {
            "seq": 4,
            "role": "bot",
            "text": "Le devolveremos los 45 € de la comisión en 2 días hábiles y le llamaremos mañana para confirmarlo.",
        },
        {"seq": 5, "role": "customer", "text": "Vivo en Calle Alcalá 123, 3º B, Madrid."},
        {"seq": 6, "role": "bot", "text": "Le aplicaremos un descuento del 20 % en la próxima factura."},
    ],
}
for _i, _turn in enumerate(ES["transcript"]):
    _turn["at"] = MONDAY.format(_i + 1)


def kinds_and_keys(package: dict, text: str) -> set[tuple[str, object]]:
    """(kind, slot) for repeat questions, (kind, commitment seq) for contradictions."""
    found = set()
    for warning in check_draft(package=package, text=text):
        evidence = warning["evidence"]
        key = evidence["slot"] if warning["kind"] == "repeat_question" else evidence["seq"]
        found.add((warning["kind"], key))
    return found


# --- repeat questions ------------------------------------------------------------------------------

REPEATS_EN = [
    ("Can you confirm your email?", "email"),
    ("what's the order number?", "order_number"),
    ("could you send me your tracking number", "tracking_number"),
    ("please provide your phone", "phone"),
    ("May I have your address?", "address"),
    ("What is your e-mail address?", "email"),
    ("Please type your order ID below.", "order_number"),
    ("Can you share the order # with me?", "order_number"),
    ("Would you mind sharing your mobile number?", "phone"),
    ("Let me know your postcode and I'll check the depot.", "address"),
    ("What's the best number to reach you?", "phone"),
    ("I'll need your full name to continue.", "name"),
    ("Who am I speaking with?", "name"),
    ("Could you spell your email for me?", "email"),
    ("Order number?", "order_number"),
    ("Thanks! And your phone number, please?", "phone"),
    ("Can I get your tracking code?", "tracking_number"),
    ("Do you still have the order confirmation number?", "order_number"),
    ("What did you order?", "product"),
    ("How much were you charged?", "amount"),
    ("When did you place the order?", "date"),
    ("Sorry to ask, but what email did you use for the purchase?", "email"),
    ("To verify your identity, please confirm your registered email address.", "email"),
    ("Could you give me the order number and the tracking number?", "order_number"),
    ("Hi Dana, which order is this about?", "order_number"),
    ("Where should we ship the replacement?", "address"),
    ("Can you re-send the tracking number?", "tracking_number"),
    ("What's your zip code?", "address"),
    ("Just to double check, what's the email on file?", "email"),
    ("Could you please re-confirm your delivery address for me?", "address"),
    ("Can you pop your order number in here?", "order_number"),
    ("Mind giving me that order number again?", "order_number"),
    ("What was the tracking number again?", "tracking_number"),
    ("Would you be able to provide your phone number?", "phone"),
    ("I just need your email address to pull up the account.", "email"),
    ("First, can I grab your order number?", "order_number"),
    ("Can you confirm which email address you used?", "email"),
    ("What's the address you want it delivered to?", "address"),
    ("Could you let me know the order number?", "order_number"),
    ("Please share the tracking ID.", "tracking_number"),
    ("What number can we reach you on?", "phone"),
    ("Can I ask for your phone number?", "phone"),
    ("Have you got the order number to hand?", "order_number"),
    ("Could you provide the email associated with your account?", "email"),
    ("Can you verify the phone number on the account?", "phone"),
    ("What's the name on the account?", "name"),
    ("Please confirm the shipping address.", "address"),
    ("And the order number was?", "order_number"),
    ("Could you spell out your email?", "email"),
    ("Send over your tracking number and I'll chase the courier.", "tracking_number"),
    ("Kindly provide your order reference.", "order_number"),
    ("Can you DM me your phone number?", "phone"),
    ("I'd like to confirm your email address.", "email"),
    ("Could I trouble you for your order number?", "order_number"),
    ("What was the amount you were charged?", "amount"),
    ("Please confirm your address and I'll book the pickup.", "address"),
    ("I'll need you to confirm your email.", "email"),
    ("I just need to verify your email address.", "email"),
]

REPEATS_ES = [
    ("¿Me puede dar su número de pedido?", "order_number"),
    ("¿Cuál es su correo?", "email"),
    ("Confirme su dirección.", "address"),
    ("¿Me indica su teléfono, por favor?", "phone"),
    ("Necesito el número de pedido para continuar.", "order_number"),
    ("¿Podría facilitarme su correo electrónico?", "email"),
    ("Dígame su número de móvil.", "phone"),
    ("¿Tiene a mano el número de pedido?", "order_number"),
    ("Perfecto. ¿Y su dirección de envío?", "address"),
    ("¿Me repite su número de cliente?", "account_id"),
    ("Por favor, escríbame su email.", "email"),
    ("¿Cuánto le cobraron?", "amount"),
    ("¿Me pasa su dirección de correo electrónico?", "email"),
    ("¿Cuál es el número de su pedido?", "order_number"),
    ("¿Cuál es tu número de teléfono?", "phone"),
    ("Indíqueme el número de pedido, por favor.", "order_number"),
    ("¿Sería tan amable de confirmarme su dirección?", "address"),
    ("Para verificar su identidad, ¿me da su correo electrónico?", "email"),
    ("¿Su número de pedido, por favor?", "order_number"),
    ("Necesitaría que me confirme su teléfono.", "phone"),
    ("¿A qué correo le enviamos la factura?", "email"),
    ("¿Podría decirme cuál es su dirección?", "address"),
    ("Compártame su email, por favor.", "email"),
    ("¿Me vuelve a dar el número de pedido?", "order_number"),
]

NOT_REPEATS_EN = [
    "I see your order KX-48213.",
    "What's the best time to call you?",
    "Is dana@example.com still the best email?",
    "Can you check your email for the return label?",
    "What's your account number?",
    "I'll send the label to your email.",
    "We've updated the address on the order.",
    "Do you have another phone number we could try?",
    "Which size would you like for the replacement?",
    "What company name should be on the invoice?",
    "Did the courier leave a tracking card?",
    "Could you send me a photo of the box?",
    "What day works best for the pickup?",
    "Let me check the tracking number on my side.",
    "Thanks, I have your phone number as +1 (415) 555-0134.",
    "When would you like us to call?",
    "How much would a replacement cost?",
    "Please keep your order number handy in case you need it.",
    "Is the phone ending in 0134 still the best one?",
    "When did the courier last scan the parcel?",
    "Could you tell me what went wrong with the shoes?",
    "Your tracking number is 1Z999AA10123456784, and the parcel is at the depot.",
    "Did you get our email?",
    "Which email should the receipt go to: dana@example.com?",
    "Thanks for confirming your email.",
    "I've sent the code to your phone.",
    "Your tracking number shows the parcel in Madrid.",
    "We'll deliver to the address you gave us.",
    "I've noted your phone number.",
    "Could you confirm whether the package arrived?",
    "Can you confirm the order arrived damaged?",
    "Please confirm you received the email.",
    "Do you have a photo of the damage?",
    "Could you check the tracking link I sent?",
    "Is there anything else about your order?",
    "Which model would you like as a replacement?",
    "Is there another email we can use?",
    "I'll just confirm your address with the courier.",
    "We will also send your tracking number by email.",
    "Let me just verify your email on our side.",
    "I can then share your order number with the warehouse.",
    "I'll check and confirm your address with the depot.",
    "I'm going to pass your phone number to the supervisor.",
]

NOT_REPEATS_ES = [
    "Le enviaremos la etiqueta a su correo.",
    "¿A qué hora prefiere que le llamemos?",
    "Ya tengo su pedido 4410923 delante.",
    "¿Tiene otro teléfono de contacto?",
    "¿Qué talla necesita?",
    "Revise su correo, por favor.",
    "¿Le llegó nuestro correo?",
    "¿Me confirma que su correo es lucia.gomez@correo.es?",
    "¿Cuál es su fecha de nacimiento?",  # never given
    "¿Qué día le viene bien para la visita?",
    "Le confirmo su dirección por correo.",
    "Voy a pasar su teléfono al gestor.",
    "Le enviaré el número de seguimiento por correo.",
]


@pytest.mark.parametrize(("text", "slot"), REPEATS_EN + REPEATS_ES, ids=lambda v: str(v)[:40])
def test_asking_again_for_a_given_detail_warns(text: str, slot: str) -> None:
    package = ES if any(text == t for t, _ in REPEATS_ES) else EN
    assert ("repeat_question", slot) in kinds_and_keys(package, text)


@pytest.mark.parametrize("text", NOT_REPEATS_EN, ids=lambda v: v[:40])
def test_english_drafts_that_ask_nothing_already_given(text: str) -> None:
    assert {k for k in kinds_and_keys(EN, text) if k[0] == "repeat_question"} == set()


@pytest.mark.parametrize("text", NOT_REPEATS_ES, ids=lambda v: v[:40])
def test_spanish_drafts_that_ask_nothing_already_given(text: str) -> None:
    assert {k for k in kinds_and_keys(ES, text) if k[0] == "repeat_question"} == set()


def test_the_evidence_is_the_earlier_value_with_its_turn() -> None:
    [warning] = check_draft(package=EN, text="Can you confirm your email?")
    assert warning["kind"] == "repeat_question"
    assert warning["evidence"] == {"slot": "email", "value": "dana@example.com", "seq": 3}
    assert "dana@example.com" in warning["message"] and "turn 3" in warning["message"]


def test_two_details_asked_in_one_sentence_give_two_warnings() -> None:
    found = kinds_and_keys(EN, "What's your order number and the email you used?")
    assert found == {("repeat_question", "order_number"), ("repeat_question", "email")}


def test_a_detail_asked_twice_warns_once() -> None:
    text = "Can you confirm your email? I mean the email address on the order."
    assert len(check_draft(package=EN, text=text)) == 1


def test_a_date_of_birth_is_only_asked_again_when_the_customer_gave_it() -> None:
    package = copy.deepcopy(EN)
    package["information_provided"].append({"slot": "date", "value": "12/04/1979", "seq": 8})
    package["transcript"].append({"seq": 8, "role": "customer", "text": "My date of birth is 12/04/1979."})
    [warning] = check_draft(package=package, text="For security, what's your date of birth?")
    assert warning["evidence"]["value"] == "12/04/1979"
    assert check_draft(package=EN, text="For security, what's your date of birth?") == []


def test_a_claim_number_is_not_a_policy_number() -> None:
    package = {
        "information_provided": [{"slot": "account_id", "value": "CLM-88410", "seq": 1}],
        "commitments": [],
        "transcript": [{"seq": 1, "role": "customer", "text": "claim CLM-88410", "at": MONDAY.format(1)}],
    }
    assert kinds_and_keys(package, "What's your claim number?") == {("repeat_question", "account_id")}
    assert kinds_and_keys(package, "What's your policy number?") == set()


def test_a_postcode_is_only_a_repeat_when_the_address_held_one() -> None:
    package = copy.deepcopy(EN)
    package["information_provided"][-1]["value"] = "42 Elm Street"
    assert kinds_and_keys(package, "What's your postcode?") == set()


# --- contradicted commitments ------------------------------------------------------------------------

REFUND, CALLBACK, LABEL = 2, 4, 6  # seq of EN's open commitments
ES_REFUND_CALL, ES_DISCOUNT = 4, 6

CONTRADICTIONS_EN = [
    ("Your refund will take up to 10 business days.", REFUND),
    ("We can't refund this order.", REFUND),
    ("The refund is only possible if you return the item.", REFUND),
    ("We can refund $50.", REFUND),
    ("No refund is possible for worn shoes.", REFUND),
    ("Refunds are processed within 14 days.", REFUND),
    ("The supervisor won't be able to call you until next week.", CALLBACK),
    ("We don't do phone calls, sorry.", CALLBACK),
    ("A supervisor will call you a week from Monday, on December 7.", CALLBACK),
    ("I'll email the label tomorrow.", LABEL),
    ("The refund has been reversed.", REFUND),
    ("Before we can refund you, we need the shoes back.", REFUND),
    ("You'll need to send the shoes back first, and then the refund goes through.", REFUND),
    ("The refund will arrive in 3 weeks.", REFUND),
    ("I'm afraid you're not eligible for a refund on sale items.", REFUND),
    ("Your refund needs a manager's approval first.", REFUND),
    ("Unfortunately I'm unable to issue that refund.", REFUND),
    ("I can only refund $99.99 because the box was damaged.", REFUND),
    ("Refunds take 5 to 7 working days.", REFUND),
    ("You should see the money back in about two weeks.", REFUND),
    ("The refund will only be issued after we inspect the shoes.", REFUND),
    ("Once you return the shoes, we'll process the refund.", REFUND),
    ("Unfortunately the supervisor is off this week, so they'll call you on Monday.", CALLBACK),
    ("The refund was declined by the bank.", REFUND),
    ("I can offer you $80 back.", REFUND),
    ("We can't give you a refund until the shoes are back with us.", REFUND),
    ("Your refund is subject to inspection.", REFUND),
    ("I'm sorry, a refund isn't possible.", REFUND),
    ("Refunds aren't available for this item.", REFUND),
    ("The refund is confirmed; the supervisor can't call you this week, though.", CALLBACK),
    ("Our returns policy says refunds can take up to 30 days, but yours is already processed.", REFUND),
]

CONTRADICTIONS_ES = [
    ("No podemos devolverle la comisión.", ES_REFUND_CALL),
    ("El reembolso tardará hasta 10 días hábiles.", ES_REFUND_CALL),
    ("Le devolveremos 30 € de la comisión.", ES_REFUND_CALL),
    ("No le podremos llamar hasta el viernes.", ES_REFUND_CALL),
    ("El descuento será solo del 10 %.", ES_DISCOUNT),
    ("Solo podemos aplicar el descuento si contrata el plan anual.", ES_DISCOUNT),
    ("La devolución de la comisión ha sido rechazada.", ES_REFUND_CALL),
    ("Le llamaremos la semana que viene.", ES_REFUND_CALL),
    ("Lamentablemente no es posible aplicar el descuento.", ES_DISCOUNT),
    ("El reembolso no se podrá hacer hasta que nos devuelva el producto.", ES_REFUND_CALL),
    ("Tendrá que esperar 15 días para el reembolso.", ES_REFUND_CALL),
    ("Le devolvemos solo 20 €.", ES_REFUND_CALL),
    ("No es posible llamarle mañana.", ES_REFUND_CALL),
    ("La llamada de mañana se cancela, le escribiremos por correo.", ES_REFUND_CALL),
]

NOT_CONTRADICTIONS_EN = [
    "I've processed your $129.99 refund.",
    "Your refund will arrive within 3 business days as promised.",
    "Your refund should reach your card by Thursday.",
    "A supervisor will call you by Friday.",
    "Don't worry, the refund is on its way.",
    "If you don't see the refund by Thursday, let me know.",
    "I've also added a further $15 credit for the trouble.",
    "We can't change the delivery address now, but your refund is on its way.",
    "You don't need to return anything; the refund goes through regardless.",
    "The supervisor will call you today.",
    "I'll email the label within the hour.",
    "Can we move the call to Monday?",
    "Your replacement pair will ship in 5 days.",
    "I can't see the refund on our side yet, so I'm checking with finance.",
    "We won't forget your refund; it's already processed.",
    "Good news: the $129.99 refund was approved and it is on its way to your card.",
    "You can call us any time if you have questions.",
    "The label is in your inbox now.",
    "Your refund of $129.99 is being processed and will be with you by Thursday.",
    "As promised, the supervisor will call you before Friday.",
    "I can't wait to get this sorted for you; your refund is confirmed.",
    "I won't keep you waiting: the refund is done.",
    "Don't hesitate to contact us if the refund doesn't arrive.",
    "You won't need to do anything else for the refund.",
    "There's no need to send the shoes back for the refund.",
    "Your refund of $129.99 will be credited to your card in 2-3 business days.",
    "The supervisor will call you by Friday, and the refund will reach your card within 3 business days.",
    "I'll email you the label now, and the replacement pair ships in 5 days.",
    "Your new card will arrive in 7-10 days.",
    "The return label will be in your inbox in 30 minutes.",
    "We've refunded the $129.99, and your $10 credit stays.",
    "Your refund of $129.99 includes the $5.99 shipping.",
    "Your refund was processed on November 20.",
    "The refund was issued last week and should arrive any day now.",
    "Sorry for the wait. I'm escalating this to the warehouse team today.",
    "We can't ship to PO boxes, so the replacement will go to your home address.",
    "I understand you're frustrated; we can't undo the late delivery, but the refund is on its way.",
]

NOT_CONTRADICTIONS_ES = [
    "Le devolveremos los 45 € en 2 días hábiles, como le dijimos.",
    "Ya le hemos abonado los 45 €.",
    "No se preocupe, le llamaremos mañana.",
    "Le llamaremos mañana por la mañana.",
    "El descuento del 20 % ya está aplicado.",
    "No hace falta que envíe nada, el reembolso está en marcha.",
    "Le enviamos también un cupón adicional de 5 €.",
    "No podemos cambiar la dirección de entrega, pero el reembolso sigue en marcha.",
    "No dude en escribirnos si no recibe el reembolso.",
    "Le llamaremos mañana sin falta.",
    "Le llamaremos mañana y el reembolso llegará en 2 días hábiles.",
    "Le enviaremos la factura corregida en 10 días.",
    "Le hemos aplicado un descuento del 20 % y un abono de 10 €.",
    "Lo siento, el envío va con retraso, pero no se preocupe por el reembolso.",
    "No podemos cambiar la fecha de la factura.",
]


@pytest.mark.parametrize(("text", "seq"), CONTRADICTIONS_EN + CONTRADICTIONS_ES, ids=lambda v: str(v)[:40])
def test_conflicting_with_an_open_commitment_warns(text: str, seq: int) -> None:
    package = ES if any(text == t for t, _ in CONTRADICTIONS_ES) else EN
    assert ("contradicts_commitment", seq) in kinds_and_keys(package, text)


@pytest.mark.parametrize("text", NOT_CONTRADICTIONS_EN, ids=lambda v: v[:40])
def test_english_drafts_that_keep_or_restate_promises(text: str) -> None:
    assert {k for k in kinds_and_keys(EN, text) if k[0] == "contradicts_commitment"} == set()


@pytest.mark.parametrize("text", NOT_CONTRADICTIONS_ES, ids=lambda v: v[:40])
def test_spanish_drafts_that_keep_or_restate_promises(text: str) -> None:
    assert {k for k in kinds_and_keys(ES, text) if k[0] == "contradicts_commitment"} == set()


def test_the_evidence_is_the_commitment() -> None:
    [warning] = check_draft(package=EN, text="We can only refund $50.")
    assert warning["kind"] == "contradicts_commitment"
    assert warning["evidence"] == {
        "text": EN["commitments"][0]["text"],
        "kind": "refund",
        "due": "2026-11-26",
        "seq": 2,
    }
    assert "$50" in warning["message"] and "$129.99" in warning["message"]


def test_kept_and_broken_commitments_are_not_held_against_a_draft() -> None:
    package = copy.deepcopy(EN)
    package["commitments"][0]["status"] = "kept"
    assert kinds_and_keys(package, "We can't refund this order.") == set()
    # The $10 credit in EN is already kept: refusing more credit contradicts nothing.
    assert kinds_and_keys(EN, "We can't offer any more credit.") == set()


def test_relative_times_are_read_from_when_the_draft_is_written() -> None:
    promise = "A supervisor will call you by Friday."
    # Written on Monday the 23rd, "by Friday" is the promised Friday the 27th; a week later it is not.
    assert kinds_and_keys(EN, promise) == set()
    later = check_draft(package=EN, text=promise, now="2026-11-28T09:00:00Z")
    assert [w["evidence"]["seq"] for w in later] == [CALLBACK]


def test_a_posted_commitment_with_only_fields_is_checked_too() -> None:
    package = {
        "information_provided": [],
        "commitments": [
            {
                "text": "Refund",
                "kind": "refund",
                "due": "2026-11-25",
                "seq": 3,
                "source": "event",
                "status": "open",
                "amount": "80.00",
                "currency": "EUR",
            }
        ],
        "transcript": [{"seq": 3, "role": "bot", "text": "…", "at": MONDAY.format(3)}],
    }
    assert kinds_and_keys(package, "We will refund €50 of it.") == {("contradicts_commitment", 3)}
    assert kinds_and_keys(package, "The €80 refund will be with you in 10 days.") == {
        ("contradicts_commitment", 3)
    }
    assert kinds_and_keys(package, "Your €80 refund is on its way.") == set()


def test_a_possessive_only_says_whose() -> None:
    package = copy.deepcopy(EN)
    package["commitments"] = [
        {"text": "We'll email you the technician's report by tomorrow.", "kind": "follow_up",
         "due": "2026-11-24", "seq": 6, "source": "detected", "status": "open"}
    ]  # fmt: skip
    assert kinds_and_keys(package, "The technician can come next week.") == set()
    assert kinds_and_keys(package, "The report will follow next week.") == {("contradicts_commitment", 6)}


def test_both_kinds_in_one_draft() -> None:
    found = kinds_and_keys(EN, "Could you confirm your email? Also, the refund will take 2 weeks.")
    assert found == {("repeat_question", "email"), ("contradicts_commitment", REFUND)}


# --- the engine as a whole -----------------------------------------------------------------------------


@pytest.mark.parametrize("package", [{}, {"information_provided": [], "commitments": []}, EN])
def test_empty_or_harmless_drafts_give_no_warnings(package: dict) -> None:
    assert check_draft(package=package, text="") == []
    assert check_draft(package=package, text="   ") == []
    assert check_draft(package=package, text="Hi, I'm Ada and I'll take it from here.") == []


def test_it_is_deterministic_and_does_not_touch_the_package() -> None:
    before = json.dumps(EN, sort_keys=True)
    text = "Can you confirm your email? We can refund $50 within 10 days."
    first = check_draft(package=EN, text=text)
    assert all(check_draft(package=EN, text=text) == first for _ in range(5))
    assert json.dumps(EN, sort_keys=True) == before


def test_the_service_uses_the_engine() -> None:
    warnings = draft_check(context=EN, text="What's the order number?")
    assert [w["kind"] for w in warnings] == ["repeat_question"]
    assert draft_check(context={}, text="What's the order number?") == []


_PROMISES = [
    ("I'll send you an update on {order} within 2 hours.", "follow_up"),
    ("We'll refund ${n}.00 for {order} within 5 business days.", "refund"),
    ("A specialist will call you about {order} tomorrow.", "callback"),
    ("I've added a ${n} credit for {order}.", "credit"),
    ("We'll ship a replacement for {order} by Friday.", "replacement"),
]


def _long_package(turns: int = 200) -> dict:
    """A 200-turn conversation: many details given and many promises made."""
    package = copy.deepcopy(EN)
    for seq in range(8, turns + 1):
        role = "customer" if seq % 2 else "bot"
        order = f"KX-{seq:05d}"
        text = f"Turn {seq}: still waiting on order {order}."
        if role == "customer" and seq % 10 == 1:
            package["information_provided"].append({"slot": "order_number", "value": order, "seq": seq})
        if role == "bot" and seq % 10 == 0:
            template, kind = _PROMISES[(seq // 10) % len(_PROMISES)]
            text = template.format(order=order, n=seq)
            package["commitments"].append(
                {"text": text, "kind": kind, "due": None, "seq": seq, "source": "detected", "status": "open"}
            )
        package["transcript"].append({"seq": seq, "role": role, "text": text, "at": MONDAY.format(seq % 60)})
    return package


def test_it_is_fast_enough_to_run_as_the_agent_types() -> None:
    package = _long_package()
    assert len(package["transcript"]) == 200 and len(package["commitments"]) > 20
    drafts = [
        "Hi Dana, could you confirm the order number and your email for me?",
        "I'm sorry, we can only refund $50, and it will take 10 business days to reach your card.",
        "I've processed your refund of $129.99 and a supervisor will call you by Friday as promised.",
        "Lo siento, ¿me puede dar su número de pedido? No podemos reembolsar la comisión.",
        "We can't send the replacement until next month, and the credit will be removed.",
    ]
    # The first check of a package parses its commitments; the checks while the agent types reuse that.
    start = time.perf_counter()
    for text in drafts:
        check_draft(package=package, text=text)
    first = (time.perf_counter() - start) * 1000 / len(drafts)
    timings = []
    for _ in range(40):
        for text in drafts:
            start = time.perf_counter()
            check_draft(package=package, text=text)
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p50, p95 = statistics.median(timings), timings[int(len(timings) * 0.95)]
    print(f"\ndraft check, 200-turn package: first {first:.2f} ms, then p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    # Aim: well under 5 ms. p95 on a shared test machine is mostly scheduling noise; its bound only
    # catches a pathological regression (a regex that backtracks, a scan of the whole transcript).
    assert p50 < 5
    assert p95 < 50


# --- the shared fixtures' drafts -------------------------------------------------------------------------

FIXTURES = json.loads(SHARED_FIXTURES.read_text()) if SHARED_FIXTURES.exists() else []
FIXTURE_DRAFTS = [(case, draft) for case in FIXTURES for draft in case.get("drafts", [])]


@pytest.mark.skipif(not FIXTURE_DRAFTS, reason=f"shared fixtures not found at {SHARED_FIXTURES}")
@pytest.mark.parametrize(
    ("case", "draft"), FIXTURE_DRAFTS, ids=[f"{c['id']}-{d['text'][:30]}" for c, d in FIXTURE_DRAFTS]
)
def test_the_shared_fixture_drafts(case: dict, draft: dict) -> None:
    package = replay(case)
    kinds = sorted(w["kind"] for w in check_draft(package=package, text=draft["text"]))
    assert kinds == sorted(draft["expect"])
