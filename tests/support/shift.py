"""A shift's worth of conversations for the handover tests (service, console, API): streamed by a bot,
escalated and claimed through the real API, so every package is what the engines made of it."""

from datetime import timedelta

from django.utils import timezone

from tests.botclient import escalation, event, turn


def here(profile, *, capacity=3):
    """Available, with a console seen just now."""
    profile.presence = "available"
    profile.last_seen_at = timezone.now()
    profile.capacity = capacity
    profile.save()
    return profile


def _customer(conversation: str, name: str) -> dict:
    return {"id": f"u-{conversation}", "name": name, "locale": "en"}


def held(bot_client, api_as, agent, conversation, *, name, lines, escalate=None, connect=True, after=()):
    """A conversation streamed by the bot, escalated, claimed (and connected) by ``agent``; ``after`` are
    events once the person is on (the customer writing, the bot's events)."""
    for index, (role, text) in enumerate(lines):
        body = turn(text, role=role, conversation=conversation)
        if index == 0:
            body["customer"] = _customer(conversation, name)
        assert bot_client.post(body).status_code in (200, 202), body
    response = bot_client.post(escalation(conversation, **(escalate or {})))
    handoff_id = response.json()["handoff"]["id"]
    client = api_as(agent)
    assert client.post(f"/handoffs/{handoff_id}/claim").status_code == 200
    if connect:
        assert client.post(f"/handoffs/{handoff_id}/connect").status_code == 200
        assert (
            client.post(f"/handoffs/{handoff_id}/messages", {"text": "Hello, I'm here."}).status_code == 201
        )
    for body in after:
        assert bot_client.post(body).status_code in (200, 202), body
    return handoff_id


def three_held(bot_client, api_as, agent):
    """``agent`` holds three conversations:
    - calm: an address change, answered, nothing promised;
    - promise: a refund the bot promised for three hours ago (overdue), answered;
    - upset: the customer grows angry and has written again since ada's last reply."""
    here(agent)
    past = (timezone.now() - timedelta(hours=3, minutes=5)).isoformat()
    calm = held(
        bot_client,
        api_as,
        agent,
        "c-calm",
        name="Carl Calm",
        lines=[
            ("customer", "Hi, I would like to change the delivery address on order #AB-12345."),
            ("bot", "Sure."),
        ],
    )
    promise = held(
        bot_client,
        api_as,
        agent,
        "c-promise",
        name="Paula Promise",
        lines=[("customer", "Where is my refund for order #PR-55555?"), ("bot", "Let me check.")],
        after=[
            event("commitment", "c-promise", text="Refund of $40.00 to your card", kind="refund", due=past)
        ],
    )
    upset = held(
        bot_client,
        api_as,
        agent,
        "c-upset",
        name="Uma Upset",
        lines=[
            ("customer", "My parcel #KX-48213 is late."),
            ("bot", "I'm sorry, it is on its way."),
            ("customer", "It was due a week ago, this is not good enough."),
        ],
        escalate={"focus": "Parcel KX-48213 lost in transit"},
        after=[
            turn("This is ridiculous, I am furious. Nobody is helping me!", conversation="c-upset"),
            turn(
                "Hello?? I have been waiting forever, this is the worst service ever!", conversation="c-upset"
            ),
        ],
    )
    return {"calm": calm, "promise": promise, "upset": upset}
