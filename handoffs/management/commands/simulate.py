"""``manage.py simulate``: simulated customers for the demo, sent as an external bot would send them.

Plays the scripted conversations of ``handoffs.demo.scenarios`` against a running console over the
signed bot API (see ``handoffs.demo.simulator``), with the demo bot's credentials that ``seed_demo``
wrote to ``.demo-bot.json``. Prints one line per escalation; ``-v 2`` also tells when people connect
and handoffs end. The bot's secret is never printed.
"""

import random
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoffs.demo.simulator import BotAPI, Credentials, Pace, Simulator, SimulatorError


def _positive(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Simulate customers: stream scripted conversations to the console over the signed bot API and escalate them."
    requires_system_checks: list[str] = []  # talks HTTP only; needs no database

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The console's base URL.")
        parser.add_argument(
            "--every", type=_positive, default=40.0, help="Seconds between new conversations (default 40)."
        )
        parser.add_argument(
            "--count", type=int, default=None, help="Conversations to run in all (default: forever)."
        )
        parser.add_argument(
            "--burst", type=int, default=3, help="Conversations to start at once, quickly (default 3)."
        )
        parser.add_argument(
            "--bot-file", default=".demo-bot.json", help="Bot id and secret as seed_demo writes them."
        )
        parser.add_argument(
            "--pace", type=_positive, default=1.0, help="Multiplies the typing pauses (0: none; default 1)."
        )
        parser.add_argument(
            "--patience",
            type=_positive,
            default=900.0,
            help="Seconds a queued customer waits before leaving (0: forever; default 900).",
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed (scenario order, ids).")
        parser.add_argument(
            "--startup-timeout",
            type=_positive,
            default=60.0,
            help="Seconds to keep retrying while the server is not answering (default 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            credentials = Credentials.from_file(_bot_file(options["bot_file"]))
        except SimulatorError as exc:
            raise CommandError(str(exc)) from None
        lock = threading.Lock()
        verbosity = options["verbosity"]

        def log(message: str, *, verbose: bool = False) -> None:
            if verbose and verbosity < 2:
                return
            with lock:
                self.stdout.write(f"{datetime.now():%H:%M:%S} simulate  {message}")
                self.stdout.flush()

        api = BotAPI(options["url"], credentials, startup_timeout=options["startup_timeout"])
        simulator = Simulator(
            api,
            every=options["every"],
            count=options["count"],
            burst=options["burst"],
            pace=Pace(scale=options["pace"], patience_seconds=options["patience"]),
            rng=random.Random(options["seed"]),
            log=log,
        )
        count = "forever" if options["count"] is None else f"{options['count']} conversations"
        log(
            f"bot {credentials.bot_id} → {api.base_url}: {simulator.burst} at once, then one every "
            f"~{simulator.every:g} s ({count})"
        )
        try:
            results = simulator.run()
        except SimulatorError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            api.stop.set()
            log("stopped")
            return
        finally:
            api.stop.set()
        escalated = sum(1 for result in results if result.handoff_id)
        failed = sum(1 for result in results if result.error)
        log(f"done: {len(results)} conversations, {escalated} escalated, {failed} failed")


def _bot_file(name: str) -> Path:
    path = Path(name)
    if path.is_absolute() or path.exists():
        return path
    return Path(settings.BASE_DIR) / path
