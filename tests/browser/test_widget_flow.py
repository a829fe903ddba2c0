"""A whole handoff lived from both sides in real browsers: a customer in the chat widget talks to the
reference bot (which goes through the signed ingest path inside daphne), is escalated, waits with a live
position and estimate, rates the bot; an agent in another browser context claims, prepares and connects;
they talk both ways; the agent resolves and the customer rates the specialist.

Everything the customer sees after the escalation comes back the way it would for any bot: the Celery
worker delivers signed callbacks over HTTP to the widget's callback endpoint, which pushes them to the
customer's socket.
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import LIVE_TIMEOUT_MS, QUEUE_URL, wait_live

DEMO_KB = Path(__file__).resolve().parents[2] / "handoffs" / "demo" / "kb"
SCREENSHOT = "widget-after-rating.png"
SECONDS = re.compile(r"^\d+s$")


@pytest.fixture
def widget_bot(server, team):
    """The reference bot behind the widget, its callbacks addressed to the live server's widget endpoint."""
    from console.widget import callback_path
    from handoffs.knowledge import kb_import
    from handoffs.reference_bot import reference_bot_create

    kb_import(DEMO_KB)
    bot, _ = reference_bot_create(team_name=team.name)
    bot.callback_url = server + callback_path(bot.bot_id)
    bot.save(update_fields=["callback_url"])
    return bot


@pytest.fixture
def customer_page(chromium, server, widget_bot):
    """The customer's own browser (no session, phone-sized), on the widget page with its socket open."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    context.set_default_timeout(LIVE_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server}/chat/{widget_bot.bot_id}/")
    expect(page.locator("#chat")).to_have_attribute("data-live", "open")
    yield page
    context.close()
    assert not errors, f"errors in the widget page: {errors}"


def say(page, text: str) -> None:
    page.locator("#chat-text").fill(text)
    page.locator("#chat-text").press("Enter")


def test_a_customer_and_an_agent_through_a_whole_handoff(
    customer_page, open_as, escalate_live, widget_bot, team, personas, warmline_server
):
    from handoffs.models import CsatRating, Handoff

    team.prepare_seconds = 30
    team.save(update_fields=["prepare_seconds"])
    customer = customer_page
    ada, grace = open_as("ada"), open_as("grace")
    wait_live(ada)
    wait_live(grace)
    # Someone else is already waiting, so the customer starts second in line.
    ahead = escalate_live("c-ahead", name="Dana Reyes", urgency="high")

    # The reference bot answers from the help center.
    say(customer, "How do I return an item?")
    expect(customer.locator("#chat-lines .msg-customer").last).to_contain_text("How do I return an item?")
    expect(customer.locator("#chat-lines .msg-bot").last).to_contain_text("Returns and refunds policy")
    expect(customer.locator("#chat-text")).to_have_value("")

    # Asking for a person: the announcement, the position in line and the estimated wait.
    say(customer, "I want to talk to a human please")
    announcement = customer.locator("#chat-lines .msg-announcement")
    expect(announcement).to_contain_text("specialist")
    expect(customer.locator("#chat-status")).to_have_text("Waiting for a specialist")
    wait = customer.locator("#wait")
    expect(wait).to_be_visible()
    expect(wait.locator(".wait-title")).to_have_text("You're number 2 in line")
    expect(wait.locator(".wait-eta")).to_contain_text("Estimated wait:")
    handoff = Handoff.objects.get(conversation__bot=widget_bot)
    assert handoff.status == "queued" and handoff.reason_code == "customer_request"
    row = f"#h-{handoff.id}"
    expect(ada.locator(row)).to_contain_text("Web visitor")

    # While waiting, the customer rates the bot part in one click.
    customer.locator("#rating-bot").get_by_role("button", name="4 out of 5").click()
    expect(wait.locator(".rating-thanks")).to_have_text("Thanks for your rating!")
    expect(customer.locator("#rating-bot")).to_have_count(0)

    # Grace takes the one ahead: the customer moves up without reloading.
    grace.locator(f"#h-{ahead} button", has_text="Claim").click()
    grace.wait_for_url(f"**/handoffs/{ahead}/")
    expect(wait.locator(".wait-title")).to_have_text("You're next in line")

    # Ada claims: the customer is told a specialist is reading, by name.
    ada.locator(row).get_by_role("button", name="Claim").click()
    ada.wait_for_url(f"**/handoffs/{handoff.id}/")
    wait_live(ada)
    expect(ada.locator("#state")).to_have_attribute("data-status", "preparing")
    expect(ada.locator(".countdown .seconds")).to_have_text(SECONDS)
    expect(wait.locator(".wait-title")).to_have_text("A specialist is reviewing your conversation")
    expect(wait.locator(".wait-detail")).to_contain_text("Ada Okafor is reading what you've discussed")
    expect(customer.locator("#chat-status")).to_have_text("A specialist is getting ready")

    # Ada connects: the customer sees who joined; the wait panel goes away.
    ada.get_by_role("button", name="Connect now").click()
    expect(ada.locator("#state")).to_have_attribute("data-status", "connected")
    expect(customer.locator("#chat-lines .msg-system")).to_contain_text("Ada Okafor joined the conversation.")
    expect(customer.locator("#chat-status")).to_have_text("Chatting with Ada Okafor")
    expect(wait).to_be_hidden()

    # Agent → customer, with the agent's name on the customer's side.
    ada.locator("#message-text").fill("Hi, I'm Ada. I can see your return question; let's sort it out.")
    ada.locator("#message-text").press("Enter")
    agent_line = customer.locator("#chat-lines .msg-agent").last
    expect(agent_line.locator(".bubble")).to_have_text(
        "Hi, I'm Ada. I can see your return question; let's sort it out."
    )
    expect(agent_line.locator(".who")).to_have_text("Ada Okafor")

    # Customer → agent, live in the console; the bot stays quiet.
    say(customer, "Thanks Ada! The order number is KX-48213.")
    expect(ada.locator("#chat-lines .role-customer").last).to_contain_text("The order number is KX-48213.")
    customer.wait_for_timeout(300)
    expect(customer.locator("#chat-lines .msg-bot").last).not_to_contain_text("KX-48213")
    # The welcome, the answer and the announcement, nothing since.
    expect(customer.locator("#chat-lines .msg-bot")).to_have_count(3)

    # Ada resolves; the customer is told and asked to rate her.
    ada.locator(".actions summary", has_text="Resolve").click()
    ada.locator("#resolution").fill("Return label sent for KX-48213.")
    ada.get_by_role("button", name="Resolve", exact=True).click()
    ada.wait_for_url(QUEUE_URL)
    expect(customer.locator("#chat-lines .msg-system").last).to_contain_text("marked as resolved")
    rate = customer.locator("#rate")
    expect(rate.locator(".rating-q")).to_have_text("How was your conversation with Ada Okafor?")
    rate.get_by_role("button", name="5 out of 5").click()
    expect(rate.locator(".rating-thanks")).to_have_text("Thanks for your rating!")
    expect(customer.locator("#chat-status")).to_have_text("Resolved · you can keep writing")

    # Both ratings are stored once each, against this conversation's handoff.
    ratings = CsatRating.objects.filter(conversation__bot=widget_bot).order_by("created_at")
    assert [(r.phase, r.score, str(r.handoff_id)) for r in ratings] == [
        ("bot", 4, str(handoff.id)),
        ("human", 5, str(handoff.id)),
    ]
    handoff.refresh_from_db()
    assert handoff.status == "resolved" and handoff.agent_id == personas["ada"].user.pk
    # The widget fills its frame and the page itself never scrolls (a long log scrolls inside it).
    assert customer.evaluate("document.documentElement.scrollHeight") <= customer.viewport_size["height"]
    shot = warmline_server.logs / SCREENSHOT
    customer.screenshot(path=shot, full_page=True)
    print(f"\nthe customer's side at the end: {shot}")
