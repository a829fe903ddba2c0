"""Teams, each with a bot and an agent, in the private database, through the product's own services.

Run by the fault tests with the private DATABASE_URL as ``python -m tests.faults.seed [--migrate] NAME…``
(migrating first saves a second Django start-up); prints a JSON list with one object per name: bot_id,
secret, username, password, token (the agent's API token), team.
"""

import json
import sys
from typing import Any

PASSWORD = "correct horse battery staple"


def seed(name: str) -> dict[str, Any]:
    from handoffs.services.agents import agent_create, api_token_create
    from handoffs.services.bots import bot_create

    team = f"Faults {name}"
    bot, secret = bot_create(name=f"bot-{name}", team_name=team)
    profile, _ = agent_create(
        username=f"agent-{name}", team_name=team, skills=[], languages=["en"], password=PASSWORD
    )
    return {
        "bot_id": bot.bot_id,
        "secret": secret,
        "username": profile.user.username,
        "password": PASSWORD,
        "token": api_token_create(user=profile.user),
        "team": team,
    }


def main(args: list[str]) -> None:
    import django

    django.setup()
    if args and args[0] == "--migrate":
        from django.core.management import call_command

        call_command("migrate", "--noinput", verbosity=0)
        args = args[1:]
    print(json.dumps([seed(name) for name in args]))


if __name__ == "__main__":
    main(sys.argv[1:])
