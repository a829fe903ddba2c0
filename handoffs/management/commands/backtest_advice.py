"""``python manage.py backtest_advice [--fixtures FILE ...]``: when would the escalation advice have fired?"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from handoffs import backtest
from handoffs.demo.scenarios import SCENARIOS


class Command(BaseCommand):
    help = "Replay conversations turn by turn and compare the escalation advice with the bots' escalations."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--fixtures",
            nargs="*",
            default=[],
            help="JSON files of conversations ({id, turns: [[role, text]], escalation?}), e.g. the shared fixtures.",
        )
        parser.add_argument(
            "--no-scenarios", action="store_true", help="Leave out the simulator's scenarios."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        cases = [] if options["no_scenarios"] else [backtest.from_scenario(s) for s in SCENARIOS]
        for path in options["fixtures"]:
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, ValueError) as exc:
                raise CommandError(f"{path}: {exc}") from exc
            conversations = data["conversations"] if isinstance(data, dict) else data
            cases.extend(backtest.from_fixture(conversation) for conversation in conversations)
        if not cases:
            raise CommandError("Nothing to replay.")
        outcomes = [backtest.replay(case) for case in cases]
        width = max(len(outcome.name) for outcome in outcomes)
        for outcome in outcomes:
            fired = "-" if outcome.fired_at_customer_turn is None else outcome.fired_at_customer_turn
            escalated = (
                "-" if outcome.escalated_at_customer_turn is None else outcome.escalated_at_customer_turn
            )
            self.stdout.write(
                f"{outcome.name:<{width}}  {outcome.verdict:<15}  fired at customer turn {fired}, "
                f"escalated at {escalated}  {'; '.join(outcome.reasons)}"
            )
        counts = backtest.summary(outcomes)
        self.stdout.write("")
        self.stdout.write(
            f"{len(outcomes)} conversations: "
            + ", ".join(f"{name} {count}" for name, count in counts.most_common())
        )
