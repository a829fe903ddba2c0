"""The reference bot: answers from the knowledge base, records what it tried, escalates on its own rules,
and talks to Warmline only through the signed API path."""

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from handoffs.errors import NotAuthenticated
from handoffs.knowledge import kb_import
from handoffs.models import BotSecret, Commitment, Conversation, Handoff, InboundRequest, Step, Turn
from handoffs.reference_bot import (
    SEARCH_ACTION,
    BotError,
    ReferenceBot,
    escalation_rule,
    quote_article,
    reference_bot_create,
)
from handoffs.services.handoffs import handoff_claim, handoff_connect
from handoffs.signing import sign

pytestmark = pytest.mark.django_db

DEMO_KB = Path(__file__).resolve().parents[2] / "handoffs" / "demo" / "kb"


@pytest.fixture
def refbot(support_team) -> ReferenceBot:
    kb_import(DEMO_KB)
    bot, _ = reference_bot_create(team_name=support_team.name)
    return ReferenceBot(bot)


@pytest.fixture
def chat(refbot):
    """A customer's conversation with the reference bot: ``chat("text")`` returns the screens."""
    conversation_id = f"web-{uuid.uuid4().hex}"
    customer = {"id": f"visitor-{conversation_id}", "name": "Web visitor", "locale": "en"}

    def say(text: str):
        return refbot.hear(conversation_id=conversation_id, customer=customer, text=text)

    say.conversation_id = conversation_id  # type: ignore[attr-defined]
    return say


def conversation_of(chat) -> Conversation:
    return Conversation.objects.get(external_id=chat.conversation_id)


def bot_lines(screens) -> list[str]:
    return [s["text"] for s in screens if s["type"] == "line" and s["role"] == "bot"]


# --- the bot's rules, one message at a time ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "Can I speak with a real person please?",
        "agent",
        "Just connect me to a representative",
        "Quiero hablar con una persona",
        "¿Puedo hablar con alguien?",
        "Pásame con un agente, por favor",
    ],
)
def test_an_explicit_request_for_a_person_is_recognised_in_english_and_spanish(text):
    assert escalation_rule(text) == ("customer_request", "The customer asked for a person.")


@pytest.mark.parametrize(
    "text",
    [
        "I need a refund exception, it's been 40 days",
        "Can your supervisor approve this?",
        "Please cancel my plan and waive the cancellation fee",
        "Cancel it without the penalty",
        "Necesito una excepción, ¿lo puede aprobar alguien?",
        "Quiero cancelar sin penalización",
    ],
)
def test_a_decision_beyond_the_bot_is_recognised(text):
    rule = escalation_rule(text)
    assert rule is not None and rule[0] == "authority_required"


@pytest.mark.parametrize(
    "text",
    [
        "The delivery person left it at the door",
        "How do I return an item?",
        "My parcel never arrived",
        "I'm a person who likes clear answers",
        "cancel my subscription",
    ],
)
def test_ordinary_questions_do_not_escalate(text):
    assert escalation_rule(text) is None


# --- answering from the knowledge base -------------------------------------------------------------


def test_a_question_the_help_center_answers_is_answered_with_a_quote_and_a_step(chat):
    # when
    screens = chat("How do I return an item I bought?")
    # then: the returns article is quoted, as a bot turn in the conversation
    [reply] = bot_lines(screens)
    assert "Returns and refunds policy" in reply and "30 days" in reply
    conversation = conversation_of(chat)
    assert conversation.status == "bot"
    assert list(conversation.turns.values_list("role", flat=True)) == ["customer", "bot"]
    step = Step.objects.get(conversation=conversation)
    assert step.action == SEARCH_ACTION and step.outcome == "succeeded"
    assert "Returns and refunds policy" in step.detail


def test_a_spanish_question_is_answered_in_spanish(chat):
    [reply] = bot_lines(chat("Mi paquete no ha llegado todavía"))
    assert "centro de ayuda" in reply and "paquete" in reply.lower()


def test_quotes_leave_out_what_is_written_for_agents():
    body = (
        "# Lost parcels\n\nWhen a customer says their parcel never arrived, work through these checks.\n\n"
        "1. **Check the tracking.** If it says *in transit*, the parcel is not lost yet.\n"
        "**Agent tip:** ask the customer for the order number."
    )
    quoted = quote_article(body, "my parcel never arrived")
    assert quoted.startswith("Check the tracking.") and "in transit" in quoted
    assert "customer" not in quoted and "*" not in quoted and "#" not in quoted


def test_a_greeting_gets_a_greeting_and_is_not_counted_as_a_failure(chat):
    [reply] = bot_lines(chat("hi"))
    assert reply.startswith("Hi!")
    assert not Step.objects.filter(conversation=conversation_of(chat)).exists()


# --- escalation --------------------------------------------------------------------------------------


def test_asking_for_a_human_escalates_with_the_announcement_and_a_recorded_promise(chat):
    # when
    screens = chat("I want to talk to a human")
    # then
    handoff = Handoff.objects.get(conversation__external_id=chat.conversation_id)
    assert handoff.status == "queued" and handoff.reason_code == "customer_request"
    [announcement] = [s for s in screens if s.get("announcement")]
    assert "specialist" in announcement["text"] and "won't need to repeat" in announcement["text"]
    wait = next(s for s in screens if s["type"] == "wait")["handoff"]
    assert wait["id"] == str(handoff.id) and wait["queue_position"] == 1
    assert wait["estimated_wait_seconds"] > 0
    # the announcement is said (a bot turn) and the promise kept as a commitment event
    assert Turn.objects.filter(
        conversation=handoff.conversation, role="bot", text=announcement["text"]
    ).exists()
    promise = Commitment.objects.get(conversation=handoff.conversation, source="event")
    assert promise.kind == "follow_up" and "Support" in promise.text


def test_spanish_request_escalates_with_a_spanish_announcement(chat):
    screens = chat("Quiero hablar con una persona, por favor")
    [announcement] = [s for s in screens if s.get("announcement")]
    assert "especialista" in announcement["text"]
    assert Handoff.objects.get(conversation__external_id=chat.conversation_id).language == "es"


def test_authority_needed_escalates_as_authority_required(chat):
    chat("I returned my jacket after 40 days")
    chat("Can you make an exception and refund it anyway?")
    handoff = Handoff.objects.get(conversation__external_id=chat.conversation_id)
    assert handoff.reason_code == "authority_required"


def test_no_answer_twice_in_a_row_escalates_as_repeated_failure(chat):
    # given: nothing in the help center about blenders
    first = chat("My blender makes a grinding noise")
    assert "couldn't find" in bot_lines(first)[0]
    assert not Handoff.objects.exists()
    # when
    chat("The blender motor smells burnt when running")
    # then
    handoff = Handoff.objects.get(conversation__external_id=chat.conversation_id)
    assert handoff.reason_code == "repeated_failure"
    failed = Step.objects.filter(conversation=handoff.conversation, outcome="failed", action=SEARCH_ACTION)
    assert failed.count() == 2


def test_an_answer_that_did_not_help_counts_towards_repeated_failure(chat):
    chat("How do I reset my password?")
    reply = bot_lines(chat("That didn't help"))
    assert reply and "Sorry that didn't help" in reply[0]
    assert not Handoff.objects.exists()
    chat("The thingamajig is wobbling")
    assert (
        Handoff.objects.get(conversation__external_id=chat.conversation_id).reason_code == "repeated_failure"
    )


def test_warmlines_escalation_advice_is_followed(chat, monkeypatch):
    # given: Warmline's advice says a person should take over (a frustration trend the rules don't see)
    from handoffs.context import package

    monkeypatch.setattr(
        package,
        "escalation_advice",
        lambda context: {"escalate": True, "score": 0.7, "reasons": ["customer is angry and getting worse"]},
    )
    # when
    chat("How do I return an item?")
    # then
    handoff = Handoff.objects.get(conversation__external_id=chat.conversation_id)
    assert handoff.reason_code == "frustration" and "angry" in handoff.reason


# --- while a person has the conversation -------------------------------------------------------------


def test_once_a_person_is_connected_the_bot_only_relays(chat, agent):
    chat("I want to talk to a human")
    handoff = Handoff.objects.get(conversation__external_id=chat.conversation_id)
    handoff_claim(handoff_id=str(handoff.id), agent=agent)
    handoff_connect(handoff_id=str(handoff.id), agent=agent)
    bot_turns = Turn.objects.filter(conversation=handoff.conversation, role="bot").count()
    # when
    screens = chat("How do I return an item?")
    # then: the customer's turn is there for the agent; the bot says nothing (it would be refused: 409)
    assert screens == []
    assert Turn.objects.filter(conversation=handoff.conversation, role="customer").last().text == (
        "How do I return an item?"
    )
    assert Turn.objects.filter(conversation=handoff.conversation, role="bot").count() == bot_turns


def test_a_bot_turn_while_connected_is_refused_like_for_any_bot(chat, refbot, agent):
    chat("I want to talk to a human")
    handoff = Handoff.objects.get(conversation__external_id=chat.conversation_id)
    handoff_claim(handoff_id=str(handoff.id), agent=agent)
    handoff_connect(handoff_id=str(handoff.id), agent=agent)
    with pytest.raises(BotError) as refused:
        refbot.post(
            {"type": "turn", "conversation_id": chat.conversation_id, "data": {"role": "bot", "text": "Hi!"}}
        )
    assert refused.value.status == 409


# --- no private shortcut -------------------------------------------------------------------------------


def test_every_write_goes_through_signed_ingest(chat, refbot):
    chat("How do I return an item?")
    # each request left its webhook-id with ingest's idempotency record, like an HTTP request would
    assert InboundRequest.objects.filter(bot=refbot.bot).count() >= 2
    assert all(row.webhook_id.startswith("msg_") for row in InboundRequest.objects.filter(bot=refbot.bot))


def test_without_an_active_secret_the_bot_is_refused(chat, refbot):
    BotSecret.objects.filter(bot=refbot.bot).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(BotError) as refused:
        chat("How do I return an item?")
    assert refused.value.status == 401


def test_callbacks_are_verified_and_a_redelivery_is_dropped(chat, refbot):
    chat("I want to talk to a human")
    handoff = Handoff.objects.get(conversation__external_id=chat.conversation_id)
    body = json.dumps(
        {
            "type": "message.created",
            "handoff_id": str(handoff.id),
            "conversation_id": chat.conversation_id,
            "occurred_at": timezone.now().isoformat(),
            "data": {"text": "Hi, I'm Ada.", "agent": "Ada", "seq": 9},
        }
    )
    secret = BotSecret.objects.get(bot=refbot.bot).secret
    headers = sign(body, secret=secret, webhook_id="msg_callback_1")
    # a good one
    conversation_id, screens = refbot.callback_receive(body=body.encode(), headers=headers)
    assert conversation_id == chat.conversation_id
    assert screens == [
        {"type": "line", "role": "agent", "text": "Hi, I'm Ada.", "name": "Ada", "key": "seq-9"}
    ]
    # the same webhook-id again: nothing new
    assert refbot.callback_receive(body=body.encode(), headers=headers) == (chat.conversation_id, [])
    # signed with another secret
    forged = sign(body, secret="whsec_" + "A" * 44, webhook_id="msg_callback_2")
    with pytest.raises(NotAuthenticated):
        refbot.callback_receive(body=body.encode(), headers=forged)


# --- the demo ------------------------------------------------------------------------------------------


def test_seed_demo_registers_the_reference_bot_behind_the_widget(settings, tmp_path, monkeypatch):
    from io import StringIO

    from django.core.management import call_command

    from handoffs.models import Bot
    from handoffs.reference_bot import NAME

    settings.BASE_DIR = tmp_path  # seed_demo writes the demo bot's credentials there
    monkeypatch.setenv("WARMLINE_PUBLIC_URL", "http://127.0.0.1:8123")
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)  # idempotent: still one reference bot
    [bot] = Bot.objects.filter(name=NAME)
    assert bot.callback_url == f"http://127.0.0.1:8123/widget/callbacks/{bot.bot_id}"
    assert f"Customer chat: http://127.0.0.1:8123/chat/{bot.bot_id}/" in out.getvalue()
