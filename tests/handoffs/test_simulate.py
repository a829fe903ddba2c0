"""The demo's traffic simulator: its scripts are valid bot events, and it drives a live server only
through the signed public API (pytest-django's ``live_server``, plain HTTP over httpx)."""

import json
import re
import threading
import time
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from pydantic import TypeAdapter

from handoffs.demo.scenarios import BY_KEY, SCENARIOS
from handoffs.demo.simulator import (
    BotAPI,
    ConversationRun,
    Credentials,
    CredentialsRejected,
    Pace,
    ServerUnavailable,
    Simulator,
)
from handoffs.models import Conversation, CsatRating, Handoff, InboundRequest, Turn
from handoffs.schemas import Event

EVENT = TypeAdapter(Event)
REASON_CODES = {
    "customer_request",
    "authority_required",
    "frustration",
    "complexity",
    "repeated_failure",
    "language",
}
FAST = Pace(scale=0, poll_seconds=0.05, patience_seconds=20, stay_seconds=20, follow_up_gap=(0, 0))


# --- the scripts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.key)
def test_every_scenario_event_parses_as_a_bot_event(scenario):
    events = scenario.all_events("sim-c-1", "sim-u-1")
    parsed = [EVENT.validate_python(event) for event in events]
    assert parsed[0].customer is not None and parsed[0].customer.locale == scenario.locale
    types = Counter(event.type for event in parsed)
    assert types["classification"] == 1
    assert types["escalation"] == 1
    assert types["step"] >= 1
    turns = [event.data for event in parsed if event.type == "turn"]
    assert {"customer", "bot"} <= {turn.role for turn in turns}
    escalation = next(event.data for event in parsed if event.type == "escalation")
    assert escalation.reason_code in REASON_CODES
    assert scenario.follow_ups, "the agent's chat should show the customer talking"
    if scenario.locale == "es":
        assert escalation.language == "es"


def test_the_scenarios_are_varied():
    assert len(SCENARIOS) >= 12
    assert len(BY_KEY) == len(SCENARIOS), "keys are unique"
    assert {s.industry for s in SCENARIOS} == {"retail", "billing", "telecom", "travel", "saas", "insurance"}
    assert 2 <= sum(s.locale == "es" for s in SCENARIOS) <= 3
    assert {s.mood for s in SCENARIOS} == {"calm", "concerned", "angry", "improving"}
    assert len({s.escalation.reason_code for s in SCENARIOS}) >= 5
    assert len({s.escalation.urgency for s in SCENARIOS}) >= 3
    with_commitments = [
        s for s in SCENARIOS if any(e["type"] == "commitment" for e in s.all_events("c", "u"))
    ]
    assert len(with_commitments) >= 6


def test_runs_get_fresh_ids():
    api = BotAPI("http://127.0.0.1:9", Credentials("bot_x", "whsec_x"))
    first, second = (ConversationRun(api, SCENARIOS[0]) for _ in range(2))
    assert first.conversation_id != second.conversation_id
    assert first.customer_id != second.customer_id


# --- against a live server ------------------------------------------------------------------------


@pytest.fixture
def bot_api(live_server, bot_and_secret):
    bot, secret = bot_and_secret
    api = BotAPI(live_server.url, Credentials(bot.bot_id, secret), startup_timeout=5)
    yield api
    api.stop.set()
    api.close()


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def _announced(run):
    return (
        bool(run.result.announcement)
        and Turn.objects.filter(
            conversation__external_id=run.conversation_id, role="bot", text=run.result.announcement
        ).exists()
    )


def _queued(agent_api, conversation_id):
    for item in agent_api.get("/queue").json()["handoffs"]:
        if item["conversation_id"] == conversation_id:
            return item["id"]
    return None


def test_two_conversations_escalate_connect_and_finish_over_http(bot_api, bot, agent, api_as):
    lines = []
    runs = [
        ConversationRun(bot_api, BY_KEY[key], pace=FAST, log=lambda m, verbose=False: lines.append(m))
        for key in ("billing-double-charge", "retail-es-cafetera")
    ]
    threads = [threading.Thread(target=run.run, daemon=True) for run in runs]
    for thread in threads:
        thread.start()

    # A person takes both from the queue through the agent API, as someone at the console would. One
    # conversation is in Spanish: Spanish speakers see it first (routing's language-first window).
    agent.languages = ["en", "es"]
    agent.save(update_fields=["languages"])
    as_agent = api_as(agent)
    for run in runs:
        handoff_id = _wait_for(lambda run=run: _queued(as_agent, run.conversation_id))
        # Claim once the bot has read the announcement: a person connected first would (rightly) get its
        # bot turn refused with 409, and the check below would race the claim.
        _wait_for(lambda run=run: _announced(run))
        assert as_agent.post(f"/handoffs/{handoff_id}/claim").status_code == 200
        assert as_agent.post(f"/handoffs/{handoff_id}/connect").status_code == 200
    for run in runs:
        _wait_for(lambda run=run: run.result.follow_ups_sent == len(run.scenario.follow_ups))
    first, second = runs
    assert (
        as_agent.post(f"/handoffs/{first.result.handoff_id}/resolve", {"resolution": "Refunded"}).status_code
        == 200
    )
    assert (
        as_agent.post(f"/handoffs/{second.result.handoff_id}/return-to-bot", {"note": "Done"}).status_code
        == 200
    )
    for thread in threads:
        thread.join(timeout=20)
        assert not thread.is_alive()

    for run in runs:
        result = run.result
        assert result.error is None
        conversation = Conversation.objects.get(bot=bot, external_id=run.conversation_id)
        assert conversation.customer.external_id == run.customer_id
        assert conversation.customer.locale == run.scenario.locale
        handoff = Handoff.objects.get(conversation=conversation)
        assert str(handoff.id) == result.handoff_id
        assert handoff.reason_code == run.scenario.escalation.reason_code
        texts = list(conversation.turns.filter(role="customer").values_list("text", flat=True))
        assert texts[-len(run.scenario.follow_ups) :] == list(run.scenario.follow_ups)
        # The bot read the console's announcement to the customer while they waited.
        assert conversation.turns.filter(role="bot", text=result.announcement).exists()
    # Every event went through a verified signature: each applied request is one stored webhook-id.
    assert InboundRequest.objects.filter(bot=bot).count() == sum(run.result.events_sent for run in runs)
    assert first.result.status == "resolved"
    assert (
        CsatRating.objects.filter(conversation__external_id=first.conversation_id, phase="human").count() == 1
    )
    assert second.result.status == "returned_to_bot"
    assert Turn.objects.filter(
        conversation__external_id=second.conversation_id, role="bot", text=second.scenario.back_to_bot
    ).exists()
    assert sum(line.startswith("escalated") for line in lines) == 2
    assert all(bot_api._secret not in line for line in lines)


def test_a_bot_turn_refused_with_409_silences_the_bot(bot_api, bot, agent, api_as):
    run = ConversationRun(bot_api, BY_KEY["telecom-roaming-bill"], pace=FAST)
    run.play_script()
    run.escalate()
    as_agent = api_as(agent)
    handoff_id = run.result.handoff_id
    assert as_agent.post(f"/handoffs/{handoff_id}/claim").status_code == 200
    assert as_agent.post(f"/handoffs/{handoff_id}/connect").status_code == 200
    sent = run.result.events_sent

    assert run.say_bot("Is there anything else?") is False
    assert run.bot_silenced and run.result.bot_turns_refused == 1
    assert run.say_bot("Hello?") is False  # not even tried again
    assert run.result.bot_turns_refused == 1
    run.say_customer("Still here!")  # the customer talks on
    assert run.result.events_sent == sent + 1
    conversation = Conversation.objects.get(bot=bot, external_id=run.conversation_id)
    assert not conversation.turns.filter(text__in=["Is there anything else?", "Hello?"]).exists()
    assert conversation.turns.filter(role="customer", text="Still here!").exists()


def test_wrong_secret_stops_the_simulator_and_is_reported_without_the_secret(live_server, bot, tmp_path):
    wrong = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    api = BotAPI(live_server.url, Credentials(bot.bot_id, wrong), startup_timeout=5)
    simulator = Simulator(api, rate=1 / 60, count=5, burst=2, pace=FAST)
    started = time.monotonic()
    with pytest.raises(CredentialsRejected) as caught:
        simulator.run()
    assert time.monotonic() - started < 10, "the first 401 stops everything; no waiting for the schedule"
    assert len(simulator.runs) == 2
    assert wrong not in str(caught.value) and "QUJDREVG" not in str(caught.value)
    assert wrong not in repr(api) and wrong not in repr(Credentials(bot.bot_id, wrong))
    assert not Conversation.objects.exists()

    bot_file = tmp_path / "bot.json"
    bot_file.write_text(json.dumps({"bot_id": bot.bot_id, "secret": wrong}))
    with pytest.raises(CommandError, match="rejected") as caught:
        call_command(
            "simulate", url=live_server.url, conversations=1, burst=1, pace=0, bot_file=str(bot_file)
        )
    assert "QUJDREVG" not in str(caught.value)


def test_connection_refused_is_retried_then_reported():
    api = BotAPI("http://127.0.0.1:9", Credentials("bot_x", "whsec_eA=="), startup_timeout=0.6)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable):
        api.get("/handoffs/x")
    assert time.monotonic() - started >= 0.5  # it kept trying while the "server was starting"


def test_simulator_bursts_and_customers_give_up_when_nobody_comes(bot_api, bot):
    impatient = Pace(scale=0, poll_seconds=0.05, patience_seconds=0.3, stay_seconds=1)
    simulator = Simulator(bot_api, rate=10, count=3, burst=2, pace=impatient)
    results = simulator.run()
    assert len(results) == 3
    assert len({result.scenario for result in results}) == 3  # no repeats before every scenario played
    assert all(result.error is None and result.status == "abandoned" for result in results)
    assert Handoff.objects.filter(conversation__bot=bot, status="abandoned").count() == 3


def test_the_command_prints_one_line_per_escalation_a_summary_and_never_the_secret(
    live_server, bot_and_secret, tmp_path, capsys
):
    bot, secret = bot_and_secret
    bot_file = tmp_path / "bot.json"
    bot_file.write_text(json.dumps({"bot_id": bot.bot_id, "secret": secret}))
    call_command(
        "simulate",
        url=live_server.url,
        conversations=2,
        rate=10,
        pace=0,
        patience=0.2,
        bot_file=str(bot_file),
        seed=7,
    )
    out = capsys.readouterr().out
    assert len(re.findall(r" escalated ", out)) == 2
    assert "2 conversations started, 2 escalated" in out
    sent = int(re.search(r"events sent (\d+), accepted (\d+), refused 0 .*, errors 0", out).group(1))
    assert re.search(rf"events sent {sent}, accepted {sent},", out)
    assert sent == InboundRequest.objects.filter(bot=bot).count()
    assert secret not in out and secret.removeprefix("whsec_") not in out
    assert Handoff.objects.filter(conversation__bot=bot).count() == 2


def test_the_documented_shape_with_a_bot_id_reads_its_secret_and_writes_a_json_summary(
    live_server, bot, tmp_path, capsys
):
    """``simulate --conversations N --rate R --bot BOT``: no bot file; what it reports is what was stored."""
    path = tmp_path / "summary.json"
    call_command(
        "simulate",
        url=live_server.url,
        conversations=3,
        rate=8,
        bot=bot.bot_id,
        bot_file=str(tmp_path / "none.json"),
        pace=0,
        patience=0.3,
        json=str(path),
        verbosity=0,
    )
    summary = json.loads(path.read_text())
    run_id = summary["run_id"]
    assert summary["conversations"] == summary["escalations"] == 3
    assert summary["errors"] == summary["failed_attempts"] == summary["refused"] == 0
    assert summary["events_sent"] == summary["accepted"] > 3 * 8
    assert set(summary["statuses"]) <= {"200", "201"}
    assert summary["post_p95_ms"] >= summary["post_p50_ms"] > 0
    # Every accepted event is one applied request of this run, stored once; every conversation is tagged.
    stored = InboundRequest.objects.filter(bot=bot, webhook_id__startswith=f"msg_{run_id}_")
    assert stored.count() == summary["accepted"]
    conversations = Conversation.objects.filter(bot=bot)
    assert conversations.count() == 3
    assert all(conversation.external_id.startswith(f"sim-{run_id}-") for conversation in conversations)
    turns = Turn.objects.filter(conversation__in=conversations, role__in=["customer", "bot"]).count()
    assert turns == summary["accepted_by_type"]["turn"]
    assert (
        Handoff.objects.filter(conversation__in=conversations).count()
        == summary["accepted_by_type"]["escalation"]
    )
    out = capsys.readouterr().out
    assert "3 conversations started, 3 escalated" in out  # the summary prints even at verbosity 0


def test_an_unknown_bot_id_is_explained(db, tmp_path):
    with pytest.raises(CommandError, match="No active bot bot_nobody"):
        call_command("simulate", bot="bot_nobody", bot_file=str(tmp_path / "none.json"), conversations=1)


def test_conversations_start_on_the_rate_schedule(bot_api, bot):
    impatient = Pace(scale=0, poll_seconds=0.05, patience_seconds=0.2, stay_seconds=1)
    simulator = Simulator(bot_api, rate=5, count=4, pace=impatient)
    results = simulator.run()
    starts = sorted(result.started_at for result in results)
    # Never ahead of the schedule: the i-th conversation starts i/rate seconds after the first, or later.
    assert all(later - starts[0] >= index / 5 - 0.01 for index, later in enumerate(starts))
    summary = simulator.summary()
    assert summary.conversations == summary.escalations == 4 and summary.errors == 0
    assert summary.start_late_max_s >= 0


def test_the_command_explains_a_missing_bot_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read bot credentials"):
        call_command("simulate", bot_file=str(tmp_path / "missing.json"))
