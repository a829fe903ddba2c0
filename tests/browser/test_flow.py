"""A whole handoff in real browsers: two agents of one team and an outsider, a bot over signed HTTP,
daphne and a Celery worker, and the bot's callback endpoint receiving signed callbacks."""

import json
import re
import time

from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from tests.browser.helpers import QUEUE_URL, callback_of, wait_live

IDLE_SECONDS = 7


def test_two_agents_and_an_outsider_through_a_whole_handoff(
    open_as, escalate_live, live_bot, receiver, bot_and_secret, team
):
    team.prepare_seconds = 30
    team.save(update_fields=["prepare_seconds"])
    ada, grace, mallory = open_as("ada", via_form=True), open_as("grace"), open_as("mallory")
    for page in (ada, grace, mallory):
        wait_live(page)
    mallory_since = time.monotonic()

    # An escalation reaches both agents of the team live, and not the outsider.
    handoff = escalate_live("c-flow", reason="Parcel lost twice, wants a refund", focus="Refund or resend")
    row = f"#h-{handoff}"
    expect(ada.locator(row)).to_contain_text("Parcel lost twice, wants a refund")
    expect(grace.locator(row)).to_contain_text("Dana Reyes")
    expect(grace.locator("#queue-count")).to_have_text("1")
    # Mallory's socket is as live as theirs; by now a frame for her would have arrived.
    mallory.wait_for_timeout(300)
    expect(mallory.locator(row)).to_have_count(0)
    expect(mallory.locator("#queue-count")).to_have_text("0")

    # Ada claims; the row leaves Grace's queue at once; Ada prepares.
    ada.locator(row).get_by_role("button", name="Claim").click()
    ada.wait_for_url(f"**/handoffs/{handoff}/")
    expect(grace.locator(row)).to_have_count(0)
    expect(grace.locator("#queue-count")).to_have_text("0")
    wait_live(ada)

    state = ada.locator("#state")
    expect(state).to_have_attribute("data-status", "preparing")
    seconds = ada.locator(".countdown .seconds")
    expect(seconds).to_have_text(re.compile(r"^\d+s$"))
    first = int(seconds.inner_text().rstrip("s"))
    assert 20 < first <= 30
    expect(seconds).not_to_have_text(f"{first}s", timeout=2_500)  # the countdown runs
    assert int(seconds.inner_text().rstrip("s")) < first

    ada.get_by_role("button", name="Connect now").click()
    expect(state).to_have_attribute("data-status", "connected")
    expect(state).to_contain_text("You are talking with Dana Reyes")

    # The suggested opening goes into the composer in one click (editable there, not sent).
    ada.get_by_role("button", name="Use this").click()
    expect(ada.locator("#message-text")).to_have_value(ada.locator("#opening-text").input_value())
    expect(ada.locator("#message-text")).to_be_focused()

    # The agent writes; the bot's endpoint receives it, signed with the bot's secret.
    ada.locator("#message-text").fill("Hi Dana, I'm Ada. I have your order open and I'm on it.")
    ada.locator("#message-text").press("Enter")
    expect(ada.locator("#chat-lines")).to_contain_text("I have your order open")
    message = callback_of(receiver, "message.created")
    _, secret = bot_and_secret
    payload = Webhook(secret).verify(message.body, message.headers)
    assert payload["data"]["text"] == "Hi Dana, I'm Ada. I have your order open and I'm on it."
    assert payload["handoff_id"] == handoff and payload["conversation_id"] == "c-flow"
    assert receiver.types()[:3] == ["handoff.queued", "handoff.preparing", "handoff.connected"]

    # The customer answers through the bot; the turn appears in the chat live.
    live_bot.send(
        {
            "type": "turn",
            "conversation_id": "c-flow",
            "data": {"role": "customer", "text": "Thank you Ada, a refund would be great."},
        }
    )
    expect(ada.locator("#chat-lines .role-customer").last).to_contain_text("a refund would be great")

    # Resolve.
    ada.locator(".actions summary", has_text="Resolve").click()
    ada.locator("#resolution").fill("Refunded the order in full.")
    ada.get_by_role("button", name="Resolve", exact=True).click()
    ada.wait_for_url(QUEUE_URL)
    expect(ada.locator("#flash")).to_contain_text("Resolved")
    resolved = callback_of(receiver, "handoff.resolved")
    assert json.loads(resolved.body)["data"]["resolution"] == "Refunded the order in full."

    # Mallory's socket heard nothing all along, and stayed open: an idle socket is not torn down (the
    # channel layer's blocking read outlasts Redis client read timeouts; redis-py 8 defaults to 5 s).
    idle = time.monotonic() - mallory_since
    if idle < IDLE_SECONDS:
        mallory.wait_for_timeout((IDLE_SECONDS - idle) * 1000)
    assert mallory.evaluate("window.__wsCloses") == [], "an idle console socket was closed by the server"
    expect(mallory.locator("html")).to_have_attribute("data-live", "open")
