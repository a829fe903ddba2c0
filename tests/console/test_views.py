"""Console pages and forms: sign-in, team scoping, CSRF, readable errors, escaping."""

import pytest

from handoffs.models import Belief, Handoff, Turn

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_console_needs_a_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_queue_page_lists_the_teams_handoffs(escalate, login, agent, outsider):
    handoff_id = escalate()
    page = login(agent).get("/").content.decode()
    assert f'id="h-{handoff_id}"' in page and "Dana Reyes" in page
    assert 'ws-connect="/ws/console/queue/"' in page
    assert f"h-{handoff_id}" not in login(outsider).get("/").content.decode()


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("get", "/", {}),
        ("get", "/state", {}),
        ("post", "/claim", {}),
        ("post", "/connect", {}),
        ("post", "/messages", {"text": "hi", "key": "k"}),
        ("post", "/resolve", {"resolution": "done"}),
        ("post", "/transfer", {"to": "team:Other team", "note": "n"}),
        ("post", "/return", {"note": "n"}),
        ("post", "/beliefs", {"key": "vip", "value": "yes", "scope": "general"}),
    ],
)
def test_an_outsider_gets_404_on_every_handoff_route(escalate, login, outsider, method, suffix, data):
    handoff_id = escalate()
    client = login(outsider)
    response = getattr(client, method)(f"/handoffs/{handoff_id}{suffix}", data)
    assert response.status_code == 404
    assert "Dana" not in response.content.decode()
    assert Handoff.objects.get(pk=handoff_id).status == "queued"
    assert not Belief.objects.exists()


def test_posts_need_the_csrf_token(escalate, login, agent):
    handoff_id = escalate()
    response = login(agent, enforce_csrf=True).post(f"/handoffs/{handoff_id}/claim")
    assert response.status_code == 403
    assert Handoff.objects.get(pk=handoff_id).status == "queued"


def test_claim_with_htmx_redirects_to_the_handoff(escalate, login, agent):
    handoff_id = escalate()
    response = login(agent).post(f"/handoffs/{handoff_id}/claim", **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/handoffs/{handoff_id}/"
    page = login(agent).get(f"/handoffs/{handoff_id}/").content.decode()
    assert "Connect now" in page and "data-until=" in page


def test_a_lost_claim_race_says_so_in_place(escalate, login, agent, teammate):
    handoff_id = escalate()
    login(agent).post(f"/handoffs/{handoff_id}/claim", **HTMX)
    response = login(teammate).post(f"/handoffs/{handoff_id}/claim", **HTMX)
    assert response.status_code == 409
    assert 'id="flash"' in response.content.decode() and "already taken by" in response.content.decode()


def test_a_lost_claim_race_without_htmx_is_a_message_on_the_queue(escalate, login, agent, teammate):
    handoff_id = escalate()
    login(agent).post(f"/handoffs/{handoff_id}/claim")
    client = login(teammate)
    response = client.post(f"/handoffs/{handoff_id}/claim", follow=True)
    assert "already taken" in response.content.decode()


def test_the_page_shows_the_package_most_important_first(escalate, login, agent):
    handoff_id = escalate(focus="Decide on a refund today")
    page = login(agent).get(f"/handoffs/{handoff_id}/").content.decode()
    order = [
        page.index(marker)
        for marker in (
            "Why they",
            "Decide on a refund today",
            "Mood",
            "Already provided",
            "Promises made",
            "Already tried",
        )
    ]
    assert order == sorted(order)
    assert "KX-48213" in page  # information already provided


def test_sending_a_message_from_the_composer(escalate, login, agent):
    handoff_id = escalate()
    client = login(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    response = client.post(f"/handoffs/{handoff_id}/messages", {"text": "Hello Dana", "key": "abc"}, **HTMX)
    again = client.post(f"/handoffs/{handoff_id}/messages", {"text": "Hello Dana", "key": "abc"}, **HTMX)
    assert response.status_code == 200 and again.status_code == 200
    assert 'id="composer"' in response.content.decode()
    assert Turn.objects.filter(role="agent", text="Hello Dana").count() == 1


def test_an_empty_message_keeps_the_composer_with_a_message(escalate, login, agent):
    handoff_id = escalate()
    client = login(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    response = client.post(f"/handoffs/{handoff_id}/messages", {"text": "   ", "key": "k"}, **HTMX)
    assert response.status_code == 422 and "needs some text" in response.content.decode()


def test_resolve_transfer_and_return_from_the_console(escalate, login, agent, teammate):
    client = login(agent)
    resolved, transferred, returned = escalate("c-1"), escalate("c-2"), escalate("c-3")
    for handoff_id in (resolved, transferred, returned):
        client.post(f"/handoffs/{handoff_id}/claim")
    assert (
        client.post(f"/handoffs/{resolved}/resolve", {"resolution": "Refunded"}, **HTMX)["HX-Redirect"] == "/"
    )
    client.post(f"/handoffs/{transferred}/transfer", {"to": "agent:grace", "note": "VIP, be gentle"}, **HTMX)
    client.post(f"/handoffs/{returned}/return", {"note": "Only tracking left"}, **HTMX)
    statuses = dict(Handoff.objects.filter(previous__isnull=True).values_list("id", "status"))
    assert {str(k): v for k, v in statuses.items()} == {
        resolved: "resolved",
        transferred: "transferred",
        returned: "returned_to_bot",
    }
    new = Handoff.objects.get(previous_id=transferred)
    assert new.reserved_for == teammate.user and new.note == "VIP, be gentle"
    assert "VIP, be gentle" in login(teammate).get(f"/handoffs/{new.id}/").content.decode()


def test_a_transfer_without_a_note_is_refused_readably(escalate, login, agent):
    handoff_id = escalate()
    client = login(agent)
    client.post(f"/handoffs/{handoff_id}/claim")
    response = client.post(f"/handoffs/{handoff_id}/transfer", {"to": "team:Support", "note": ""}, **HTMX)
    assert response.status_code == 422 and "needs a note" in response.content.decode()


def test_untrusted_text_is_escaped_on_the_page(bot_client, login, agent):
    from tests.botclient import CUSTOMER, escalation, turn

    payload = turn("<script>alert('turn')</script> order #KX-48213", first=True)
    payload["customer"] = CUSTOMER | {"name": "<img src=x onerror=alert('name')>"}
    bot_client.post(payload)
    handoff_id = bot_client.post(
        escalation(reason="<b>bold reason</b>", focus="<svg onload=alert(1)>")
    ).json()["handoff"]["id"]
    page = login(agent).get(f"/handoffs/{handoff_id}/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<img src=x" not in page and "<b>bold reason</b>" not in page and "<svg onload" not in page


def test_presence_toggles_between_available_and_away(login, agent):
    client = login(agent)
    response = client.post("/presence", {"presence": "away"}, **HTMX)
    assert response.status_code == 200 and 'value="available"' in response.content.decode()
    agent.refresh_from_db()
    assert agent.presence == "away"
    assert client.post("/presence", {"presence": "offline"}, **HTMX).status_code == 422


def test_confirm_correct_and_add_beliefs_in_one_click(escalate, login, agent):
    handoff_id = escalate()
    client = login(agent)
    # add
    response = client.post(
        f"/handoffs/{handoff_id}/beliefs",
        {"key": "preferred_contact", "value": "email", "scope": "general"},
        **HTMX,
    )
    assert response.status_code == 200 and "preferred contact" in response.content.decode()
    belief = Belief.objects.get(key="preferred_contact")
    assert belief.value == "email" and belief.sources[-1]["source"] == "agent"
    # correct
    client.post(
        f"/handoffs/{handoff_id}/beliefs",
        {"key": "preferred_contact", "value": "phone", "scope": "general"},
        **HTMX,
    )
    assert Belief.objects.get(key="preferred_contact").value == "phone"
    # confirm keeps the JSON value as it is
    client.post(
        f"/handoffs/{handoff_id}/beliefs",
        {"key": "preferred_contact", "value_json": '"phone"', "scope": "general"},
        **HTMX,
    )
    assert Belief.objects.get(key="preferred_contact").value == "phone"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"key": "no spaces allowed", "value": "x", "scope": "general"}, "key"),
        ({"key": "vip", "value": "  ", "scope": "general"}, "Write the value"),
        ({"key": "diagnosis", "value": "x", "scope": "sensitive"}, "may not write"),
    ],
)
def test_a_bad_belief_is_refused_readably(escalate, login, agent, data, message):
    handoff_id = escalate()
    response = login(agent).post(f"/handoffs/{handoff_id}/beliefs", data, **HTMX)
    assert response.status_code == 422 and message in response.content.decode()
    assert not Belief.objects.exists()
