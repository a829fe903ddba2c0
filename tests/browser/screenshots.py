"""``make screenshots``: the queue, the preparation view and the chat at 1280×800, in docs/screenshots/.

Sets up its own world in a throwaway SQLite database (migrate, seed_demo), serves it with daphne in the
embedded configuration (no Redis needed: tasks run on the server's own timer threads), streams a few
realistic conversations through the signed bot API over HTTP, signs Ada in and drives real headless
Chromium through the queue, a claim, the preparation window and the first minute of a chat.

    python -m tests.browser.screenshots [--out docs/screenshots] [--keep]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.browser import live

VIEWPORT = {"width": 1280, "height": 800}
DEMO_BOT_FILE = live.ROOT / ".demo-bot.json"


def ago(**delta: float) -> str:
    return (datetime.now(tz=UTC) - timedelta(**delta)).isoformat()


class Conversation:
    """A conversation as a bot streams it: events spread evenly over the last ``minutes``."""

    def __init__(self, external_id: str, customer: dict[str, str], *, minutes: float):
        self.id = external_id
        self.customer = customer
        self.minutes = minutes
        self.items: list[tuple[str, dict[str, Any]]] = []

    @property
    def events(self) -> list[dict[str, Any]]:
        start = datetime.now(tz=UTC) - timedelta(minutes=self.minutes)
        gap = timedelta(minutes=self.minutes) / len(self.items)
        events = []
        for index, (event_type, data) in enumerate(self.items):
            event: dict[str, Any] = {
                "type": event_type,
                "conversation_id": self.id,
                "occurred_at": (start + gap * index).isoformat(),
                "data": data,
            }
            if index == 0:
                event["customer"] = self.customer
            events.append(event)
        return events

    def add(self, event_type: str, **data: Any) -> "Conversation":
        self.items.append((event_type, data))
        return self

    def customer_says(self, text: str) -> "Conversation":
        return self.add("turn", role="customer", text=text)

    def bot_says(self, text: str) -> "Conversation":
        return self.add("turn", role="bot", text=text)


def conversations() -> list[Conversation]:
    """Five customers, each with a different mood, urgency and amount of context."""
    dana = (
        Conversation(
            "demo-dana",
            {"id": "cust-1042", "name": "Dana Reyes", "email": "dana.reyes@example.com", "locale": "en"},
            minutes=9,
        )
        .customer_says("Hi, my order #KX-48213 says delivered but nothing arrived.")
        .bot_says("I'm sorry about that, Dana. Let me look at the tracking for #KX-48213.")
        .add(
            "step",
            action="Checked the carrier tracking",
            outcome="failed",
            detail="Marked delivered on 12 May, no photo",
        )
        .bot_says("The carrier marks it delivered on 12 May. Could you confirm the delivery address?")
        .customer_says("14 Harbour Street, Leeds LS1 4AB. Same as always. My phone is 07700 900123.")
        .bot_says("Thanks. I've asked the carrier to investigate and I'll refund the delivery fee.")
        .add("commitment", text="Refund the £4.99 delivery fee", kind="refund", amount="4.99", currency="GBP")
        .add(
            "step",
            action="Opened a carrier claim",
            outcome="pending",
            detail="Claim CL-7731, answer within 48 h",
        )
        .add(
            "commitment",
            text="Email an update on the carrier claim within 24 hours",
            kind="follow_up",
            due=ago(hours=-23),
        )
        .customer_says("This is the second time this year. I don't want a fee back, I want my parcel.")
        .add(
            "step",
            action="Offered a replacement through self-service",
            outcome="failed",
            detail="Item out of stock in the warehouse",
        )
        .customer_says(
            "Honestly this is ridiculous. I've been waiting two weeks and nobody can tell me anything."
        )
        .add(
            "classification",
            issue_type="delivery_missing",
            complexity="high",
            intent="refund or reship",
            confidence=0.86,
        )
        .add("observation", key="preferred_contact", value="email", confidence=0.9, scope="general")
        .add("observation", key="loyalty_tier", value="gold", confidence=0.8, scope="general")
        .add(
            "escalation",
            reason="Parcel marked delivered but never arrived, second time this year",
            reason_code="customer_request",
            urgency="high",
            focus="Decide between a full refund and reshipping from another warehouse; the carrier claim is still open",
        )
    )
    marco = (
        Conversation(
            "demo-marco",
            {"id": "cust-2210", "name": "Marco Bianchi", "email": "marco@example.com", "locale": "en"},
            minutes=6,
        )
        .customer_says("You charged my card twice for the annual plan. €238 gone.")
        .bot_says("I can see two payments on 3 June. I'm checking whether one is a pending authorisation.")
        .add("step", action="Checked the payment provider", outcome="succeeded", detail="Both captured")
        .customer_says("This is unacceptable. I need that money back TODAY, my rent is due.")
        .add("classification", issue_type="double_charge", complexity="medium", intent="refund")
        .add(
            "escalation",
            reason="Double charge of €119, customer needs the refund today",
            reason_code="authority_required",
            urgency="critical",
            focus="Refund the duplicate payment",
        )
    )
    priya = (
        Conversation(
            "demo-priya",
            {"id": "cust-3318", "name": "Priya Nair", "email": "priya@example.com", "locale": "en"},
            minutes=4,
        )
        .customer_says("The return label you sent won't scan at the post office.")
        .bot_says("Sorry about that! I'll generate a new label for order #RT-1187.")
        .add("step", action="Regenerated the return label", outcome="failed", detail="Carrier API timeout")
        .customer_says("OK, I'm a bit worried the 30-day return window ends on Friday though.")
        .add("classification", issue_type="returns", complexity="low", intent="return label")
        .add(
            "escalation",
            reason="Return label fails, the return window closes Friday",
            reason_code="repeated_failure",
            urgency="normal",
        )
    )
    tomas = (
        Conversation(
            "demo-tomas",
            {"id": "cust-4471", "name": "Tomás García", "email": "tomas@example.com", "locale": "es"},
            minutes=3,
        )
        .customer_says("Hola, quiero cambiar la dirección de facturación de mi cuenta.")
        .bot_says("¡Claro! Para cambiarla necesito verificar tu identidad.")
        .customer_says("Gracias, prefiero hablar con una persona.")
        .add("classification", issue_type="account_change", complexity="low", intent="update billing address")
        .add(
            "escalation",
            reason="Wants a person to change the billing address",
            reason_code="customer_request",
            urgency="low",
        )
    )
    kenji = (
        Conversation(
            "demo-kenji",
            {"id": "cust-5150", "name": "Kenji Watanabe", "email": "kenji@example.com", "locale": "en"},
            minutes=2,
        )
        .customer_says("The blender arrived with a cracked jug.")
        .bot_says("I'm sorry! Could you send a photo of the damage?")
        .customer_says("Sent. It's a gift for tomorrow, can you do anything fast?")
        .add("classification", issue_type="damaged_item", complexity="medium", intent="replacement")
        .add(
            "escalation",
            reason="Damaged on arrival, needs a replacement by tomorrow",
            reason_code="complexity",
            urgency="high",
        )
    )
    return [dana, marco, priya, tomas, kenji]


def prepare_database(database: str) -> None:
    env = {**os.environ, "DATABASE_URL": database, "DJANGO_SETTINGS_MODULE": "console.settings_test"}
    env.pop("REDIS_URL", None)
    saved = DEMO_BOT_FILE.read_bytes() if DEMO_BOT_FILE.exists() else None
    try:
        for command in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=live.ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
    finally:
        # seed_demo writes the demo bot's credentials for the simulator; keep a real demo's file intact.
        if saved is None:
            DEMO_BOT_FILE.unlink(missing_ok=True)
        else:
            DEMO_BOT_FILE.write_bytes(saved)


def setup_django(database: str) -> None:
    os.environ["DATABASE_URL"] = database
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings_test"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def bot_credentials() -> tuple[str, str]:
    from handoffs.models import Bot
    from handoffs.services.bots import bot_rotate_secret

    bot = Bot.objects.get(name="Demo assistant")
    return bot.bot_id, bot_rotate_secret(bot=bot)


def earlier_handoff(conversation: str) -> None:
    """Dana was with Grace last week: she looked into it and gave the conversation back to the bot."""
    from handoffs.models import AgentProfile, Handoff
    from handoffs.services.handoffs import handoff_claim, handoff_connect, handoff_return_to_bot

    grace = AgentProfile.objects.get(user__username="grace")
    handoff = Handoff.objects.filter(conversation__external_id=conversation).latest("queued_at")
    handoff_claim(handoff_id=str(handoff.id), agent=grace)
    handoff_connect(handoff_id=str(handoff.id), agent=grace)
    handoff_return_to_bot(
        handoff_id=str(handoff.id),
        agent=grace,
        note="Carrier claim opened; if it's lost again, reship from the Bristol warehouse.",
    )


# Minutes each customer has waited when the pictures are taken (the API queues them as they arrive).
WAITED = {"demo-dana": 7.2, "demo-marco": 4.1, "demo-priya": 5.6, "demo-tomas": 2.7, "demo-kenji": 1.4}


def a_working_queue(waited: dict[str, float]) -> None:
    """Customers who have waited a few minutes, and Ada available, as on a real shift (this world is
    throwaway: the pictures would otherwise show everyone queued in the last seconds)."""
    from django.utils import timezone

    from handoffs.models import AgentProfile, Handoff
    from handoffs.services.agents import agent_presence_set

    now = timezone.now()
    for conversation, minutes in waited.items():
        Handoff.objects.filter(conversation__external_id=conversation, status="queued").update(
            queued_at=now - timedelta(minutes=minutes)
        )
    agent_presence_set(agent=AgentProfile.objects.get(user__username="ada"), presence="available")


def session_cookie(username: str, url: str) -> dict[str, Any]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": url, "httpOnly": True}


def shoot(out: Path, keep: bool) -> list[Path]:
    work = Path(tempfile.mkdtemp(prefix="warmline-shots-"))
    database = f"sqlite:///{work / 'shots.sqlite3'}"
    prepare_database(database)
    setup_django(database)
    bot_id, secret = bot_credentials()
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with live.serve(database=database, redis=None, logs=work / "logs") as server:
        bot = live.LiveBot(base_url=server.url, bot_id=bot_id, secret=secret)
        dana, *others = conversations()
        # Dana's first escalation, last week, went to Grace and back to the bot.
        bot.send(
            {
                "type": "turn",
                "conversation_id": dana.id,
                "occurred_at": ago(days=6),
                "customer": dana.customer,
                "data": {"role": "customer", "text": "My parcel from March never came either."},
            },
            {
                "type": "escalation",
                "conversation_id": dana.id,
                "occurred_at": ago(days=6),
                "data": {"reason": "Parcel missing", "reason_code": "customer_request"},
            },
        )
        earlier_handoff(dana.id)
        for conversation in (dana, *others):
            bot.send(*conversation.events)
        time.sleep(1.0)  # the server's inference tasks (beliefs) run on its timer threads
        a_working_queue(WAITED)
        cookie = session_cookie("ada", server.url)  # before Playwright's loop makes this thread "async"

        with live.browser() as chromium:
            context = chromium.new_context(viewport=VIEWPORT, device_scale_factor=1)
            context.add_cookies([cookie])
            page = context.new_page()
            page.goto(f"{server.url}/")
            page.wait_for_selector("html[data-live=open]", state="attached")
            page.wait_for_timeout(1200)  # let the waiting clocks tick once
            saved.append(_save(page, out / "queue.png"))

            row = page.locator(".qrow", has_text="Dana Reyes")
            row.get_by_role("button", name="Claim").click()
            page.wait_for_url("**/handoffs/**")
            page.wait_for_selector("html[data-live=open]", state="attached")
            page.wait_for_timeout(2200)  # a couple of seconds into the countdown
            saved.append(_save(page, out / "preparation.png"))

            page.get_by_role("button", name="Connect now").click()
            page.wait_for_selector("#state[data-status=connected]")
            opening = page.locator("[data-use-opening]")
            if opening.count():
                opening.click()
            else:
                page.fill("#message-text", "Hi Dana, I'm Ada. I have your order in front of me.")
            page.locator("#message-text").press("Enter")
            page.wait_for_selector("#chat-lines .role-agent")
            bot.send(
                {
                    "type": "turn",
                    "conversation_id": dana.id,
                    "data": {"role": "customer", "text": "Thank you. A full refund would be fine, honestly."},
                }
            )
            page.locator("#chat-lines .role-customer", has_text="full refund would be fine").wait_for()
            # A fresh load renders every line from the database (names on agent lines); a draft in the
            # box shows the live check against what was promised.
            page.reload()
            page.wait_for_selector("html[data-live=open]", state="attached")
            page.fill(
                "#message-text",
                "Done: I've refunded the full £64.99 to your card. You'll see it in 3–5 days.",
            )
            page.wait_for_timeout(900)
            page.evaluate("window.scrollTo(0, 0)")
            saved.append(_save(page, out / "chat.png"))
            context.close()
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return saved


def _save(page: Any, path: Path) -> Path:
    page.screenshot(path=path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=live.ROOT / "docs" / "screenshots")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database and the logs")
    args = parser.parse_args()
    if live.chromium_path() is None:
        sys.exit("screenshots: Chromium is not installed (make browser)")
    for path in shoot(args.out, args.keep):
        print(f"saved {path.relative_to(live.ROOT) if path.is_relative_to(live.ROOT) else path}")


if __name__ == "__main__":
    main()
