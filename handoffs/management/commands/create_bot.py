import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoffs.errors import DomainError
from handoffs.services.bots import bot_create


def comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Command(BaseCommand):
    help = "Register a bot and print its id and signing secret (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--team", required=True, help="Default team (created if missing).")
        parser.add_argument("--callback-url", default="", help="Where callbacks are POSTed.")
        parser.add_argument(
            "--scopes",
            type=comma_list,
            default=["general"],
            help="Self-model scopes the bot may read, comma-separated.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object: bot_id, secret.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            bot, secret = bot_create(
                name=options["name"],
                team_name=options["team"],
                callback_url=options["callback_url"],
                scopes=options["scopes"],
            )
        except DomainError as error:
            raise CommandError(error.detail) from error
        if options["json"]:
            self.stdout.write(json.dumps({"bot_id": bot.bot_id, "secret": secret, "team": bot.team.name}))
            return
        self.stdout.write(f"Bot {bot.name!r} registered in team {bot.team.name!r}.")
        self.stdout.write(f"bot_id: {bot.bot_id}")
        self.stdout.write(f"secret: {secret}")
        self.stdout.write("Keep the secret now: it is not shown again.")
