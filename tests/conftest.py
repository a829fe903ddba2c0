import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.botclient import BotClient
from tests.factories import AgentFactory, TeamFactory, make_bot

# Property tests check what is computed, never how fast: Hypothesis's per-example deadline and its
# "generation is slow" check are timings, and on a loaded 2-core CI machine they failed correct code.
hypothesis_settings.register_profile("warmline", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("warmline")


@pytest.fixture
def support_team(db):
    return TeamFactory(name="Support")


@pytest.fixture
def bot_and_secret(db, support_team):
    return make_bot(team=support_team.name)


@pytest.fixture
def bot(bot_and_secret):
    return bot_and_secret[0]


@pytest.fixture
def bot_client(bot_and_secret) -> BotClient:
    bot, secret = bot_and_secret
    return BotClient(bot_id=bot.bot_id, secret=secret)


@pytest.fixture
def other_bot_client(db) -> BotClient:
    """Another tenant's bot: must never see the first bot's data."""
    other, secret = make_bot(team="Elsewhere")
    return BotClient(bot_id=other.bot_id, secret=secret)


@pytest.fixture
def agent(db, support_team):
    return AgentFactory(user__username="ada", teams=[support_team])


@pytest.fixture
def teammate(db, support_team):
    return AgentFactory(user__username="grace", teams=[support_team])


@pytest.fixture
def outsider(db):
    return AgentFactory(user__username="mallory", teams=[TeamFactory(name="Other team")])


@pytest.fixture(scope="session", autouse=True)
def _clean_test_redis():
    """Start from an empty Redis test database: no queued tasks or channel messages from a previous run."""
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test gets its own channel layer instance. channels_redis binds a layer's receive lock to the
    event loop of the first socket that waits on it; pytest-asyncio gives every async test a new loop, so a
    layer shared across tests failed now and then with "bound to a different event loop" under xdist."""
    yield
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture
def token_for():
    """An API token for a persona (the same service as ``create_agent --token``)."""
    from handoffs.services.agents import api_token_create

    def make(profile) -> str:
        return api_token_create(user=profile.user)

    return make


@pytest.fixture
def api_as(token_for):
    """An agent API client for a persona."""
    from tests.agentclient import AgentClient

    return lambda profile: AgentClient(token=token_for(profile))


@pytest.fixture
def escalate(bot_client):
    """Stream a short conversation and escalate it; returns the new handoff's id."""
    from tests.botclient import escalation, turn

    def make(conversation: str = "c-1", **data) -> str:
        bot_client.post(
            turn("My order #KX-48213 never arrived and I'm annoyed.", conversation=conversation, first=True)
        )
        bot_client.post(
            turn("I'm sorry to hear that. I'll look into it.", role="bot", conversation=conversation)
        )
        response = bot_client.post(escalation(conversation, **data))
        assert response.status_code == 201, response.content
        return response.json()["handoff"]["id"]

    return make
