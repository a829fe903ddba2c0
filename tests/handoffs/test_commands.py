"""create_bot and create_agent: the stable way scripts and tests set Warmline up."""

import json
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from handoffs.models import ApiToken, Bot
from handoffs.services.agents import token_digest

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_bot_json_prints_id_and_secret_once():
    # when
    data = json.loads(
        run("create_bot", "Helper", "--team", "Support", "--callback-url", "http://127.0.0.1:9/cb", "--json")
    )
    # then
    bot = Bot.objects.get(bot_id=data["bot_id"])
    assert data["secret"].startswith("whsec_") and len(data["secret"]) > 40
    assert bot.callback_url == "http://127.0.0.1:9/cb"
    assert bot.team.name == "Support"
    assert bot.secrets.get().secret == data["secret"]


def test_create_bot_rejects_unknown_scopes():
    with pytest.raises(CommandError, match="Unknown scope"):
        run("create_bot", "Helper", "--team", "Support", "--scopes", "general,everything")


def test_create_agent_json_with_token():
    # when
    data = json.loads(
        run(
            "create_agent",
            "ada",
            "--team",
            "Billing",
            "--skills",
            "refunds,cards",
            "--languages",
            "en,es",
            "--supervisor",
            "--token",
            "--json",
        )
    )
    # then
    assert set(data) == {"username", "password", "token"}
    user = authenticate(username="ada", password=data["password"])
    assert user is not None
    profile = user.agent
    assert profile.is_supervisor
    assert profile.skills == ["refunds", "cards"] and profile.languages == ["en", "es"]
    assert [team.name for team in profile.teams.all()] == ["Billing"]
    # only a digest of the token is stored
    stored = ApiToken.objects.get(user=user)
    assert stored.digest == token_digest(data["token"]) and data["token"] not in stored.digest


def test_create_agent_without_token_prints_null_token():
    data = json.loads(run("create_agent", "bo", "--team", "Support", "--json"))
    assert data["token"] is None


def test_create_agent_refuses_a_taken_username():
    run("create_agent", "ada", "--team", "Support")
    with pytest.raises(CommandError, match="already exists"):
        run("create_agent", "ada", "--team", "Support")
