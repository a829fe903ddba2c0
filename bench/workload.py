"""Realistic support conversations, turned into request bodies and pre-signed headers.

Text is varied on purpose (order numbers, emails, amounts, rising frustration): the context engines
(sentiment, slot extraction, commitments) cost what they cost on real text, not on "hello" x 10 000.
Everything comes from a seeded ``random.Random`` so two runs send byte-identical bodies.
"""

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handoffs.signing import sign

FIRST = [
    "Dana",
    "Omar",
    "Priya",
    "Lukas",
    "Mei",
    "Jonas",
    "Aisha",
    "Carlos",
    "Sofia",
    "Tomasz",
    "Grace",
    "Kenji",
]
LAST = ["Reyes", "Haddad", "Patel", "Becker", "Chen", "Larsen", "Okafor", "Mendes", "Rossi", "Nowak", "Kim"]
DOMAINS = ["example.com", "mail.example.org", "inbox.example.net"]
PRODUCTS = [
    "wireless headphones",
    "standing desk",
    "espresso machine",
    "running shoes",
    "4K monitor",
    "winter jacket",
    "robot vacuum",
    "phone case",
    "yoga mat",
    "air fryer",
]
CARRIERS = ["DHL", "UPS", "FedEx", "the postal service"]

TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "late_delivery": (
        [
            "Hi, my order {order} still hasn't arrived. It was supposed to be here on {date}.",
            "The tracking number {tracking} hasn't updated in four days.",
            "I ordered the {product} for a birthday on {date}, I really need it by then.",
            "Can you just tell me where the package is? {carrier} says they never got it.",
        ],
        [
            "I'm sorry about the delay with order {order}. Let me check the shipment for you.",
            "I can see the parcel was handed to {carrier} on {date}; the last scan was at the depot.",
            "I've opened a trace with {carrier} for tracking number {tracking}.",
            "Would you like me to send a replacement {product} with express shipping?",
        ],
    ),
    "refund": (
        [
            "I returned the {product} two weeks ago and still have no refund of {amount}.",
            "My order number is {order} and the return label was scanned on {date}.",
            "You told me last week the refund would be processed in 3 days. It has not.",
            "Please send the confirmation to {email}, I want this in writing.",
        ],
        [
            "Thanks, I found order {order}. The return was received at our warehouse on {date}.",
            "The refund of {amount} is approved; it usually reaches your card within 5 business days.",
            "I've sent a confirmation of the refund to {email}.",
            "Is there anything else I can help with regarding the {product}?",
        ],
    ),
    "double_charge": (
        [
            "I was charged twice for order {order}, {amount} each time!",
            "My bank statement shows two payments on {date}. I only bought one {product}.",
            "My account email is {email}. Fix this please, it's my rent money.",
            "Why does it take so long to reverse a charge you made by mistake?",
        ],
        [
            "I'm sorry about that. I can see two authorisations for order {order}.",
            "One of them is a pending hold of {amount}; it should drop off within 3 to 5 days.",
            "I've flagged the duplicate payment for our billing team.",
            "Can you confirm the last four digits of the card you used?",
        ],
    ),
    "login": (
        [
            "I can't log into my account, {email}. The reset link never arrives.",
            "I tried the reset three times, nothing in spam either.",
            "I need to get into my account to download the invoice for order {order}.",
            "The app just says 'something went wrong' when I enter the code.",
        ],
        [
            "Let me help you get back in. Is {email} the address on the account?",
            "I've re-sent the reset link; it's valid for 30 minutes.",
            "I can also email the invoice for order {order} directly to {email}.",
            "Could you tell me which app version you are using?",
        ],
    ),
    "damaged": (
        [
            "The {product} from order {order} arrived broken, the box was crushed.",
            "I have photos of the damage. Where do I send them?",
            "This is the second damaged item this month. I'm not happy.",
            "I want a replacement, not store credit.",
        ],
        [
            "I'm really sorry the {product} arrived damaged. You can upload photos to your order page.",
            "I've logged the damage for order {order} with the carrier.",
            "I can send a replacement {product} today at no cost.",
            "You'll get a prepaid return label at {email} for the damaged one.",
        ],
    ),
}

FRUSTRATION = [
    "This is ridiculous. I've been waiting for {days} days!!",
    "I'm getting really frustrated, nobody is giving me a straight answer.",
    "Honestly this is the worst customer service I've experienced.",
    "Can I please talk to a real person? This bot keeps going in circles.",
    "I've explained this three times already. Order {order}. {amount}. Please.",
    "If this isn't fixed today I'm disputing the charge with my bank.",
]
CALM = ["Okay, thanks.", "Alright, I'll wait then.", "Thank you, that helps.", "Sure, go ahead."]


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    email: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "email": self.email, "locale": "en"}


class ConversationWriter:
    """One conversation: alternating customer/bot turns on one topic, frustration rising with length."""

    def __init__(self, rng: random.Random, conversation_id: str, customer_id: str) -> None:
        self.rng = rng
        self.conversation_id = conversation_id
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}"
        self.customer = Customer(id=customer_id, name=f"{first} {last}", email=email)
        self.topic = TOPICS[rng.choice(list(TOPICS))]
        self.slots = {
            "order": f"#{rng.choice('ABCDEFGH')}-{rng.randint(100000, 999999)}",
            "tracking": f"1Z{rng.randint(10**9, 10**10 - 1)}",
            "amount": f"${rng.randint(12, 480)}.{rng.randint(0, 99):02d}",
            "date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "product": rng.choice(PRODUCTS),
            "carrier": rng.choice(CARRIERS),
            "email": email,
            "days": str(rng.randint(3, 21)),
        }
        self.turns = 0

    def next_turn(self) -> dict[str, Any]:
        role = "customer" if self.turns % 2 == 0 else "bot"
        customer_lines, bot_lines = self.topic
        if role == "bot":
            text = self.rng.choice(bot_lines)
        elif self.rng.random() < min(0.6, 0.05 * self.turns):
            text = self.rng.choice(FRUSTRATION)
        elif self.rng.random() < 0.15:
            text = self.rng.choice(CALM)
        else:
            text = self.rng.choice(customer_lines)
        data: dict[str, Any] = {"role": role, "text": text.format(**self.slots)}
        if role == "bot":
            data["id"] = f"{self.conversation_id}-m{self.turns}"
        self.turns += 1
        return {
            "type": "turn",
            "conversation_id": self.conversation_id,
            "customer": self.customer.as_json(),
            "data": data,
        }


def turn_stream(rng: random.Random, prefix: str, *, turns_per_conversation: int) -> Iterator[dict[str, Any]]:
    """Endless turns of one worker: a new conversation every ``turns_per_conversation`` turns."""
    number = 0
    while True:
        writer = ConversationWriter(rng, f"{prefix}-c{number:05d}", f"{prefix}-u{number:05d}")
        for _ in range(turns_per_conversation):
            yield writer.next_turn()
        number += 1


@dataclass(frozen=True)
class PreparedRequest:
    conversation_id: str
    body: bytes
    headers: dict[str, str]


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(
    body: bytes, *, secret: str, webhook_id: str, at: datetime | None = None
) -> dict[str, str]:
    headers = sign(body, secret=secret, webhook_id=webhook_id, at=at or datetime.now(tz=UTC))
    headers["content-type"] = "application/json"
    return headers


def prepare_turns(
    *, seed: int, prefix: str, count: int, turns_per_conversation: int, secret: str | None
) -> list[PreparedRequest]:
    """``count`` turn requests for one worker; signed when ``secret`` is given, plain JSON otherwise."""
    rng = random.Random(seed)
    at = datetime.now(tz=UTC)  # one timestamp: it stays valid for the whole (< 300 s) run
    prepared = []
    stream = turn_stream(rng, prefix, turns_per_conversation=turns_per_conversation)
    for index in range(count):
        payload = next(stream)
        body = encode(payload)
        if secret is None:
            headers = {"content-type": "application/json"}
        else:
            headers = signed_headers(body, secret=secret, webhook_id=f"msg_{prefix}_{index:07d}", at=at)
        prepared.append(PreparedRequest(payload["conversation_id"], body, headers))
    return prepared
