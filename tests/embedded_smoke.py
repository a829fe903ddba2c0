"""Run by tests/test_deployment.py in a subprocess configured with the embedded default."""

import django

django.setup()

from django.conf import settings  # noqa: E402

from handoffs.services.bots import bot_create  # noqa: E402
from tests.botclient import BotClient, escalation, turn  # noqa: E402

assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
assert settings.CELERY_TASK_ALWAYS_EAGER

settings.ALLOWED_HOSTS.append("testserver")
bot, secret = bot_create(name="Smoke", team_name="Support")
client = BotClient(bot_id=bot.bot_id, secret=secret)
assert client.post(turn("I need a person", first=True)).status_code == 200
response = client.post(escalation())
assert response.status_code == 201, response.content
print("escalated:", response.json()["handoff"]["status"])
