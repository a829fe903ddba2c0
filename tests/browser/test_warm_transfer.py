"""A warm transfer with an overlap window in real browsers (issue 9): a customer in the chat widget, Ada who
has them, Grace who receives them, and Morgan, their supervisor, who whispers afterwards.

Ada transfers to Grace with a note and keeps chatting; Grace opens it from her queue, reads the note and the
live chat read-only; they exchange private notes the customer never sees; Grace takes over; the customer is
told, sees Grace join and her first message; Grace's page shows everything the customer already gave, so
nothing has to be asked again. Then Morgan whispers to Grace from the observe page.

Everything reaches the customer the way it would for any bot: signed callbacks delivered by the Celery
worker to the widget's callback endpoint, pushed to the customer's socket.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import RECORD_CLOSES, _session_cookie
from tests.browser.helpers import LIVE_TIMEOUT_MS, wait_live
from tests.browser.test_widget_flow import customer_page, say, widget_bot  # noqa: F401 - fixtures

NOTE = "Return label approved for KX-48213; she only needs it resent. <b>Be gentle</b>, second delay."
QUESTION = "Has she got the label yet?"
ANSWER = "Not yet: resend it to the email she gave."
WHISPER = "Nice save. Offer the 10% voucher if she asks."


@pytest.fixture
def morgan_page(chromium, server, team):
    """Morgan, a supervisor of the team, signed in in a browser of their own."""
    from tests.factories import AgentFactory

    morgan = AgentFactory(
        user__username="morgan", display_name="Morgan Hale", teams=[team], is_supervisor=True
    )
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(LIVE_TIMEOUT_MS)
    context.add_init_script(RECORD_CLOSES)
    context.add_cookies([_session_cookie(morgan.user, server)])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"errors in the supervisor's page: {errors}"


def test_a_warm_transfer_with_an_overlap_window(
    customer_page,  # noqa: F811 - a fixture
    open_as,
    morgan_page,
    widget_bot,  # noqa: F811 - a fixture
    team,
    warmline_server,
):
    from handoffs.models import Handoff, PrivateNote

    team.overlap_seconds = 300  # long enough that it is the take-over, not the timer, that completes it
    team.save(update_fields=["overlap_seconds"])
    customer = customer_page
    ada, grace = open_as("ada"), open_as("grace")
    wait_live(ada)
    wait_live(grace)

    # The customer gives their order number to the bot, asks for a person; Ada takes them.
    say(customer, "My return for order KX-48213 never got a label. I want to talk to a human please")
    expect(customer.locator("#chat-status")).to_have_text("Waiting for a specialist")
    first = Handoff.objects.get(conversation__bot=widget_bot)
    ada.locator(f"#h-{first.id}").get_by_role("button", name="Claim").click()
    ada.wait_for_url(f"**/handoffs/{first.id}/")
    wait_live(ada)
    ada.get_by_role("button", name="Connect now").click()
    expect(customer.locator("#chat-status")).to_have_text("Chatting with Ada Okafor")
    ada.locator("#message-text").fill("Hi, I'm Ada. I can see the missing label for KX-48213.")
    ada.locator("#message-text").press("Enter")
    expect(customer.locator("#chat-lines .msg-agent").last).to_contain_text("missing label")

    # Ada transfers to Grace with a note, and stays on the chat.
    ada.locator(".actions summary", has_text="Transfer").click()
    ada.locator("#transfer-to").select_option("agent:grace")
    ada.locator("#transfer-note").fill(NOTE)
    ada.get_by_role("button", name="Transfer warmly").click()
    expect(ada.get_by_role("button", name="Cancel transfer")).to_be_visible()
    wait_live(ada)
    expect(ada.locator("#state")).to_contain_text("transfer to Grace Liu is under way")
    pending = Handoff.objects.get(previous=first)
    assert (
        pending.overlap_until is not None and first.__class__.objects.get(pk=first.pk).status == "connected"
    )

    # Grace finds it in her queue, reserved for her, and opens it: the note, the chat, read-only.
    row = grace.locator(f"#h-{pending.id}")
    expect(row).to_contain_text("for you")
    row.get_by_role("button", name="Claim").click()
    grace.wait_for_url(f"**/handoffs/{pending.id}/")
    wait_live(grace)
    expect(grace.locator(".transfer-note")).to_contain_text(NOTE)  # as text: the markup is not markup
    expect(grace.locator(".transfer-note b")).to_have_count(0)
    expect(grace.locator("#state")).to_contain_text("Warm transfer from Ada Okafor")
    expect(grace.locator("#chat-lines")).to_contain_text("I can see the missing label")
    expect(grace.locator("#composer")).to_have_count(0)
    expect(grace.get_by_role("button", name="Take over")).to_be_visible()
    expect(ada.locator("#state")).to_contain_text("They are reading in now")

    # The customer writes; both agents see it live; Ada still answers.
    say(customer, "Is anyone still there?")
    for page in (ada, grace):
        expect(page.locator("#chat-lines .role-customer").last).to_contain_text("Is anyone still there?")
    ada.locator("#message-text").fill("Yes! Grace from returns will take it from here in a moment.")
    ada.locator("#message-text").press("Enter")
    expect(customer.locator("#chat-lines .msg-agent").last).to_contain_text("Grace from returns")
    expect(grace.locator("#chat-lines .role-agent").last).to_contain_text("Grace from returns")

    # Private notes, both ways, live on both pages.
    grace.locator("#note-text").fill(QUESTION)
    grace.get_by_role("button", name="Send note").click()
    expect(ada.locator("#note-lines")).to_contain_text(QUESTION)
    expect(grace.locator("#note-lines .mine")).to_contain_text(QUESTION)
    expect(grace.locator("#note-text")).to_have_value("")
    ada.locator("#note-text").fill(ANSWER)
    ada.get_by_role("button", name="Send note").click()
    expect(grace.locator("#note-lines")).to_contain_text(ANSWER)
    grace.locator("#note-lines").scroll_into_view_if_needed()
    grace.screenshot(path=warmline_server.logs / "overlap-receiver.png")
    ada.screenshot(path=warmline_server.logs / "overlap-sender.png")

    # Grace takes over: Ada's side ends, the customer is told and hears from Grace.
    grace.get_by_role("button", name="Take over").click()
    expect(grace.locator("#composer")).to_be_visible()
    wait_live(grace)
    expect(grace.locator("#state")).to_have_attribute("data-status", "connected")
    expect(ada.locator("#state")).to_have_attribute("data-status", "transferred")
    expect(ada.locator("#composer")).to_have_count(0)
    system = customer.locator("#chat-lines .msg-system")
    expect(system.nth(-2)).to_have_text(
        "You're being transferred to Grace Liu, who will see everything so far."
    )
    expect(customer.locator("#chat-lines .msg-system").last).to_contain_text(
        "Grace Liu joined the conversation."
    )
    expect(customer.locator("#chat-status")).to_have_text("Chatting with Grace Liu")
    grace.locator("#message-text").fill("Hi, Grace here: I've resent the label for KX-48213 to your email.")
    grace.locator("#message-text").press("Enter")
    last = customer.locator("#chat-lines .msg-agent").last
    expect(last.locator(".bubble")).to_contain_text("resent the label")
    expect(last.locator(".who")).to_have_text("Grace Liu")

    # Nothing to repeat: Grace's page has what the customer already gave, the note and the exchange.
    expect(grace.locator(".provided")).to_contain_text("KX-48213")
    expect(grace.locator(".transfer-note")).to_contain_text("Return label approved")
    expect(grace.locator("#note-lines")).to_contain_text(ANSWER)
    taken = Handoff.objects.get(pk=pending.pk)
    assert taken.status == "connected" and taken.agent.username == "grace"
    assert [n["text"] for n in taken.frame["transfer"]["private_notes"]] == [QUESTION, ANSWER]
    assert taken.frame["transfer"]["note"] == NOTE

    # The customer never saw a private note, nor the transfer note.
    chat = customer.locator("#chat-lines").inner_text()
    for secret in (QUESTION, ANSWER, "Be gentle"):
        assert secret not in chat

    # Morgan observes and whispers to Grace; she sees it live, the customer does not.
    morgan_page.goto(f"{warmline_server.url}/supervisor/handoffs/{taken.id}/live")
    wait_live(morgan_page)
    expect(morgan_page.locator("#chat-lines")).to_contain_text("resent the label")
    morgan_page.locator("#note-text").fill(WHISPER)
    morgan_page.get_by_role("button", name="Whisper").click()
    expect(grace.locator("#note-lines .kind-whisper")).to_contain_text(WHISPER)
    expect(morgan_page.locator("#note-lines .kind-whisper")).to_contain_text(WHISPER)
    morgan_page.screenshot(path=warmline_server.logs / "supervisor-whisper.png", full_page=True)
    grace.screenshot(path=warmline_server.logs / "agent-whispered.png")
    customer.wait_for_timeout(300)
    assert WHISPER not in customer.locator("#chat-lines").inner_text()
    assert PrivateNote.objects.filter(kind="whisper", handoff=taken).count() == 1
    print(f"\nscreenshots in {warmline_server.logs}")
