"""The escalation-advice backtest: verdicts from synthetic conversations, and the command's report."""

import json

import pytest
from django.core.management import call_command

from handoffs.backtest import Replay, replay

ANGRY = "This is the third time I'm asking!! I want a human NOW."


@pytest.mark.parametrize(
    ("beats", "escalate_at", "verdict"),
    [
        (
            [("customer", "Hi, where is my parcel?"), ("bot", "Let me check."), ("customer", ANGRY)],
            2,
            "on time",
        ),
        (
            [("customer", ANGRY), ("bot", "Sorry."), ("customer", "ok"), ("bot", "…"), ("customer", "fine")],
            4,
            "too early",
        ),
        ([("customer", "Hello"), ("bot", "Hi"), ("customer", ANGRY)], 1, "too late"),
        ([("customer", "Could you change my delivery address?"), ("bot", "Done.")], 1, "missed"),
        ([("customer", ANGRY)], None, "false alarm"),
        ([("customer", "Thanks, all good!")], None, "correctly quiet"),
    ],
)
def test_verdicts(beats, escalate_at, verdict):
    case = Replay(name="t", beats=[(role, text, "") for role, text in beats], escalate_at=escalate_at)
    assert replay(case).verdict == verdict


def test_the_command_reports_every_conversation(tmp_path, capsys):
    fixtures = tmp_path / "conversations.json"
    fixtures.write_text(
        json.dumps([{"id": "x-1", "turns": [["customer", ANGRY]], "escalation": {"reason": "r"}}]),
        encoding="utf-8",
    )
    call_command("backtest_advice", "--fixtures", str(fixtures), "--no-scenarios")
    out = capsys.readouterr().out
    assert "x-1" in out and "on time" in out and "1 conversations" in out
