"""Handoff quality: each metric computed by hand on a small scripted scenario, against the API and CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import AgentFactory
from tests.handoffs.report_scenario import EXPECTED

pytestmark = pytest.mark.django_db


def test_every_metric_matches_the_hand_computation(scenario, supervisor, api_as):
    body = api_as(supervisor).get_path("/api/v1/reports/handoff-quality").json()
    for key, value in EXPECTED.items():
        assert body[key] == pytest.approx(value) if isinstance(value, float) else body[key] == value, key
    assert sum(day["handoffs"] for day in body["by_day"]) == 4


def test_the_csv_rows_match_the_json(scenario, supervisor, api_as):
    client = api_as(supervisor)
    body = client.get_path("/api/v1/reports/handoff-quality").json()
    response = client.get_path("/api/v1/reports/handoff-quality?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["day"] for row in rows] == [day["day"] for day in body["by_day"]]
    assert [int(row["handoffs"]) for row in rows] == [day["handoffs"] for day in body["by_day"]]


def test_filters_narrow_the_report(scenario, supervisor, api_as, bot):
    client = api_as(supervisor)
    assert client.get_path("/api/v1/reports/handoff-quality?team=Elsewhere").json()["handoffs"] == 0
    assert client.get_path(f"/api/v1/reports/handoff-quality?bot={bot.bot_id}").json()["handoffs"] == 4
    assert client.get_path("/api/v1/reports/handoff-quality?agent=ada").json()["handoffs"] == 2
    since = (timezone.now() - timedelta(hours=1)).date().isoformat()
    assert client.get_path(f"/api/v1/reports/handoff-quality?since={since}").json()["handoffs"] <= 1


def test_agents_who_are_not_supervisors_get_403(scenario, agent, api_as):
    response = api_as(agent).get_path("/api/v1/reports/handoff-quality")
    assert response.status_code == 403 and response.json()["code"] == "not_a_supervisor"


def test_supervisors_see_only_their_teams(scenario, api_as):
    from tests.factories import TeamFactory

    elsewhere = AgentFactory(user__username="boss", teams=[TeamFactory(name="Other")], is_supervisor=True)
    assert api_as(elsewhere).get_path("/api/v1/reports/handoff-quality").json()["handoffs"] == 0


def test_a_nul_in_a_dashboard_filter_names_nothing_and_is_not_an_error(scenario, supervisor, client):
    client.force_login(supervisor.user)
    for path in (
        "/supervisor/?team=a%00",
        "/supervisor/handoffs/?bot=a%00",
        "/supervisor/report.csv?agent=%00",
    ):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "since", ["1747-12-27T15:52:09.49-22:32", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_any_valid_moment_is_accepted_whatever_its_offset(scenario, supervisor, api_as, since):
    from urllib.parse import quote

    response = api_as(supervisor).get_path(f"/api/v1/reports/handoff-quality?since={quote(since)}")
    assert response.status_code == 200, response.content
