"""Fixtures for the end-to-end tests: a real daphne and Celery worker on the pytest database, headless
Chromium, signed-in browser contexts for the personas and a bot that talks HTTP to the live server.

The server processes read and write the same database as the test, so the tests use ``transactional_db``
(data committed, visible to them) rather than ``db`` (a transaction they would never see).
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import live
from tests.browser.helpers import LIVE_TIMEOUT_MS
from tests.support.receiver import Receiver, callback_receiver

expect.set_options(timeout=LIVE_TIMEOUT_MS)

# Every page records how its console sockets closed (the htmx ws extension's event carries the code).
RECORD_CLOSES = """
window.__wsCloses = [];
document.addEventListener("htmx:wsClose", function (event) { window.__wsCloses.push(event.detail.event.code); });
"""
SERVER_ERROR = 1011


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    browser_dir = Path(__file__).parent
    for item in items:
        if browser_dir in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium for one module. Playwright's sync API keeps an event loop running on this thread, which
    Django takes for an async context; the test's own ORM calls are plain synchronous ones, so they are
    allowed for as long as the browser is open (and only then: the flag goes with the module)."""
    if live.chromium_path() is None:
        pytest.skip("Chromium is not installed (make browser installs it)")
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"
    try:
        with live.browser() as browser:
            yield browser
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="package")
def warmline_server(django_db_setup, tmp_path_factory) -> Iterator[live.Server]:
    """daphne (and a Celery worker when REDIS_URL is set) serving the pytest database, for this package
    only: a worker left running would take the Celery tasks other tests queue in the same Redis."""
    from django.conf import settings
    from django.db import connection

    try:
        database = live.database_url(connection.settings_dict)
    except RuntimeError as error:
        pytest.skip(f"browser tests need a database a server process can open: {error}")
    logs = tmp_path_factory.mktemp("live-logs")
    with live.serve(database=database, redis=settings.REDIS_URL, logs=logs) as server:
        yield server


@pytest.fixture
def server(warmline_server, transactional_db) -> str:
    return warmline_server.url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with callback_receiver() as found:
        yield found


@pytest.fixture
def team(transactional_db):
    from tests.factories import TeamFactory

    return TeamFactory(name="Support")


@pytest.fixture
def bot_and_secret(team, receiver):
    from tests.factories import make_bot

    return make_bot(team=team.name, callback_url=receiver.url)


@pytest.fixture
def live_bot(server, bot_and_secret) -> live.LiveBot:
    bot, secret = bot_and_secret
    return live.LiveBot(base_url=server, bot_id=bot.bot_id, secret=secret)


@pytest.fixture
def personas(team):
    """Ada and Grace of the Support team, Mallory of another team."""
    from tests.factories import AgentFactory, TeamFactory

    return {
        "ada": AgentFactory(user__username="ada", display_name="Ada Okafor", teams=[team]),
        "grace": AgentFactory(user__username="grace", display_name="Grace Liu", teams=[team]),
        "mallory": AgentFactory(
            user__username="mallory", display_name="Mallory", teams=[TeamFactory(name="Other")]
        ),
    }


@pytest.fixture
def open_as(request, chromium, warmline_server, server, personas) -> Iterator[Callable[..., Any]]:
    """A fresh browser context per persona, signed in; returns its page on the queue."""
    contexts: list[Any] = []

    def make(username: str, *, via_form: bool = False) -> Any:
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(LIVE_TIMEOUT_MS)
        context.add_init_script(RECORD_CLOSES)
        contexts.append(context)
        if via_form:
            page = live.sign_in(context, server, username)
        else:
            context.add_cookies([_session_cookie(personas[username].user, server)])
            page = context.new_page()
            page.goto(f"{server}/")
        page.on("pageerror", lambda error: errors.append(f"{username}: {error}"))
        return page

    errors: list[str] = []
    yield make
    for context in contexts:
        for page in context.pages:
            if SERVER_ERROR in (page.evaluate("window.__wsCloses || []") or []):
                errors.append(f"the server closed a console socket of {page.url} with 1011 (see its log)")
    if request.node.stash.get(FAILED, False):
        _keep_evidence(request.node.name, contexts, warmline_server)
    # Close the pages (and their sockets) before transactional_db empties the tables.
    for context in contexts:
        context.close()
    assert not errors, f"errors in the console pages: {errors}"


def _session_cookie(user: Any, url: str) -> dict[str, Any]:
    """A signed-in session for the browser, made the way Django's test client makes one (quicker than
    the form, which the flow test still goes through once)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": url, "httpOnly": True}


def _keep_evidence(test: str, contexts: list[Any], server: live.Server) -> None:
    """A failed test leaves each page's screenshot beside the servers' logs, and says where."""
    for number, context in enumerate(contexts):
        for page in context.pages:
            page.screenshot(path=server.logs / f"{test}-{number}.png", full_page=True)
    tail = server.log("daphne")[-3000:]
    print(f"\nbrowser evidence in {server.logs}\n--- daphne log (tail) ---\n{tail}")


def conversation_events(conversation: str, name: str = "Dana Reyes") -> list[dict[str, Any]]:
    """A short conversation as a bot streams it."""
    customer = {"id": f"u-{conversation}", "name": name, "email": "dana@example.com", "locale": "en"}
    return [
        {
            "type": "turn",
            "conversation_id": conversation,
            "customer": customer,
            "data": {"role": "customer", "text": "My order #KX-48213 never arrived and I'm annoyed."},
        },
        {
            "type": "turn",
            "conversation_id": conversation,
            "data": {"role": "bot", "text": "I'm sorry to hear that. Let me check the tracking."},
        },
        {
            "type": "turn",
            "conversation_id": conversation,
            "data": {"role": "customer", "text": "This is the third time. I want to talk to a person now."},
        },
    ]


@pytest.fixture
def escalate_live(live_bot) -> Callable[..., str]:
    """Stream a short conversation and escalate it over HTTP; returns the handoff id."""

    def make(conversation: str = "c-1", name: str = "Dana Reyes", **data: Any) -> str:
        fields = {"reason": "Customer asked for a person", "reason_code": "customer_request", **data}
        escalation = {"type": "escalation", "conversation_id": conversation, "data": fields}
        response = live_bot.send(*conversation_events(conversation, name), escalation)
        return response.json()["handoff"]["id"]

    return make
