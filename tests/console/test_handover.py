"""The console's "Hand over my shift" page: ranked list, editable snapshots, targets, one submit."""

import re

import pytest

from handoffs.models import AgentProfile, Handoff, Handover
from tests.support.shift import held, here, three_held

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def shift(bot_client, api_as, agent):
    return three_held(bot_client, api_as, agent)


def form_of(page: str) -> dict:
    """What the browser would send: the key, every handoff with its textarea and selected target."""
    ids = re.findall(r'name="handoff" value="([0-9a-f-]+)"', page)
    data: dict = {"key": re.search(r'name="key" value="(\w+)"', page)[1], "handoff": ids, "away": "on"}
    for handoff_id in ids:
        textarea = re.search(rf'name="snapshot-{handoff_id}"[^>]*>(.*?)</textarea>', page, re.S)[1]
        data[f"snapshot-{handoff_id}"] = _unescape(textarea)
        select = re.search(rf'name="to-{handoff_id}".*?</select>', page, re.S)[0]
        data[f"to-{handoff_id}"] = re.search(r'<option value="([^"]+)" selected', select)[1]
    return data


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_the_page_lists_my_handoffs_most_critical_first_with_drafts(shift, login, agent, teammate):
    here(teammate)
    page = login(agent).get("/handover").content.decode()
    # ranked: upset, promise, calm
    order = re.findall(r'id="ho-([0-9a-f-]+)" data-rank="(\d)"', page)
    assert order == [(shift["upset"], "1"), (shift["promise"], "2"), (shift["calm"], "3")]
    # each with its drafted snapshot and its own team's queue preselected; grace offered by name
    data = form_of(page)
    assert data[f"snapshot-{shift['upset']}"].startswith("State: Connected with Uma Upset")
    assert "Refund of $40.00" in data[f"snapshot-{shift['promise']}"]
    assert {data[f"to-{pk}"] for pk in shift.values()} == {"team:Support"}
    assert 'value="agent:grace"' in page and "room for 3" in page
    assert "Fragile:" in page and "last message unanswered" in page
    # the queue page links to it
    assert 'href="/handover"' in login(agent).get("/").content.decode()


def test_one_submit_hands_everything_over_and_sets_me_away(shift, login, agent, teammate):
    here(teammate)
    client = login(agent)
    data = form_of(client.get("/handover").content.decode())
    data[f"to-{shift['upset']}"] = "agent:grace"
    data[f"snapshot-{shift['upset']}"] += "\nCall her back on the landline."
    # when
    response = client.post("/handover", data, **HTMX)
    # then
    assert response.status_code == 200 and response["HX-Redirect"] == "/"
    assert "Handed over 3 conversations. You are set to away." in client.get("/").content.decode()
    upset = Handoff.objects.get(previous_id=shift["upset"])
    assert upset.reserved_for == teammate.user
    assert upset.frame["transfer"]["note"].endswith("Call her back on the landline.")
    assert Handoff.objects.filter(pk__in=shift.values(), status="transferred").count() == 3
    assert AgentProfile.objects.get(pk=agent.pk).presence == "away"


def test_a_refused_handover_keeps_my_edits_and_says_why_beside_the_item(shift, login, agent, teammate):
    here(teammate, capacity=1)
    client = login(agent)
    data = form_of(client.get("/handover").content.decode())
    data[f"snapshot-{shift['calm']}"] = "My own words <b>about Carl</b>."
    data[f"to-{shift['calm']}"] = "team:Nowhere"
    # when
    response = client.post("/handover", data, **HTMX)
    # then: a 422 partial, the message beside the item, the edit kept (escaped), nothing transferred
    page = response.content.decode()
    assert response.status_code == 422
    assert '<form id="handover-form"' in page and "<html" not in page
    item = re.search(rf'<li class="[^"]*" id="ho-{shift["calm"]}".*?</li>', page, re.S)[0]
    assert "has-error" in item and "&#x27;Nowhere&#x27; is not one of your teams." in item
    assert "My own words &lt;b&gt;about Carl&lt;/b&gt;." in item
    assert f'value="{data["key"]}"' in page  # the same request, retried after a fix, is still one handover
    assert not Handoff.objects.filter(pk__in=shift.values(), status="transferred").exists()
    assert AgentProfile.objects.get(pk=agent.pk).presence == "available"
    # over capacity: grace has room for one, two are routed to her
    data[f"to-{shift['calm']}"] = "agent:grace"
    data[f"to-{shift['promise']}"] = "agent:grace"
    response = client.post("/handover", data)
    assert response.status_code == 422
    assert "has room for 1 more conversation; you routed 2 to them." in response.content.decode()
    assert not Handover.objects.exists()


def test_a_double_submit_hands_over_once(shift, login, agent):
    client = login(agent)
    data = form_of(client.get("/handover").content.decode())
    assert client.post("/handover", data, **HTMX).status_code == 200
    count = Handoff.objects.count()
    # the same form again (a double click, a browser retry)
    response = client.post("/handover", data, **HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == "/"
    assert Handoff.objects.count() == count and Handover.objects.count() == 1


def test_untrusted_text_is_escaped_on_the_page(bot_client, api_as, login, agent):
    here(agent)
    held(
        bot_client,
        api_as,
        agent,
        "c-x",
        name="Eve <img src=x onerror=alert(1)>",
        lines=[("customer", "Help <script>alert(2)</script> please")],
        after=[
            {"type": "turn", "conversation_id": "c-x", "data": {"role": "customer", "text": "<svg onload=x>"}}
        ],
    )
    page = login(agent).get("/handover").content.decode()
    assert "<img src=x" not in page and "<script>alert" not in page and "<svg onload" not in page
    assert "Eve &lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;svg onload=x&gt;" in page


def test_posts_need_the_csrf_token(shift, login, agent):
    client = login(agent, enforce_csrf=True)
    data = form_of(client.get("/handover").content.decode())
    assert client.post("/handover", data).status_code == 403
    assert not Handoff.objects.filter(status="transferred").exists()


def test_an_outsider_cannot_hand_over_someone_elses_conversations(shift, login, agent, outsider):
    data = form_of(login(agent).get("/handover").content.decode())
    # mallory's own page lists nothing of ada's
    assert "Uma Upset" not in login(outsider).get("/handover").content.decode()
    # and posting ada's ids is "not found"
    response = login(outsider).post("/handover", data)
    assert response.status_code == 404
    assert "Uma" not in response.content.decode()
    assert not Handoff.objects.filter(status="transferred").exists()


def test_with_nothing_open_there_is_nothing_to_hand_over(login, agent):
    page = login(agent).get("/handover").content.decode()
    assert "nothing to hand over" in page and 'type="submit" class="primary"' not in page
