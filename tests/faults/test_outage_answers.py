"""The answers the fault tests rely on, in-process and fast: a broker that refuses a task does not undo a
request whose work committed, and an unreachable database is a 503 with Retry-After, never a 500."""

import logging

import pytest
from celery.app.task import Task
from django.db import OperationalError
from kombu.exceptions import OperationalError as BrokerUnavailable

from handoffs.models import OutboundDelivery, Turn
from tests.botclient import BotClient, escalation, turn
from tests.factories import make_bot


@pytest.fixture
def broker_down(monkeypatch):
    """Every task publish fails the way Celery fails when Redis refuses connections."""
    sent: list[str] = []

    def refuse(self, *args, **kwargs):
        sent.append(self.name)
        raise BrokerUnavailable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", refuse)
    return sent


def test_events_are_answered_and_stored_when_tasks_cannot_be_queued(transactional_db, broker_down, caplog):
    # Committed for real (transactional_db), so the after-commit enqueues run as they do in production.
    bot, secret = make_bot(team="Support", callback_url="https://bot.example.com/callbacks")
    client = BotClient(bot_id=bot.bot_id, secret=secret)
    with caplog.at_level(logging.WARNING, logger="handoffs.scheduling"):
        first = client.post(turn("My order #KX-48213 never arrived.", first=True))
        escalated = client.post(escalation())
    assert first.status_code == 200, first.content
    assert escalated.status_code == 201, escalated.content
    assert Turn.objects.filter(conversation__bot=bot, text="My order #KX-48213 never arrived.").count() == 1
    # The callback is in the outbox, pending: beat's sweep sends it once the broker is back.
    assert OutboundDelivery.objects.get(bot=bot).status == OutboundDelivery.Status.PENDING
    assert "handoffs.tasks.deliver_callbacks" in broker_down
    assert "not queued, the broker is unavailable" in caplog.text


def test_the_api_answers_503_when_the_database_is_unreachable(bot_client, monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError("couldn't get a connection after 10.00 sec")

    monkeypatch.setattr("handoffs.api.selectors.conversation_for_bot", unreachable)
    response = bot_client.get("/conversations/c-1")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    assert response.json() | {"detail": ""} == {
        "type": "https://warmline.dev/problems/service-unavailable",
        "title": "Service unavailable",
        "status": 503,
        "detail": "",
        "code": "service_unavailable",
    }


class Unreachable:
    def cursor(self):
        raise OperationalError("connection refused")


def test_pages_answer_503_when_the_database_is_unreachable(client, monkeypatch):
    monkeypatch.setattr("console.views.connection", Unreachable())
    page = client.get("/healthz", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert page.status_code == 503
    assert page["Retry-After"] == "5"
    assert "briefly unavailable" in page.content.decode()
    document = client.get("/healthz", HTTP_ACCEPT="application/json")
    assert document.status_code == 503
    assert document["Content-Type"] == "application/problem+json"
    assert document.json()["status"] == 503


def test_other_errors_stay_errors(client, monkeypatch):
    class Broken:
        def cursor(self):
            raise RuntimeError("a bug, not an outage")

    monkeypatch.setattr("console.views.connection", Broken())
    client.raise_request_exception = False
    assert client.get("/healthz").status_code == 500
