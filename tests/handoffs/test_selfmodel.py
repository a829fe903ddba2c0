"""The self-model end to end: who writes, who reads which scopes, audits, inferences, privacy."""

import importlib
import json
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client

from handoffs.models import AuditEvent, Belief, Conversation, CsatRating, Customer, Handoff, Observation, Turn
from handoffs.selfmodel import rules
from handoffs.services.selfmodel import (
    as_rule_observation,
    observation_record,
    selfmodel_infer_from_turn,
    selfmodel_infer_recurring_issue,
)
from tests.botclient import CUSTOMER, BotClient, escalation, event, turn
from tests.factories import make_bot

pytestmark = pytest.mark.django_db


def observe(key: str, value, *, confidence: float = 0.8, scope: str = "general", conversation: str = "c-1"):
    return event("observation", conversation, key=key, value=value, confidence=confidence, scope=scope)


def beliefs(client: BotClient) -> dict[str, dict]:
    response = client.get(f"/customers/{CUSTOMER['id']}/self-model")
    assert response.status_code == 200, response.content
    return {belief["key"]: belief for belief in response.json()["beliefs"]}


def agent_post(token: str, customer: str, **body):
    return Client().post(
        f"/api/v1/agent/customers/{customer}/observations",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )


@pytest.fixture
def escalated(bot_client):
    """A conversation of CUSTOMER escalated to the Support team."""
    bot_client.post(turn("Hello, I need help with my bill", first=True))
    bot_client.post(escalation())
    return bot_client


# --- scopes ---------------------------------------------------------------------------------------


def test_bot_reads_only_the_scopes_it_is_granted(support_team):
    # given: two bots of the same organisation talk to the same customer
    general_bot, general_secret = make_bot(team=support_team.name)
    billing_bot, billing_secret = make_bot(team=support_team.name, scopes=["general", "billing"])
    general = BotClient(bot_id=general_bot.bot_id, secret=general_secret)
    billing = BotClient(bot_id=billing_bot.bot_id, secret=billing_secret)
    general.post({"events": [turn("Hi", first=True), observe("tone", "brief")]})
    billing.post({"events": [turn("Hi", first=True), observe("payment_method", "card", scope="billing")]})
    # then
    assert set(beliefs(general)) == {"tone"}
    assert set(beliefs(billing)) == {"tone", "payment_method"}
    package = general.get("/conversations/c-1").json()["context"]
    assert [belief["key"] for belief in package["self_model"]] == ["tone"]


def test_reading_a_sensitive_belief_is_audited(support_team):
    bot, secret = make_bot(team=support_team.name, scopes=["general", "sensitive"])
    client = BotClient(bot_id=bot.bot_id, secret=secret)
    client.post(
        {
            "events": [
                turn("Hi", first=True),
                observe("health_condition", "hearing impaired", scope="sensitive"),
            ]
        }
    )
    assert not AuditEvent.objects.exists()
    # when
    beliefs(client)
    client.get("/conversations/c-1")
    # then
    audits = list(AuditEvent.objects.values_list("action", "actor_ref", "detail"))
    assert audits == [("sensitive_read", bot.bot_id, {"keys": ["health_condition"]})] * 2


def test_reading_without_sensitive_beliefs_leaves_no_audit(bot_client):
    bot_client.post({"events": [turn("Hi", first=True), observe("tone", "brief")]})
    beliefs(bot_client)
    assert not AuditEvent.objects.exists()


def test_team_scopes_command_sets_and_validates(support_team):
    out = StringIO()
    call_command("team_scopes", "Support", "--set", "general,billing", stdout=out)
    support_team.refresh_from_db()
    assert support_team.scopes == ["billing", "general"]
    with pytest.raises(Exception, match="Unknown scope"):
        call_command("team_scopes", "Support", "--set", "secret-stuff")


# --- agents write through the API -----------------------------------------------------------------


def test_agent_observation_outranks_a_newer_bot_observation(escalated, agent, token_for):
    token = token_for(agent)
    escalated.post(observe("preferred_language", "en", confidence=0.9))
    # when: a person corrects it, then a bot repeats its older view
    response = agent_post(token, CUSTOMER["id"], key="preferred_language", value="es", confidence=0.8)
    escalated.post(observe("preferred_language", "en", confidence=0.95))
    # then
    assert response.status_code == 201, response.content
    assert response.json()["belief"]["value"] == "es"
    belief = beliefs(escalated)["preferred_language"]
    assert belief["value"] == "es"
    assert {source["source"] for source in belief["sources"]} >= {"agent"}


def test_agent_api_needs_a_valid_token(escalated):
    response = agent_post("wl_not-a-real-token", CUSTOMER["id"], key="tone", value="brief")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    bare = Client().post(
        f"/api/v1/agent/customers/{CUSTOMER['id']}/observations", data="{}", content_type="application/json"
    )
    assert bare.status_code == 401


def test_outsider_cannot_touch_a_customer_of_another_team(escalated, outsider, token_for):
    response = agent_post(token_for(outsider), CUSTOMER["id"], key="tone", value="rude")
    unknown = agent_post(token_for(outsider), "nobody", key="tone", value="rude")
    assert response.status_code == 404
    assert response.json()["detail"] == unknown.json()["detail"]
    assert not Observation.objects.exists()


def test_agent_cannot_write_a_scope_their_team_lacks(escalated, agent, token_for):
    response = agent_post(token_for(agent), CUSTOMER["id"], key="diagnosis", value="x", scope="sensitive")
    assert response.status_code == 403
    assert not Observation.objects.exists()


def test_agent_observation_schema_errors_are_422(escalated, agent, token_for):
    response = agent_post(token_for(agent), CUSTOMER["id"], key="", value="x", confidence=3)
    assert response.status_code == 422
    assert response.json()["errors"]


# --- inferences and returning customers -----------------------------------------------------------


def test_language_and_channel_are_inferred_from_customer_turns(bot_client):
    bot_client.post(
        turn(
            "Hola, quiero devolver unas zapatillas que compré la semana pasada, llámame por favor", first=True
        )
    )
    turn_id = Turn.objects.get().pk
    # when
    recorded = selfmodel_infer_from_turn(turn_id=turn_id)
    again = selfmodel_infer_from_turn(turn_id=turn_id)
    # then
    assert {(o.key, o.value, o.source) for o in recorded} == {
        ("preferred_language", "es", "inferred"),
        ("communication_preference", "phone", "inferred"),
    }
    assert again == []  # the self-model already holds it as firmly: no pile of identical evidence


def test_each_customer_turn_of_a_batch_is_inferred_once(bot_client):
    # given: one batch, no occurred_at (both turns get the batch's time); the second changes the channel
    bot_client.post(
        {
            "events": [
                turn("Please email me the details of my order, thanks", first=True),
                turn("Actually no, call me instead, it is quicker for me"),
            ]
        }
    )
    first, second = Turn.objects.filter(role="customer").order_by("seq")
    assert first.occurred_at == second.occurred_at
    # when
    from_first = selfmodel_infer_from_turn(turn_id=first.pk)
    from_second = selfmodel_infer_from_turn(turn_id=second.pk)
    count = Observation.objects.count()
    again = [selfmodel_infer_from_turn(turn_id=t.pk) for t in (first, second)]  # resent asks
    # then: the second turn's change is recorded on its first run, and a rerun adds nothing
    assert ("communication_preference", "email") in {(o.key, o.value) for o in from_first}
    assert ("communication_preference", "phone") in {(o.key, o.value) for o in from_second}
    assert {o.turn_id for o in from_second} == {second.pk}
    assert again == [[], []] and Observation.objects.count() == count
    assert Belief.objects.get(key="communication_preference").value == "phone"


def test_the_migration_links_earlier_inferences_to_their_turn_where_unambiguous(bot_client):
    # given: inferences recorded before observations named their turn: one turn alone, two in one batch
    bot_client.post(turn("Please email me the details of my order, thanks", first=True))
    bot_client.post(
        {"events": [turn("Call me instead, it is quicker for me"), turn("Or text me, whatever is easier")]}
    )
    for customer_turn in Turn.objects.filter(role="customer"):
        selfmodel_infer_from_turn(turn_id=customer_turn.pk)
    alone = Turn.objects.get(seq=1)
    linked = dict(Observation.objects.values_list("pk", "turn_id"))
    Observation.objects.update(turn=None)
    migration = importlib.import_module("handoffs.migrations.0015_observation_turn")
    # when
    with connection.schema_editor() as schema_editor:
        migration.link_inferences_to_turns(django_apps, schema_editor)
    # then: the lone turn's inferences are linked again; the batch's (same time, two turns) stay unlinked
    now = dict(Observation.objects.values_list("pk", "turn_id"))
    assert {pk for pk, turn_id in now.items() if turn_id} == {
        pk for pk, turn_id in linked.items() if turn_id == alone.pk
    }
    assert any(turn_id == alone.pk for turn_id in now.values())


def test_technical_vocabulary_suggests_expertise(bot_client):
    bot_client.post(
        turn("DNS resolves but I get packet loss past the gateway, the firmware is current", first=True)
    )
    recorded = selfmodel_infer_from_turn(turn_id=Turn.objects.get().pk)
    expertise = [o for o in recorded if o.key == "expertise"]
    assert expertise and expertise[0].value == "technical" and expertise[0].scope == "technical"


def test_a_returning_customer_with_the_same_issue_has_a_recurring_issue(bot_client):
    for name in ("c-1", "c-2"):
        bot_client.post(
            {
                "events": [
                    turn("My invoice is wrong again", conversation=name, first=True),
                    event("classification", name, issue_type="billing_error", complexity="low"),
                ]
            }
        )
    first, second = Conversation.objects.order_by("created_at")
    assert selfmodel_infer_recurring_issue(conversation_id=first.pk) is not None  # c-2 exists too
    observation = selfmodel_infer_recurring_issue(conversation_id=second.pk)
    assert observation is not None and observation.value == "billing_error"
    assert Belief.objects.get(key="recurring_issue").value == "billing_error"


def test_a_returning_customer_starts_with_links_to_earlier_handoffs(bot_client):
    bot_client.post(turn("Help", conversation="c-1", first=True))
    first_handoff = bot_client.post(escalation("c-1")).json()["handoff"]["id"]
    # when: they come back in a new conversation
    bot_client.post(turn("Me again", conversation="c-2", first=True))
    # then
    package = bot_client.get("/conversations/c-2").json()["context"]
    assert [item["id"] for item in package["earlier_handoffs"]] == [first_handoff]


# --- privacy --------------------------------------------------------------------------------------


def test_export_holds_everything_and_is_audited(escalated):
    escalated.post(observe("tone", "brief"))
    out = StringIO()
    call_command("customer_export", CUSTOMER["id"], stdout=out)
    export = json.loads(out.getvalue())
    assert export["customer"]["email"] == CUSTOMER["email"]
    assert export["conversations"][0]["turns"][0]["text"] == "Hello, I need help with my bill"
    assert export["beliefs"][0]["key"] == "tone"
    assert AuditEvent.objects.filter(action="export").count() == 1


def test_erase_removes_personal_data_and_keeps_aggregates(escalated):
    escalated.post(
        {
            "events": [
                observe("tone", "brief"),
                event("csat", score=4, phase="bot"),
                turn("my email is dana@example.com"),
            ]
        }
    )
    handoffs_before = Handoff.objects.count()
    # when
    call_command("customer_erase", CUSTOMER["id"], "--yes", stdout=StringIO())
    # then: nothing that identifies or describes the person is left
    customer = Customer.objects.get()
    assert customer.external_id.startswith("erased-") and not customer.name and not customer.email
    assert not Observation.objects.exists() and not Belief.objects.exists()
    assert set(Turn.objects.values_list("text", flat=True)) == {""}
    assert Conversation.objects.get().context == {}
    everything = json.dumps(list(Handoff.objects.values("frame", "reason", "note")), default=str)
    assert "dana" not in everything.lower() and "bill" not in everything
    # and the aggregates still count
    assert Handoff.objects.count() == handoffs_before
    assert list(CsatRating.objects.values_list("score", flat=True)) == [4]
    assert Turn.objects.exclude(sentiment=None).exists()
    assert AuditEvent.objects.filter(action="erase", customer_ref=customer.external_id).exists()
    assert not AuditEvent.objects.filter(customer_ref=CUSTOMER["id"]).exists()


# --- concurrency ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_concurrent_writers_never_lose_an_observation(bot_client):
    bot_client.post(turn("Hi", first=True))
    customer = Customer.objects.get()
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    writes = [
        ("preferred_channel", ["chat", "email", "phone"][n % 3], 0.3 + (n % 7) / 10, n) for n in range(24)
    ]
    barrier = threading.Barrier(8)

    def writer(offset: int) -> None:
        try:
            barrier.wait()
            for key, value, confidence, n in writes[offset::8]:
                observation_record(
                    customer=customer,
                    key=key,
                    value=value,
                    confidence=confidence,
                    scope="general",
                    source="bot",
                    source_ref=f"bot-{n % 4}",
                    observed_at=start + timedelta(minutes=n),
                )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then: every observation is stored and the belief equals the sequential aggregate of all of them
    stored = list(Observation.objects.filter(customer=customer))
    assert len(stored) == len(writes)
    expected = rules.aggregate(
        [as_rule_observation(row) for row in stored], now=start + timedelta(minutes=len(writes) - 1)
    )
    belief = Belief.objects.get(customer=customer, key="preferred_channel")
    assert (belief.value, belief.confidence, belief.history) == (
        expected.value,
        expected.confidence,
        expected.history,
    )
