"""Untrusted text (names, turns, reasons, focus, notes, belief values) is inert in the rendered DOM:
on the queue, the preparation view and in live pushes, nothing it spells becomes an element, an
attribute or a script."""

from playwright.sync_api import expect

from tests.browser.helpers import off_the_loop, wait_live

IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload="window.__xss=2">'
SCRIPT = "<script>window.__xss=3</script>"
PAYLOAD = f"{IMG} {SVG} {SCRIPT}"

# Elements and attributes a payload would create if it were parsed as markup; the console itself has
# no inline scripts and no inline event handlers (a CSP without unsafe-inline must hold).
INJECTED = """() => {
  const handlers = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attribute of el.attributes) {
      if (attribute.name.startsWith("on")) handlers.push(el.tagName + "[" + attribute.name + "]");
    }
  }
  return {
    xss: window.__xss === undefined ? null : window.__xss,
    img: document.querySelectorAll("img[src=x]").length,
    svg: document.querySelectorAll("svg[onload]").length,
    inlineScripts: document.querySelectorAll("script:not([src])").length,
    handlers: handlers,
  };
}"""
CLEAN = {"xss": None, "img": 0, "svg": 0, "inlineScripts": 0, "handlers": []}


def hostile_conversation(conversation: str) -> list[dict]:
    customer = {"id": "u-hostile", "name": f"Eve {IMG}", "email": "eve@example.com", "locale": "en"}

    def event(event_type: str, **data):
        return {"type": event_type, "conversation_id": conversation, "data": data}

    first = event("turn", role="customer", text=f"My parcel is late {PAYLOAD}")
    first["customer"] = customer
    return [
        first,
        event("turn", role="bot", text=f"Sorry! {PAYLOAD}"),
        event("step", action=f"Checked tracking {IMG}", outcome="failed", detail=f"Carrier said {SVG}"),
        event("commitment", text=f"Refund within 3 days {SCRIPT}", kind="refund"),
        event("classification", issue_type="delivery", complexity="high", intent=f"refund {IMG}"),
        event("observation", key="preferred_name", value=f"Evie {PAYLOAD}", confidence=0.9, scope="general"),
        event("turn", role="customer", text=f"I am really angry now. {SVG}"),
        event(
            "escalation",
            reason=f"Wants a person {IMG}",
            reason_code="customer_request",
            focus=f"Refund {SVG}",
            summary=f"Late parcel {SCRIPT}",
        ),
    ]


def assert_inert(page) -> None:
    assert page.evaluate(INJECTED) == CLEAN


def test_payloads_in_every_field_stay_text(open_as, server, live_bot, personas):
    from handoffs.services.handoffs import handoff_claim, handoff_connect, handoff_transfer

    ada, grace = open_as("ada"), open_as("grace")
    wait_live(ada)
    response = live_bot.send(*hostile_conversation("c-hostile"))
    handoff = response.json()["handoff"]["id"]

    # The queue row arrives by a live push.
    row = ada.locator(f"#h-{handoff}")
    expect(row).to_contain_text("Wants a person <img src=x")
    expect(row).to_contain_text("Eve <img")
    assert_inert(ada)

    # The preparation view: every section that shows bot-provided text.
    ada.goto(f"{server}/handoffs/{handoff}/")
    wait_live(ada)
    page = ada.locator(".handoff-page")
    for text in (
        "Wants a person <img",  # reason
        'Refund "><svg onload=',  # focus
        "Checked tracking <img",  # step
        "Carrier said",
        "Refund within 3 days <script>",  # commitment
        "refund <img",  # intent
        "Evie <img",  # belief value
        "I am really angry now.",
    ):
        expect(page).to_contain_text(text)
    assert_inert(ada)

    # Grace receives it by a warm transfer; the note is untrusted too.
    ada_profile = personas["ada"]
    off_the_loop(handoff_claim, handoff_id=handoff, agent=ada_profile)
    off_the_loop(handoff_connect, handoff_id=handoff, agent=ada_profile)
    new = off_the_loop(
        handoff_transfer, handoff_id=handoff, agent=ada_profile, note=f"Watch out {PAYLOAD}", to_agent="grace"
    )
    grace.reload()  # the live row is the first check's business; this one is about the rendered note
    expect(grace.locator(f"#h-{new.id}")).to_contain_text("Eve <img src=x")
    assert_inert(grace)
    grace.goto(f"{server}/handoffs/{new.id}/")
    expect(grace.locator(".handoff-page")).to_contain_text("Watch out <img src=x")
    assert_inert(grace)

    # Live pushes into the chat: a customer turn relayed by the bot while Grace watches.
    wait_live(grace)
    live_bot.send(
        {
            "type": "turn",
            "conversation_id": "c-hostile",
            "data": {"role": "customer", "text": f"Hello? {PAYLOAD}"},
        }
    )
    expect(grace.locator("#chat-lines")).to_contain_text("Hello? <img src=x")
    assert_inert(grace)
