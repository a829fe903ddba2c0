"""GET/POST /api/v1/agent/handover: the plan, and handing it all over once, as problem documents say why not."""

import pytest
from django.test import Client

from handoffs.models import Handoff, Handover
from tests.support.shift import here, three_held

pytestmark = pytest.mark.django_db


@pytest.fixture
def shift(bot_client, api_as, agent):
    return three_held(bot_client, api_as, agent)


def body_from(plan: dict, **targets: dict) -> dict:
    return {
        "handoffs": [
            {"handoff_id": item["handoff_id"], "snapshot": item["snapshot"], "team": item["team"]}
            | targets.get(item["handoff_id"], {})
            for item in plan["handoffs"]
        ]
    }


def test_the_plan_ranks_my_handoffs_with_drafted_snapshots(shift, api_as, agent, teammate):
    here(teammate)
    plan = api_as(agent).get("/handover").json()
    assert [item["handoff_id"] for item in plan["handoffs"]] == [
        shift["upset"],
        shift["promise"],
        shift["calm"],
    ]
    upset = plan["handoffs"][0]
    assert upset["rank"] == 1 and upset["customer_name"] == "Uma Upset" and upset["team"] == "Support"
    assert upset["snapshot"].startswith("State: Connected with Uma Upset")
    assert any("Hello??" in line for line in upset["sections"]["pending"])
    assert upset["fragility"] and set(upset["fragility"]) <= set(upset["reasons"])
    assert plan["colleagues"] == [{"username": "grace", "name": teammate.name, "room": 3}]
    assert plan["teams"] == ["Support"]


def test_handing_over_is_201_then_a_retry_is_200_with_the_same_answer(shift, api_as, agent):
    client = api_as(agent)
    body = body_from(client.get("/handover").json())
    # when
    first = client.post("/handover", body, HTTP_IDEMPOTENCY_KEY="shift-end-1")
    count = Handoff.objects.count()
    again = client.post("/handover", body, HTTP_IDEMPOTENCY_KEY="shift-end-1")
    # then
    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.json() == first.json()
    assert Handoff.objects.count() == count and Handover.objects.count() == 1
    result = first.json()
    assert [item["rank"] for item in result["handoffs"]] == [1, 2, 3] and result["went_away"] is True
    for item in result["handoffs"]:
        new = Handoff.objects.get(pk=item["next_handoff_id"])
        assert new.previous_id is not None and str(new.previous_id) == item["handoff_id"]
        assert new.frame["transfer"]["note"] == new.note and new.note.startswith("State:")
    assert client.put("/presence", {"presence": "available"}).json() == {"presence": "available"}


def test_without_an_idempotency_key_it_is_a_422(shift, api_as, agent):
    client = api_as(agent)
    response = client.post("/handover", body_from(client.get("/handover").json()))
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert not Handoff.objects.filter(status="transferred").exists()


def test_an_invalid_target_is_a_422_naming_the_item_and_changes_nothing(shift, api_as, agent):
    client = api_as(agent)
    plan = client.get("/handover").json()
    body = body_from(plan, **{shift["calm"]: {"team": None, "agent": "nobody"}})
    response = client.post("/handover", body, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["body", "items", 2, "agent"]
    assert "not an available colleague" in problem["detail"]
    assert not Handoff.objects.filter(status="transferred").exists() and not Handover.objects.exists()


def test_another_teams_handoff_is_a_404(shift, api_as, agent, outsider):
    body = body_from(api_as(agent).get("/handover").json())
    response = api_as(outsider).post("/handover", body, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 404 and "Uma" not in response.content.decode()
    assert api_as(outsider).get("/handover").json()["handoffs"] == []
    assert not Handoff.objects.filter(status="transferred").exists()


def test_anonymous_callers_get_401():
    assert Client().get("/api/v1/agent/handover").status_code == 401
    assert Client().post("/api/v1/agent/handover", "{}", content_type="application/json").status_code == 401
