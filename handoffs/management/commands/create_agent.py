import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoffs.errors import DomainError
from handoffs.management.commands.create_bot import comma_list
from handoffs.services.agents import agent_create, api_token_create


class Command(BaseCommand):
    help = "Create an agent (or supervisor) in a team and print the password (and an API token)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--team", required=True, help="Team (created if missing).")
        parser.add_argument("--skills", type=comma_list, default=[])
        parser.add_argument("--languages", type=comma_list, default=["en"])
        parser.add_argument("--supervisor", action="store_true")
        parser.add_argument("--token", action="store_true", help="Also create an API token.")
        parser.add_argument("--password", default=None, help="Use this password instead of a random one.")
        parser.add_argument("--name", default="", help="Display name.")
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object: username, password, token."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            profile, password = agent_create(
                username=options["username"],
                team_name=options["team"],
                skills=options["skills"],
                languages=options["languages"],
                supervisor=options["supervisor"],
                password=options["password"],
                display_name=options["name"],
            )
        except DomainError as error:
            raise CommandError(error.detail) from error
        token = api_token_create(user=profile.user) if options["token"] else None
        if options["json"]:
            self.stdout.write(
                json.dumps({"username": profile.user.username, "password": password, "token": token})
            )
            return
        role = "supervisor" if profile.is_supervisor else "agent"
        self.stdout.write(f"Created {role} {profile.user.username!r} in team {options['team']!r}.")
        self.stdout.write(f"password: {password}")
        if token:
            self.stdout.write(f"token: {token}  (shown once)")
