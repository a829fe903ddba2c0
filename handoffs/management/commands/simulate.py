"""``manage.py simulate --conversations N --rate R [--bot BOT]``: simulated customers, sent as an external
bot would send them.

Plays the scripted conversations of ``handoffs.demo.scenarios`` against a running console over the
signed bot API (see ``handoffs.demo.simulator``): N conversations (default: until Ctrl-C), R new ones per
second, as bot BOT. Without ``--bot`` it is the demo bot whose credentials ``seed_demo`` wrote to
``.demo-bot.json``; with ``--bot`` the bot's newest active secret is read from the database (or from
the bot file, when it holds that bot). Prints one line per escalation (``-v 2`` also tells when people
connect and handoffs end) and a summary at the end; ``--json`` writes the summary for scripts (the
benchmarks). The bot's secret is never printed.
"""

import json
import random
import secrets
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoffs.demo.simulator import BotAPI, Credentials, Pace, Simulator, SimulatorError
from handoffs.selectors import bot_signing_secret


def _positive(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(value)
    return number


def _rate(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Simulate customers: N conversations at R new ones per second, streamed to the console over the "
        "signed bot API; each escalates, and the customers answer the agents."
    )
    requires_system_checks: list[str] = []  # talks HTTP; reads the database only for --bot's secret

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--conversations",
            type=int,
            default=None,
            metavar="N",
            help="Conversations to run in all (default: until Ctrl-C).",
        )
        parser.add_argument(
            "--rate",
            type=_rate,
            default=0.025,
            metavar="R",
            help="New conversations per second (default 0.025: one every 40 s).",
        )
        parser.add_argument(
            "--bot",
            default=None,
            metavar="BOT",
            help="Bot id to send as (its secret is read from the database); default: the demo bot of --bot-file.",
        )
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The console's base URL.")
        parser.add_argument(
            "--burst", type=int, default=0, help="Conversations to start at once first, quickly (default 0)."
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
            "--run-id",
            default=None,
            help="Tag in every conversation id and webhook-id of this run (default: random).",
        )
        parser.add_argument(
            "--json", default=None, metavar="PATH", help="Also write the summary as JSON here."
        )
        parser.add_argument(
            "--startup-timeout",
            type=_positive,
            default=60.0,
            help="Seconds to keep retrying while the server is not answering (default 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["conversations"] is not None and options["conversations"] < 1:
            raise CommandError("--conversations must be at least 1.")
        credentials = _credentials(options["bot"], options["bot_file"])
        lock = threading.Lock()
        verbosity = options["verbosity"]

        def log(message: str, *, verbose: bool = False) -> None:
            if (verbose and verbosity < 2) or verbosity < 1:
                return
            with lock:
                self.stdout.write(f"{datetime.now():%H:%M:%S} simulate  {message}")
                self.stdout.flush()

        rng = random.Random(options["seed"])
        run_id = options["run_id"] or secrets.token_hex(3)  # never from --seed: two runs must not collide
        api = BotAPI(options["url"], credentials, startup_timeout=options["startup_timeout"], run_id=run_id)
        simulator = Simulator(
            api,
            rate=options["rate"],
            count=options["conversations"],
            burst=options["burst"],
            pace=Pace(scale=options["pace"], patience_seconds=options["patience"]),
            rng=rng,
            log=log,
        )
        count = (
            "until Ctrl-C"
            if options["conversations"] is None
            else f"{options['conversations']} conversations"
        )
        log(
            f"bot {credentials.bot_id} → {api.base_url}: {simulator.rate:g} new conversation(s)/s "
            f"(one every {1 / simulator.rate:.3g} s), {count}, run {run_id}"
            + (f"; {simulator.burst} at once first" if simulator.burst else "")
        )
        try:
            simulator.run()
        except SimulatorError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            api.stop.set()
            log("stopped")
        finally:
            api.stop.set()
            api.close()
        summary = simulator.summary()
        for line in summary.lines():
            self.stdout.write(f"{datetime.now():%H:%M:%S} simulate  {line}")
        if options["json"]:
            Path(options["json"]).write_text(json.dumps(summary.as_dict(), indent=2) + "\n")


def _credentials(bot_id: str | None, bot_file: str) -> Credentials:
    path = _bot_file(bot_file)
    try:
        if bot_id is None:
            return Credentials.from_file(path)
        if path.exists():
            stored = Credentials.from_file(path)
            if stored.bot_id == bot_id:
                return stored
    except SimulatorError as exc:
        raise CommandError(str(exc)) from None
    secret = bot_signing_secret(bot_id)
    if secret is None:
        raise CommandError(f"No active bot {bot_id} with an unexpired signing secret in the database.")
    return Credentials(bot_id=bot_id, secret=secret)


def _bot_file(name: str) -> Path:
    path = Path(name)
    if path.is_absolute() or path.exists():
        return path
    return Path(settings.BASE_DIR) / path
