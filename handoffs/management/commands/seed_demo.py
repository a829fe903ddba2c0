"""Demo data for ``make demo``: teams, agents with printed passwords, a supervisor, a bot and the
knowledge-base articles in handoffs/demo/kb.

Idempotent: a second run keeps the data and gives the demo people fresh passwords, printed again.
"""

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from handoffs.knowledge import kb_import
from handoffs.models import Bot
from handoffs.reference_bot import NAME as REFERENCE_BOT_NAME
from handoffs.reference_bot import reference_bot_create
from handoffs.services.agents import agent_create
from handoffs.services.bots import bot_create, bot_rotate_secret, team_get_or_create

TEAMS = [("Support", 45), ("Billing", 45), ("Technical", 60)]
PEOPLE = [
    # username, display name, team, skills, languages, supervisor
    ("ada", "Ada Okafor", "Support", ["orders", "returns"], ["en"], False),
    ("grace", "Grace Liu", "Support", ["orders", "claims"], ["en", "es"], False),
    ("lucia", "Lucía Martín", "Billing", ["refunds", "cards"], ["es", "en"], False),
    ("sam", "Sam Patel", "Technical", ["connectivity", "licensing"], ["en"], False),
    ("morgan", "Morgan Blake", "Support", [], ["en"], True),
]
BOT_NAME = "Demo assistant"
DEMO_KB = Path(__file__).resolve().parents[2] / "demo" / "kb"


class Command(BaseCommand):
    help = "Seed demo teams, people and a bot (prints passwords and the bot's secret)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        for team_name, prepare_seconds in TEAMS:
            team = team_get_or_create(name=team_name)
            team.prepare_seconds = prepare_seconds
            team.save(update_fields=["prepare_seconds", "updated_at"])
        lines = []
        users = get_user_model().objects
        for username, display, home_team, skills, languages, supervisor in PEOPLE:
            password = secrets.token_urlsafe(9)
            if users.filter(username=username).exists():
                user = users.get(username=username)
                user.set_password(password)
                user.save(update_fields=["password"])
            else:
                agent_create(
                    username=username,
                    team_name=home_team,
                    skills=skills,
                    languages=languages,
                    supervisor=supervisor,
                    password=password,
                    display_name=display,
                )
            role = "supervisor" if supervisor else "agent"
            lines.append(f"  {username:<8} {password:<14} {role:<10} {home_team}")
        bot = Bot.objects.filter(name=BOT_NAME).first()
        if bot is None:
            bot, secret = bot_create(
                name=BOT_NAME, team_name="Support", scopes=["general", "billing", "technical"]
            )
        else:
            secret = bot_rotate_secret(bot=bot)
        # The demo's own tools (simulator, reference bot) read the credentials from here.
        credentials = Path(settings.BASE_DIR) / ".demo-bot.json"
        credentials.write_text(json.dumps({"bot_id": bot.bot_id, "secret": secret}))
        credentials.chmod(0o600)
        # The reference bot behind the customer chat widget; its callbacks come back to this server.
        public_url = (
            os.environ.get("WARMLINE_PUBLIC_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        )
        reference = Bot.objects.filter(name=REFERENCE_BOT_NAME).first() or reference_bot_create()[0]
        reference.callback_url = public_url + reverse("widget:callback", kwargs={"bot_id": reference.bot_id})
        reference.save(update_fields=["callback_url", "updated_at"])
        kb = kb_import(DEMO_KB)
        self.stdout.write("\nDemo people (username, password, role, team):")
        self.stdout.write("\n".join(lines))
        self.stdout.write(f"\nDemo bot: {bot.bot_id}  (secret in {credentials.name})")
        chat_path = reverse("widget:chat", kwargs={"bot_id": reference.bot_id})
        self.stdout.write(
            f"Customer chat: {public_url}{chat_path}  (embed snippet: {public_url}{chat_path}embed)"
        )
        self.stdout.write(f"Knowledge base: {kb.total} demo articles ({len(kb.created)} new)\n")
