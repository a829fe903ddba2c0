"""Shift handover in real browsers: Ada hands over three live conversations at once from the console; Grace,
watching her queue, sees them arrive most critical first and reads Ada's snapshot in the new frame."""

import os
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser.helpers import QUEUE_URL, off_the_loop, wait_live

# Where the handover page's screenshot goes (make screenshots keeps its own); unset: the test's tmp dir.
SCREENSHOT_DIR = os.environ.get("WARMLINE_SCREENSHOT_DIR", "")


def conversation(conversation_id: str, name: str, *lines: tuple[str, str]) -> list[dict]:
    events = [
        {"type": "turn", "conversation_id": conversation_id, "data": {"role": role, "text": text}}
        for role, text in lines
    ]
    events[0]["customer"] = {"id": f"u-{conversation_id}", "name": name, "locale": "en"}
    return events


def test_three_conversations_handed_over_arrive_most_critical_first_with_their_snapshots(
    open_as, live_bot, personas, server, tmp_path
):
    from handoffs.models import Handoff
    from handoffs.services.handoffs import handoff_claim, handoff_connect, handoff_message_send

    ada_profile = personas["ada"]
    grace = open_as("grace")  # her console is open: she is available
    wait_live(grace)

    # Ada holds three chats: a calm address change, an overdue refund promise, and an angry customer.
    scripts = {
        "c-calm": conversation(
            "c-calm",
            "Carl Calm",
            ("customer", "Hi, I would like to change the delivery address on #AB-12345."),
        ),
        "c-promise": conversation(
            "c-promise", "Paula Promise", ("customer", "Where is my refund for #PR-55555?")
        ),
        "c-upset": conversation(
            "c-upset",
            "Uma Upset",
            ("customer", "My parcel #KX-48213 is late."),
            ("bot", "I'm sorry, it is on its way."),
            ("customer", "It was due a week ago, this is not good enough."),
        ),
    }
    held = {}
    for conversation_id, events in scripts.items():
        live_bot.send(*events)
        held[conversation_id] = handoff = live_bot.escalate(conversation_id)
        off_the_loop(handoff_claim, handoff_id=handoff, agent=ada_profile)
        off_the_loop(handoff_connect, handoff_id=handoff, agent=ada_profile)
        off_the_loop(handoff_message_send, handoff_id=handoff, agent=ada_profile, text="Hello, I'm here.")
    overdue = (datetime.now(tz=UTC) - timedelta(hours=3)).isoformat()
    live_bot.send(
        {
            "type": "commitment",
            "conversation_id": "c-promise",
            "data": {"text": "Refund of $40.00 to your card", "kind": "refund", "due": overdue},
        },
        *conversation(
            "c-upset",
            "Uma Upset",
            ("customer", "This is ridiculous, I am furious. Nobody is helping me!"),
            ("customer", "Hello?? I have been waiting forever, this is the worst service ever!"),
        ),
    )

    # Ada opens "Hand over my shift" from her queue.
    ada = open_as("ada")
    ada.get_by_role("link", name="Hand over my shift").click()
    ada.wait_for_url("**/handover")
    items = ada.locator(".ho-item")
    expect(items).to_have_count(3)
    ranked = [held["c-upset"], held["c-promise"], held["c-calm"]]
    assert items.evaluate_all("els => els.map(e => e.id)") == [f"ho-{pk}" for pk in ranked]
    first = ada.locator(f"#ho-{held['c-upset']}")
    expect(first).to_contain_text("Fragile: customer's last message unanswered")
    expect(ada.locator(f"#ho-{held['c-promise']}")).to_contain_text("1 promise overdue")
    snapshot = ada.locator(f"#snapshot-{held['c-upset']}")
    draft = snapshot.input_value()
    assert draft.startswith("State: Connected with Uma Upset") and "Hello?? I have been waiting" in draft

    # Edit the first snapshot; the angriest and the calm one go to Grace by name, the promise to the queue.
    snapshot.fill(draft + "\nShe prefers email; do not call.")
    ada.locator(f"#to-{held['c-upset']}").select_option("agent:grace")
    ada.locator(f"#to-{held['c-calm']}").select_option("agent:grace")
    expect(ada.locator(f"#to-{held['c-promise']}")).to_have_value("team:Support")
    shot = os.path.join(SCREENSHOT_DIR or str(tmp_path), "handover.png")
    ada.screenshot(path=shot, full_page=True)
    ada.get_by_role("button", name="Hand over 3 conversations").click()
    ada.wait_for_url(QUEUE_URL)
    expect(ada.locator("#flash")).to_contain_text("Handed over 3 conversations. You are set to away.")
    expect(ada.locator("#presence")).to_contain_text("Away")

    # Grace's queue: the three arrive live, most critical first; hers by name are marked.
    new_of = {
        str(h.previous_id): str(h.id) for h in Handoff.objects.filter(previous_id__in=ranked, status="queued")
    }
    rows = grace.locator("#queue-list > li")
    expect(rows).to_have_count(3)
    assert rows.evaluate_all("els => els.map(e => e.id)") == [f"h-{new_of[pk]}" for pk in ranked]
    expect(grace.locator(f"#h-{new_of[held['c-upset']]}")).to_contain_text("for you")
    expect(grace.locator(f"#h-{new_of[held['c-promise']]}")).not_to_contain_text("for you")

    # She opens the first: its frame carries Ada's edited snapshot as the note.
    grace.locator(f"#h-{new_of[held['c-upset']]} .qmain").click()
    grace.wait_for_url(f"**/handoffs/{new_of[held['c-upset']]}/")
    note = grace.locator(".focus blockquote.note")
    expect(note).to_contain_text("Note from Ada Okafor:")
    expect(note).to_contain_text("State: Connected with Uma Upset")
    expect(note).to_contain_text("She prefers email; do not call.")
    if SCREENSHOT_DIR:
        grace.screenshot(path=os.path.join(SCREENSHOT_DIR, "handover-received.png"))
    frame = Handoff.objects.get(pk=new_of[held["c-upset"]]).frame
    assert frame["transfer"]["note"].endswith("She prefers email; do not call.")
    assert frame["transcript"][-1]["text"].startswith("Hello?? I have been waiting")  # as at the handover
