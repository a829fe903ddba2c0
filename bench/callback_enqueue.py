"""The callbacks benchmark's producer, in its own process with Django (the bench process stays light).

``python -m bench.callback_enqueue setup --url URL --conversations C`` registers a bot calling back to URL
and opens C conversations for it through the ingest service; prints ``{"bot_id", "secret"}``.

``python -m bench.callback_enqueue enqueue --bot BOT --mode outbox|bare --count N --rate R --url URL``
makes N callbacks round-robin over the bot's conversations, R per second (0: as fast as it can):
- ``outbox``: the product's own path, ``callback_enqueue`` in a transaction (the outbox row, and the
  delivery task published when it commits);
- ``bare``: the baseline, the same body published as a plain Celery task (``bench.callback_tasks.post``).
Each body carries ``data.run`` (the label of this enqueue), ``data.n`` (its place in its conversation's line) and ``data.enqueued_at`` (Unix time,
taken just before enqueueing), which the receiver reads. Prints ``{"count", "seconds"}``.
"""

import argparse
import json
import sys
import time
import uuid

PREFIX = "cb-bench-"


def setup(url: str, conversations: int) -> dict[str, str]:
    from handoffs.services.bots import bot_create
    from handoffs.services.ingest import events_ingest

    bot, secret = bot_create(
        name=f"CallbackBench-{uuid.uuid4().hex[:6]}", team_name="Bench", callback_url=url
    )
    for index in range(conversations):
        body = {
            "type": "turn",
            "conversation_id": f"{PREFIX}{index:04d}",
            "customer": {"id": f"{PREFIX}u{index:04d}", "name": "Bench Customer"},
            "data": {"role": "customer", "text": "Hello"},
        }
        result = events_ingest(bot=bot, webhook_id=f"msg_{uuid.uuid4().hex}", body=json.dumps(body).encode())
        if result.status != 200:
            raise SystemExit(f"setup: ingest answered {result.status}: {result.body}")
    return {"bot_id": bot.bot_id, "secret": secret}


def enqueue(*, bot_id: str, mode: str, count: int, rate: float, url: str, run: str) -> dict[str, float]:
    from django.db import transaction
    from django.utils import timezone

    from console.celery import app
    from handoffs.clock import iso
    from handoffs.models import Bot, Conversation
    from handoffs.services.callbacks import callback_enqueue

    bot = Bot.objects.get(bot_id=bot_id)
    secret = bot.secrets.first()
    assert secret is not None
    conversations = list(Conversation.objects.filter(bot=bot).select_related("bot").order_by("external_id"))
    started = time.monotonic()
    for index in range(count):
        if rate > 0:
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        conversation = conversations[index % len(conversations)]
        data = {"text": "bench", "run": run, "n": index // len(conversations), "enqueued_at": time.time()}
        if mode == "outbox":
            with transaction.atomic():
                callback_enqueue(
                    conversation=conversation,
                    handoff=None,
                    type="message.created",
                    data=data,
                    at=timezone.now(),
                )
        else:
            body = {
                "type": "message.created",
                "handoff_id": None,
                "conversation_id": conversation.external_id,
                "occurred_at": iso(timezone.now()),
                "data": data,
            }
            app.send_task(
                "bench.callback_tasks.post",
                args=[url, json.dumps(body, separators=(",", ":")), f"msg_{uuid.uuid4().hex}", secret.secret],
            )
    return {"count": count, "seconds": time.monotonic() - started}


def main(argv: list[str]) -> None:
    import django

    django.setup()
    parser = argparse.ArgumentParser(prog="python -m bench.callback_enqueue")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("setup")
    make.add_argument("--url", required=True)
    make.add_argument("--conversations", type=int, required=True)
    run = sub.add_parser("enqueue")
    run.add_argument("--bot", required=True)
    run.add_argument("--mode", choices=("outbox", "bare"), required=True)
    run.add_argument("--count", type=int, required=True)
    run.add_argument("--rate", type=float, default=0.0)
    run.add_argument("--url", required=True)
    run.add_argument("--run", required=True, help="a label the receiver sorts arrivals by")
    args = parser.parse_args(argv)
    if args.command == "setup":
        print(json.dumps(setup(args.url, args.conversations)))
    else:
        summary = enqueue(
            bot_id=args.bot, mode=args.mode, count=args.count, rate=args.rate, url=args.url, run=args.run
        )
        print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
