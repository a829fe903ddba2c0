"""The bot API of spec §Bots over HTTP: statuses, problem documents, idempotency, batches."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from handoffs.models import Commitment, Conversation, Handoff, InboundRequest, Step, Turn
from handoffs.services.bots import bot_rotate_secret
from tests.botclient import CUSTOMER, BotClient, escalation, event, turn

pytestmark = pytest.mark.django_db


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    doc = response.json()
    assert doc["status"] == status
    assert doc["title"] and doc["detail"] and doc["type"]
    return doc


def nothing_written() -> bool:
    return not (Conversation.objects.exists() or Turn.objects.exists() or InboundRequest.objects.exists())


# --- happy paths ----------------------------------------------------------------------------------


def test_turn_creates_the_conversation_and_answers_with_advice(bot_client):
    # when
    response = bot_client.post(turn("My parcel never arrived", first=True))
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["conversation"]["conversation_id"] == "c-1"
    assert body["conversation"]["status"] == "bot"
    assert set(body["escalation_advice"]) == {"escalate", "score", "reasons"}
    conversation = Conversation.objects.get()
    assert conversation.turns.get().text == "My parcel never arrived"


def test_every_event_type_updates_the_package(bot_client):
    # given
    events = [
        turn("Hi, my router keeps dropping the connection", first=True),
        turn("Sorry to hear that. Let me run a line test.", role="bot"),
        event("step", action="Line test", outcome="failed", detail="Noise on the line"),
        event("commitment", text="A technician visit", kind="follow_up", due="2026-11-25"),
        event(
            "classification",
            issue_type="connectivity",
            complexity="high",
            intent="fix_connection",
            confidence=0.8,
        ),
        event("observation", key="preferred_channel", value="phone", confidence=0.7),
        event("csat", score=2, phase="bot"),
    ]
    # when
    response = bot_client.post({"events": events})
    # then
    assert response.status_code == 200, response.content
    context = Conversation.objects.get().context
    assert [item["role"] for item in context["transcript"]] == ["customer", "bot"]
    assert context["steps_attempted"][0] | {"at": None} == {
        "action": "Line test",
        "outcome": "failed",
        "detail": "Noise on the line",
        "at": None,
    }
    assert any(
        c["source"] == "event" and c["kind"] == "follow_up" and c["due"] == "2026-11-25"
        for c in context["commitments"]
    )
    assert context["classification"]["issue_type"] == "connectivity"
    assert context["classification"]["complexity"] == "high"
    assert len(context["emotion"]["trajectory"]) == 1
    assert Step.objects.count() == 1
    assert Commitment.objects.filter(source="event").count() == 1


def test_package_has_every_spec_key(bot_client):
    bot_client.post(turn("Hello", first=True))
    context = bot_client.get("/conversations/c-1").json()["context"]
    assert {
        "escalation",
        "classification",
        "summary",
        "emotion",
        "information_provided",
        "commitments",
        "steps_attempted",
        "self_model",
        "suggested_opening",
        "transcript",
        "handoffs",
    } <= set(context)
    assert set(context["escalation"]) >= {
        "reason",
        "reason_code",
        "focus",
        "urgency",
        "skills",
        "escalated_at",
    }
    assert set(context["emotion"]) >= {"current", "trend", "trajectory"}


def test_escalation_answers_201_with_position_wait_and_announcement(bot_client):
    # given
    bot_client.post(turn("I want to talk to a person", first=True))
    # when
    response = bot_client.post(escalation(urgency="high", focus="Customer wants a refund exception"))
    # then
    assert response.status_code == 201, response.content
    handoff = response.json()["handoff"]
    assert handoff["status"] == "queued"
    assert handoff["queue_position"] == 1
    assert handoff["estimated_wait_seconds"] > 0
    assert "repeat" in handoff["announcement"] and "minute" in handoff["announcement"]
    assert Conversation.objects.get().status == "queued"
    frame = Handoff.objects.get().frame
    assert frame["escalation"]["focus"] == "Customer wants a refund exception"


def test_second_escalation_returns_the_open_handoff_with_200(bot_client):
    bot_client.post(turn("Help", first=True))
    first = bot_client.post(escalation()).json()["handoff"]
    # when
    again = bot_client.post(escalation(reason="Still waiting"))
    # then
    assert again.status_code == 200
    assert again.json()["handoff"]["id"] == first["id"]
    assert Handoff.objects.count() == 1


def test_queue_position_counts_higher_priority_handoffs_ahead(bot_client):
    bot_client.post(turn("a", conversation="c-a", first=True))
    bot_client.post(turn("b", conversation="c-b", first=True))
    bot_client.post(escalation("c-a", urgency="critical"))
    # when: a normal one arrives after a critical one
    response = bot_client.post(escalation("c-b", urgency="normal"))
    # then
    assert response.json()["handoff"]["queue_position"] == 2


def test_escalation_with_transcript_for_bots_that_did_not_stream(bot_client):
    payload = escalation(
        transcript=[
            {"role": "customer", "text": "My order 7730155 is late"},
            {"role": "bot", "text": "Let me check."},
        ]
    )
    payload["customer"] = CUSTOMER
    # when
    response = bot_client.post(payload)
    # then
    assert response.status_code == 201
    assert list(Turn.objects.values_list("role", "text")) == [
        ("customer", "My order 7730155 is late"),
        ("bot", "Let me check."),
    ]


def test_get_conversation_handoff_and_self_model(bot_client):
    bot_client.post(
        {
            "events": [
                turn("Hi", first=True),
                event("observation", key="preferred_language", value="en", confidence=0.9),
            ]
        }
    )
    handoff_id = bot_client.post(escalation()).json()["handoff"]["id"]
    # when
    conversation = bot_client.get("/conversations/c-1")
    handoff = bot_client.get(f"/handoffs/{handoff_id}")
    model = bot_client.get(f"/customers/{CUSTOMER['id']}/self-model")
    # then
    assert conversation.status_code == 200 and conversation.json()["status"] == "queued"
    assert handoff.status_code == 200
    assert handoff.json() | {"estimated_wait_seconds": 0} == {
        "id": handoff_id,
        "status": "queued",
        "queue_position": 1,
        "estimated_wait_seconds": 0,
        "agent": None,
    }
    assert model.status_code == 200
    belief = model.json()["beliefs"][0]
    assert belief["key"] == "preferred_language" and belief["value"] == "en"
    assert 0 < belief["confidence"] <= 1


def test_turn_with_the_same_bot_message_id_is_stored_once(bot_client):
    bot_client.post(turn("Hello", first=True, id="m-1"))
    bot_client.post(turn("Hello", id="m-1"))
    assert Turn.objects.count() == 1


def test_csat_and_customer_left(bot_client):
    bot_client.post(turn("Hi", first=True))
    bot_client.post(escalation())
    assert bot_client.post(event("csat", score=4, phase="bot")).status_code == 200
    # when
    response = bot_client.post(event("customer_left"))
    # then
    assert response.status_code == 200
    assert Conversation.objects.get().status == "abandoned"
    assert Handoff.objects.get().status == "abandoned"


def test_bot_turn_on_a_human_owned_conversation_is_409(bot_client):
    bot_client.post(turn("Hi", first=True))
    bot_client.post(escalation())
    Conversation.objects.update(status="connected")
    # when
    refused = bot_client.post(turn("Can I help?", role="bot"))
    accepted = bot_client.post(turn("Are you there?"))
    # then
    assert_problem(refused, 409)
    assert accepted.status_code == 200


# --- idempotency ----------------------------------------------------------------------------------


def test_replay_returns_the_first_response_and_writes_nothing(bot_client):
    body = json.dumps(turn("Hello", first=True)).encode()
    first = bot_client.post_raw(body, webhook_id="msg_1")
    # when
    again = bot_client.post_raw(body, webhook_id="msg_1")
    # then
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Turn.objects.count() == 1


def test_replayed_escalation_keeps_its_201(bot_client):
    bot_client.post(turn("Hi", first=True))
    body = json.dumps(escalation()).encode()
    first = bot_client.post_raw(body, webhook_id="msg_esc")
    again = bot_client.post_raw(body, webhook_id="msg_esc")
    assert first.status_code == again.status_code == 201
    assert Handoff.objects.count() == 1


def test_same_webhook_id_with_another_body_is_409(bot_client):
    bot_client.post(turn("Hello", first=True), webhook_id="msg_1")
    # when
    response = bot_client.post(turn("Something else", first=True), webhook_id="msg_1")
    # then
    assert_problem(response, 409)
    assert Turn.objects.count() == 1


def test_webhook_ids_are_per_bot(bot_client, other_bot_client):
    assert bot_client.post(turn("Hi", first=True), webhook_id="msg_shared").status_code == 200
    assert other_bot_client.post(turn("Hi", first=True), webhook_id="msg_shared").status_code == 200
    assert Turn.objects.count() == 2


def test_failed_request_does_not_burn_its_webhook_id(bot_client):
    bad = bot_client.post(event("turn", customer=CUSTOMER, role="robot", text="x"), webhook_id="msg_9")
    assert_problem(bad, 422)
    good = bot_client.post(turn("Hi", first=True), webhook_id="msg_9")
    assert good.status_code == 200


# --- batches --------------------------------------------------------------------------------------


def test_batch_applies_in_order(bot_client):
    response = bot_client.post({"events": [turn(f"turn {n}", first=(n == 0)) for n in range(5)]})
    assert response.status_code == 200
    assert list(Turn.objects.order_by("seq").values_list("seq", "text")) == [
        (n + 1, f"turn {n}") for n in range(5)
    ]


def test_batch_is_all_or_nothing(bot_client):
    # given: the third event breaks a rule only known while applying (no customer on a new conversation)
    events = [turn("one", first=True), turn("two"), turn("orphan", conversation="c-new")]
    # when
    response = bot_client.post({"events": events})
    # then
    doc = assert_problem(response, 422)
    assert doc["errors"][0]["loc"][:3] == ["body", "events", 2]
    assert nothing_written()


def test_batch_with_an_escalation_answers_201(bot_client):
    response = bot_client.post({"events": [turn("I need a human", first=True), escalation()]})
    assert response.status_code == 201
    assert response.json()["handoff"]["status"] == "queued"


def test_batch_over_100_events_is_422(bot_client):
    response = bot_client.post({"events": [turn("x", first=True)] * 101})
    assert_problem(response, 422)
    assert nothing_written()


def test_human_owned_conflict_in_a_batch_rolls_back_everything(bot_client):
    bot_client.post(turn("Hi", first=True))
    bot_client.post(escalation())
    Conversation.objects.update(status="connected")
    before = Turn.objects.count()
    # when
    response = bot_client.post({"events": [turn("customer says"), turn("bot says", role="bot")]})
    # then
    assert_problem(response, 409)
    assert Turn.objects.count() == before


# --- bad input: every status of spec §Conventions -------------------------------------------------


def test_malformed_json_is_400(bot_client):
    assert_problem(bot_client.post_raw(b'{"type": "turn",'), 400)
    assert_problem(bot_client.post_raw(b'{"type": NaN}'), 400)
    assert nothing_written()


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "turn", "conversation_id": "c-1", "customer": CUSTOMER, "data": {"role": "customer"}},
        {"type": "nope", "conversation_id": "c-1", "data": {}},
        {
            "type": "csat",
            "conversation_id": "c-1",
            "customer": CUSTOMER,
            "data": {"score": 6, "phase": "bot"},
        },
        {
            "type": "observation",
            "conversation_id": "c-1",
            "customer": CUSTOMER,
            "data": {"key": "k", "value": 1, "confidence": 1.5},
        },
        {"type": "turn", "conversation_id": "", "customer": CUSTOMER, "data": {"role": "bot", "text": "hi"}},
        {
            "type": "turn",
            "conversation_id": "c-1",
            "occurred_at": "2026-11-20T10:00:00",
            "customer": CUSTOMER,
            "data": {"role": "bot", "text": "naive time"},
        },
        {"events": []},
        [1, 2, 3],
        "just a string",
    ],
)
def test_schema_violations_are_422_with_errors(bot_client, payload):
    doc = assert_problem(bot_client.post(payload), 422)
    assert doc["errors"] and all({"loc", "msg"} <= set(error) for error in doc["errors"])
    assert nothing_written()


def test_first_event_without_customer_is_422(bot_client):
    doc = assert_problem(bot_client.post(event("turn", role="customer", text="hi")), 422)
    assert doc["errors"][0]["loc"] == ["body", "customer"]


def test_body_over_256_kib_is_413(bot_client):
    payload = turn("x" * (260 * 1024), first=True)
    assert_problem(bot_client.post(payload), 413)
    assert nothing_written()


def test_another_bots_conversation_and_handoff_are_404(bot_client, other_bot_client):
    bot_client.post(turn("Hi", first=True))
    handoff_id = bot_client.post(escalation()).json()["handoff"]["id"]
    # then: the other bot cannot tell these exist
    missing = other_bot_client.get("/conversations/does-not-exist")
    foreign = other_bot_client.get("/conversations/c-1")
    assert_problem(foreign, 404)
    assert foreign.json()["detail"] == missing.json()["detail"]
    assert_problem(other_bot_client.get(f"/handoffs/{handoff_id}"), 404)
    assert_problem(other_bot_client.get(f"/customers/{CUSTOMER['id']}/self-model"), 404)
    assert_problem(other_bot_client.get("/handoffs/not-a-uuid"), 404)


def test_posting_to_another_bots_path_with_own_secret_is_401(bot_client, other_bot_client):
    impostor = BotClient(bot_id=bot_client.bot_id, secret=other_bot_client.secret)
    assert_problem(impostor.post(turn("hi", first=True)), 401)
    assert nothing_written()


# --- signatures -----------------------------------------------------------------------------------


def test_missing_signature_is_401(bot_client):
    response = bot_client.client.post(
        f"/api/v1/bots/{bot_client.bot_id}/events", data=b"{}", content_type="application/json"
    )
    assert_problem(response, 401)


def test_wrong_secret_is_401(bot_client):
    response = bot_client.post(turn("hi", first=True), secret="whsec_" + "A" * 43)
    assert_problem(response, 401)
    assert nothing_written()


def test_tampered_body_is_401(bot_client):
    body = json.dumps(turn("hi", first=True)).encode()
    headers = bot_client.headers(body)
    response = bot_client.client.post(
        f"/api/v1/bots/{bot_client.bot_id}/events",
        data=body.replace(b"hi", b"ho"),
        content_type="application/json",
        **headers,
    )
    assert_problem(response, 401)


@pytest.mark.parametrize("skew", [timedelta(seconds=-301), timedelta(seconds=301)])
def test_stale_or_future_timestamp_is_401(bot_client, skew):
    response = bot_client.post(turn("hi", first=True), at=datetime.now(tz=UTC) + skew)
    doc = assert_problem(response, 401)
    assert "300" in doc["detail"]


@pytest.mark.parametrize("skew", [timedelta(seconds=-290), timedelta(seconds=290)])
def test_timestamp_within_tolerance_is_accepted(bot_client, skew):
    assert bot_client.post(turn("hi", first=True), at=datetime.now(tz=UTC) + skew).status_code == 200


@pytest.mark.parametrize("signature", ["garbage", "v1,@@@notbase64", "v2,abc", "", "v1,"])
def test_malformed_signature_headers_are_401_not_500(bot_client, signature):
    body = json.dumps(turn("hi", first=True)).encode()
    headers = bot_client.headers(body) | {"HTTP_WEBHOOK_SIGNATURE": signature}
    response = bot_client.client.post(
        f"/api/v1/bots/{bot_client.bot_id}/events", data=body, content_type="application/json", **headers
    )
    assert_problem(response, 401)


def test_any_valid_entry_among_several_signatures_accepts(bot_client):
    body = json.dumps(turn("hi", first=True)).encode()
    headers = bot_client.headers(body)
    valid = headers["HTTP_WEBHOOK_SIGNATURE"]
    headers["HTTP_WEBHOOK_SIGNATURE"] = f"v1,{'A' * 44} v2,whatever {valid}"
    response = bot_client.client.post(
        f"/api/v1/bots/{bot_client.bot_id}/events", data=body, content_type="application/json", **headers
    )
    assert response.status_code == 200


def test_unknown_bot_is_401_like_a_bad_signature(bot_client):
    unknown = BotClient(bot_id="bot_doesnotexist", secret=bot_client.secret)
    wrong = BotClient(bot_id=bot_client.bot_id, secret="whsec_" + "B" * 43)
    assert (
        assert_problem(unknown.post(turn("hi", first=True)), 401)["detail"]
        == assert_problem(wrong.post(turn("hi", first=True)), 401)["detail"]
    )


def test_gets_are_signed_over_an_empty_body(bot_client):
    bot_client.post(turn("hi", first=True))
    assert bot_client.get("/conversations/c-1").status_code == 200
    unsigned = bot_client.client.get(f"/api/v1/bots/{bot_client.bot_id}/conversations/c-1")
    assert_problem(unsigned, 401)


def test_rotation_keeps_two_secrets_valid_then_retires_the_old(bot_client, bot):
    # when
    new_secret = bot_rotate_secret(bot=bot, overlap=timedelta(hours=1))
    # then: both work during the overlap
    assert bot_client.post(turn("old", first=True)).status_code == 200
    assert bot_client.post(turn("new"), secret=new_secret).status_code == 200
    # when: the overlap has passed
    bot.secrets.exclude(secret=new_secret).update(expires_at=datetime.now(tz=UTC) - timedelta(seconds=1))
    # then
    assert_problem(bot_client.post(turn("old again")), 401)
    assert bot_client.post(turn("new again"), secret=new_secret).status_code == 200


# --- OpenAPI --------------------------------------------------------------------------------------


def test_openapi_document_and_docs(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    for path in (
        "/api/v1/bots/{bot_id}/events",
        "/api/v1/bots/{bot_id}/conversations/{conversation_id}",
        "/api/v1/bots/{bot_id}/handoffs/{handoff_id}",
        "/api/v1/bots/{bot_id}/customers/{customer_id}/self-model",
    ):
        assert path in paths
    body_schema = paths["/api/v1/bots/{bot_id}/events"]["post"]["requestBody"]["content"]["application/json"]
    assert (
        "EscalationEvent" in json.dumps(body_schema) or "EscalationEvent" in document["components"]["schemas"]
    )
    assert client.get("/api/v1/docs").status_code == 200


def test_nul_characters_are_422_not_a_database_error(bot_client):
    doc = assert_problem(bot_client.post(turn("bad \x00 byte", first=True)), 422)
    assert doc["errors"][0]["loc"] == ["body", "data", "text"]
    assert nothing_written()


def test_a_retry_replays_even_when_the_state_has_moved_on(bot_client):
    bot_client.post(turn("Hi", first=True))
    bot_client.post(escalation())
    body = json.dumps(turn("A bot line before the person arrived", role="bot")).encode()
    first = bot_client.post_raw(body, webhook_id="msg_before")
    Conversation.objects.update(status="connected")
    # when: the bot retries after a person connected
    again = bot_client.post_raw(body, webhook_id="msg_before")
    # then: the first answer stands and nothing is written twice
    assert again.status_code == first.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert Turn.objects.filter(role="bot").count() == 1
