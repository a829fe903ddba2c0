from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoffs.errors import DomainError
from handoffs.management.commands.create_bot import comma_list
from handoffs.models import Team
from handoffs.services.bots import team_set_scopes


class Command(BaseCommand):
    help = "Show or set the self-model scopes a team may read (general, billing, technical, sensitive)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("team")
        parser.add_argument("--set", type=comma_list, default=None, dest="scopes")

    def handle(self, *args: Any, **options: Any) -> None:
        team = Team.objects.filter(name=options["team"]).first()
        if team is None:
            raise CommandError(f"No team named {options['team']!r}.")
        if options["scopes"] is not None:
            try:
                team = team_set_scopes(team=team, scopes=options["scopes"])
            except DomainError as error:
                raise CommandError(error.detail) from error
        self.stdout.write(f"{team.name}: {', '.join(team.scopes)}")
