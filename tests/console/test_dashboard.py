"""Supervisor pages: who may see them, that their numbers are the API's and the CSV's, the live floor,
the frame view's highlights, and that customer and agent text stays inert."""

import asyncio
import csv
import io
import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from console.asgi import application
from handoffs.broadcast import team_queue_group
from handoffs.models import AgentProfile, Conversation, Customer, Handoff, MessageWarning, Turn
from tests.factories import AgentFactory, TeamFactory
from tests.handoffs.report_scenario import EXPECTED, build_scenario, make_supervisor

db = pytest.mark.django_db
sockets = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def supervisor(support_team):
    return make_supervisor(support_team)


@pytest.fixture
def scenario(bot, support_team, agent):
    return build_scenario(bot, support_team, agent)


def kpis(html: str) -> dict[str, str]:
    """The KPI cards' figures, by metric."""
    return dict(re.findall(r'data-kpi="([a-z0-9_]+)" data-value="([^"]*)"', html))


def figures(html: str) -> dict[str, str]:
    """Every figure the page lists ("All figures"), by metric."""
    return dict(re.findall(r'data-metric="([a-z0-9_]+)" data-value="([^"]*)"', html))


def handoff_of(conversation: str) -> Handoff:
    return Handoff.objects.filter(conversation__external_id=conversation).order_by("queued_at").first()


def pages(handoff_id) -> list[str]:
    return [
        "/supervisor/",
        "/supervisor/report.csv",
        "/supervisor/floor",
        "/supervisor/breakdown/team",
        "/supervisor/handoffs/",
        f"/supervisor/handoffs/{handoff_id}/",
        f"/supervisor/handoffs/{handoff_id}/live",
    ]


# --- who may see what -----------------------------------------------------------------------------


@db
def test_agents_get_403_on_every_supervisor_page(scenario, agent, login):
    client = login(agent)
    for url in pages(handoff_of("one").pk):
        assert client.get(url).status_code == 403, url


@db
def test_anonymous_visitors_are_sent_to_sign_in(scenario, client):
    for url in pages(handoff_of("one").pk):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


@db
def test_the_dashboard_link_shows_for_supervisors_only(scenario, agent, supervisor, login):
    assert 'href="/supervisor/"' not in login(agent).get("/").content.decode()
    assert 'href="/supervisor/"' in login(supervisor).get("/").content.decode()


@db
def test_supervisors_see_only_their_teams(scenario, login):
    boss = AgentFactory(user__username="boss", teams=[TeamFactory(name="Other")], is_supervisor=True)
    client = login(boss)
    page = client.get("/supervisor/").content.decode()
    assert kpis(page)["handoffs"] == "0"
    assert "No handoffs match" in client.get("/supervisor/handoffs/").content.decode()
    assert client.get("/supervisor/handoffs/?team=Support").content.decode().count("data-handoff=") == 0
    h1 = handoff_of("one")
    assert client.get(f"/supervisor/handoffs/{h1.pk}/").status_code == 404
    assert client.get(f"/supervisor/handoffs/{h1.pk}/live").status_code == 404
    rows = list(csv.DictReader(io.StringIO(client.get("/supervisor/report.csv").content.decode())))
    assert rows == []


# --- the numbers: page = API = CSV = hand computation ---------------------------------------------


@db
def test_the_page_the_api_and_the_csv_agree_with_the_hand_computation(scenario, supervisor, login, api_as):
    api = api_as(supervisor)
    body = api.get_path("/api/v1/reports/handoff-quality").json()
    html = login(supervisor).get("/supervisor/").content.decode()
    page, cards = figures(html), kpis(html)
    for key, expected in EXPECTED.items():
        if key == "commitments":
            for status, count in expected.items():
                assert int(page[f"commitments_{status}"]) == body["commitments"][status] == count, status
            continue
        assert body[key] == pytest.approx(expected), key
        assert float(page[key]) == pytest.approx(expected), key
    for key, value in body.items():  # every figure, also those the hand computation leaves out
        if key not in ("commitments", "by_day"):
            assert (float(page[key]) if page[key] else None) == (
                None if value is None else pytest.approx(value)
            ), key
    for key, value in cards.items():  # the KPI cards show the same figures
        assert value == page[key], key

    page_csv = login(supervisor).get("/supervisor/report.csv")
    api_csv = api.get_path("/api/v1/reports/handoff-quality?format=csv")
    assert page_csv["Content-Type"].startswith("text/csv")
    page_rows = list(csv.DictReader(io.StringIO(page_csv.content.decode())))
    api_rows = list(csv.DictReader(io.StringIO(api_csv.content.decode())))
    assert page_rows == api_rows
    assert [row["day"] for row in page_rows] == [day["day"] for day in body["by_day"]]
    assert len({row["day"] for row in page_rows}) == len(page_rows)  # one row per day
    assert sum(int(row["handoffs"]) for row in page_rows) == EXPECTED["handoffs"]
    for row, day in zip(page_rows, body["by_day"], strict=True):
        for key, value in day.items():
            assert (row[key] or None) == (None if value is None else str(value)), (day["day"], key)


@db
def test_filters_narrow_page_and_api_alike(scenario, supervisor, login, api_as, bot):
    api, browser = api_as(supervisor), login(supervisor)
    for query in ("team=Support", "team=Elsewhere", f"bot={bot.bot_id}", "agent=ada", "agent=nobody"):
        body = api.get_path(f"/api/v1/reports/handoff-quality?{query}").json()
        page = kpis(browser.get(f"/supervisor/?{query}").content.decode())
        assert int(page["handoffs"]) == body["handoffs"], query
        listed = browser.get(f"/supervisor/handoffs/?{query}").content.decode().count("data-handoff=")
        assert listed == body["handoffs"], query


@db
def test_breakdowns_add_up_to_the_total(scenario, supervisor, login):
    client = login(supervisor)
    page = client.get("/supervisor/").content.decode()
    for by in ("team", "bot", "issue_type", "agent"):
        # the page asks for each table once shown (hx-get on load), with its filters
        assert f'hx-get="/supervisor/breakdown/{by}?period=30"' in page, by
        table = client.get(f"/supervisor/breakdown/{by}?period=30").content.decode()
        counts = [int(value) for value in re.findall(r'data-handoffs="(\d+)"', table)]
        assert sum(counts) == EXPECTED["handoffs"], by
    agent_table = client.get("/supervisor/breakdown/agent").content.decode()
    assert 'data-key="ada" data-handoffs="2"' in agent_table  # the two handoffs ada claimed
    assert client.get("/supervisor/breakdown/password").status_code == 404


@db
def test_the_change_is_against_the_previous_period(scenario, supervisor, login, bot, support_team):
    # given: one handoff in the 30 days before the default period
    customer = Customer.objects.create(external_id="cust-old")
    old = Conversation.objects.create(bot=bot, external_id="old", customer=customer, context={})
    Handoff.objects.create(
        conversation=old,
        team=support_team,
        status="abandoned",
        reason="r",
        reason_code="other",
        queued_at=timezone.now() - timedelta(days=40),
    )
    page = login(supervisor).get("/supervisor/").content.decode()
    card = page.split('data-kpi="handoffs"', 1)[1].split("</article>", 1)[0]
    assert "+300 %" in card and "vs 1" in card  # 4 now, 1 before


# --- the floor ------------------------------------------------------------------------------------


def _floor_people(support_team):
    now = timezone.now()
    available = AgentFactory(
        user__username="ava", teams=[support_team], presence="available", last_seen_at=now
    )
    away = AgentFactory(user__username="abe", teams=[support_team], presence="away", last_seen_at=now)
    stale = AgentFactory(
        user__username="sid",
        teams=[support_team],
        presence="available",
        last_seen_at=now - timedelta(hours=1),
    )
    busy = AgentFactory(user__username="bea", teams=[support_team], presence="available", last_seen_at=now)
    return available, away, stale, busy


def _open_handoff(bot, team, name: str, status: str, *, agent=None, waited: int = 0) -> Handoff:
    now = timezone.now()
    customer = Customer.objects.create(external_id=f"cust-{name}", name=name)
    conversation = Conversation.objects.create(bot=bot, external_id=name, customer=customer, context={})
    return Handoff.objects.create(
        conversation=conversation,
        team=team,
        agent=agent.user if agent else None,
        status=status,
        reason="r",
        reason_code="other",
        queued_at=now - timedelta(seconds=waited),
        claimed_at=now if agent else None,
        prepare_until=now + timedelta(seconds=40) if status == "preparing" else None,
        connected_at=now if status == "connected" else None,
    )


@db
def test_the_floor_counts_queues_people_and_preparations(bot, support_team, supervisor, login):
    *_, busy = _floor_people(support_team)  # ava available, abe away, sid stale (offline), bea busy
    other_team = TeamFactory(name="Elsewhere team")
    _open_handoff(bot, support_team, "q1", "queued", waited=300)
    _open_handoff(bot, support_team, "q2", "queued", waited=30)
    _open_handoff(bot, other_team, "q3", "queued", waited=900)  # not this supervisor's team
    _open_handoff(bot, support_team, "p1", "preparing", agent=busy)
    _open_handoff(bot, support_team, "c1", "connected", agent=busy)
    html = login(supervisor).get("/supervisor/floor").content.decode()
    head = html.split(">", 1)[0]
    assert 'data-queued="2"' in head and 'data-preparing="1"' in head
    assert 'data-available="1"' in head and 'data-busy="1"' in head
    assert 'data-away="1"' in head and 'data-offline="1"' in head  # sid's presence went stale
    assert '<tr data-team="Support" data-queued="2">' in html and "Elsewhere team" not in html
    oldest = Handoff.objects.get(conversation__external_id="q1").queued_at
    assert f'data-since="{oldest.isoformat()}"' in html  # the longest wait ticks from q1's queueing
    assert ">p1</a>" in html  # in preparation


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_agent_cannot_open_the_floor_socket(agent, session_headers):
    headers = await sync_to_async(session_headers)(agent)
    communicator = WebsocketCommunicator(application, "/ws/supervisor/floor/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    assert not connected and code == 4403


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_foreign_origin_cannot_open_the_floor_socket(supervisor, session_headers):
    headers = await sync_to_async(session_headers)(supervisor, origin="https://evil.example")
    communicator = WebsocketCommunicator(application, "/ws/supervisor/floor/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert not connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_floor_socket_resyncs_then_follows_escalations_throttled(
    escalate, supervisor, support_team, session_headers
):
    socket = WebsocketCommunicator(
        application, "/ws/supervisor/floor/", headers=await sync_to_async(session_headers)(supervisor)
    )
    connected, _ = await socket.connect(timeout=5)
    assert connected
    first = await socket.receive_from(timeout=5)
    assert 'id="floor"' in first and 'hx-swap-oob="true"' in first and 'data-queued="0"' in first
    # when: a customer is escalated to the team, and a burst of events follows
    await sync_to_async(escalate)()
    frame = await socket.receive_from(timeout=5)
    assert 'data-queued="1"' in frame
    layer = get_channel_layer()
    event = {
        "type": "warmline.event",
        "event": {"type": "handoff.updated", "handoff_id": "x", "status": "queued"},
    }
    for _ in range(10):
        await layer.group_send(team_queue_group(support_team.id), event)
    frames = []
    deadline = asyncio.get_running_loop().time() + 1.6
    while asyncio.get_running_loop().time() < deadline:
        if not await socket.receive_nothing(timeout=0.1):
            frames.append(await socket.receive_from(timeout=1))
    assert 1 <= len(frames) <= 2  # ten events, one render a second at most
    await socket.disconnect()


# --- the frame view -------------------------------------------------------------------------------


@db
def test_the_frame_highlights_the_repeat_question_where_it_happened(scenario, supervisor, login):
    h1 = handoff_of("one")
    html = login(supervisor).get(f"/supervisor/handoffs/{h1.pk}/").content.decode()
    flagged = re.search(r'<li id="turn-3" class="([^"]*)"', html)
    assert flagged and "flag-repeat_question" in flagged.group(1)
    turn = html.split('id="turn-3"', 1)[1].split("</li>", 1)[0]
    assert "Order number?" in turn and 'data-warning="repeat_question"' in turn
    assert 'id="turn-1"' in html and "flag-" not in html.split('id="turn-1"', 1)[1].split("</li>", 1)[0]
    # the markers sit between the turns: handed off after turn 1, connected before turn 2
    transcript = html.split('id="transcript-title"', 1)[1]
    order = [
        transcript.index(mark) for mark in ('id="turn-1"', "marker-queued", "marker-connected", 'id="turn-2"')
    ]
    assert order == sorted(order)
    # timeline with durations: 60 s wait, 30 s preparation; CSAT 2 → 5
    durations = re.findall(r'<span class="duration">([^<]+)</span><span class="hint">([^<]+)</span>', html)
    assert durations == [("1 min 00 s", "wait"), ("30 s", "preparation"), ("5 min 00 s", "to the end")]
    assert re.search(r'data-csat="bot"><span class="num">2<', html)
    assert re.search(r'data-csat="human"><span class="num">5<', html)
    assert "1 repeat question" in html
    assert "Observe live" not in html  # resolved


@db
def test_an_open_handoff_can_be_observed_read_only(bot, support_team, supervisor, agent, login):
    handoff = _open_handoff(bot, support_team, "live-one", "connected", agent=agent)
    client = login(supervisor)
    assert "Observe live" in client.get(f"/supervisor/handoffs/{handoff.pk}/").content.decode()
    html = client.get(f"/supervisor/handoffs/{handoff.pk}/live").content.decode()
    assert f'ws-connect="/ws/supervisor/handoffs/{handoff.pk}/observe/"' in html and 'id="chat-lines"' in html
    assert 'id="composer"' not in html and "/resolve" not in html and "/messages" not in html


@db
def test_the_list_is_paginated_and_filterable_by_status(bot, support_team, supervisor, login):
    for number in range(30):
        _open_handoff(bot, support_team, f"n{number}", "queued" if number % 3 else "connected", waited=number)
    client = login(supervisor)
    first = client.get("/supervisor/handoffs/").content.decode()
    assert first.count("data-handoff=") == 25 and "Page 1 of 2" in first
    assert client.get("/supervisor/handoffs/?page=2").content.decode().count("data-handoff=") == 5
    assert client.get("/supervisor/handoffs/?status=connected").content.decode().count("data-handoff=") == 10


# --- escaping -------------------------------------------------------------------------------------


@db
def test_markup_in_turns_notes_and_names_is_inert(bot, support_team, supervisor, agent, login):
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    handoff = _open_handoff(bot, support_team, "evil", "resolved", agent=agent)
    Customer.objects.filter(pk=handoff.conversation.customer_id).update(name=evil)
    Handoff.objects.filter(pk=handoff.pk).update(
        note=evil,
        resolution=evil,
        reason=evil,
        frame={"summary": evil, "information_provided": [{"slot": evil, "value": evil}]},
    )
    turn = Turn.objects.create(
        conversation=handoff.conversation,
        seq=1,
        role="agent",
        text=evil,
        occurred_at=timezone.now(),
        handoff=handoff,
    )
    MessageWarning.objects.create(
        turn=turn, handoff=handoff, kind="repeat_question", message=evil, created_at=timezone.now()
    )
    Conversation.objects.filter(pk=handoff.conversation_id).update(issue_type=evil)
    client = login(supervisor)
    urls = (
        f"/supervisor/handoffs/{handoff.pk}/",
        "/supervisor/handoffs/",
        "/supervisor/?period=7",
        "/supervisor/breakdown/issue_type?period=7",
    )
    for url in urls:
        html = client.get(url).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;" in html, url


@db
def test_a_supervisor_with_no_teams_sees_an_empty_dashboard(login):
    lonely = AgentFactory(user__username="solo", teams=[], is_supervisor=True)
    response = login(lonely).get("/supervisor/")
    assert response.status_code == 200 and kpis(response.content.decode())["handoffs"] == "0"
    assert AgentProfile.objects.filter(pk=lonely.pk).exists()


# --- demo history ---------------------------------------------------------------------------------


@db
def test_seed_history_writes_weeks_once_and_the_dashboard_reads_them(supervisor, login):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("seed_history", "--days", "14", "--scale", "0.5", stdout=out)
    assert "handoffs over 14 days" in out.getvalue()
    first = Handoff.objects.count()
    assert first > 50
    assert set(Handoff.objects.values_list("status", flat=True)) >= {"resolved", "abandoned"}
    assert MessageWarning.objects.filter(kind="repeat_question").exists()
    assert Turn.objects.filter(role="customer", sentiment__isnull=False).count() > first
    call_command("seed_history", stdout=(again := StringIO()))
    assert "already seeded" in again.getvalue() and Handoff.objects.count() == first
    # morgan (the demo supervisor) now supervises every team, and the numbers add up on the page
    assert supervisor.teams.count() == 3
    client = login(supervisor)
    html = client.get("/supervisor/?period=14").content.decode()
    assert int(kpis(html)["handoffs"]) > 0
    team_table = client.get("/supervisor/breakdown/team?period=14").content.decode()
    assert sum(int(n) for n in re.findall(r'data-handoffs="(\d+)"', team_table)) == int(
        kpis(html)["handoffs"]
    )
