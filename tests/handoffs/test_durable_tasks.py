"""Durable tasks (handoffs.scheduling): an ask is recorded with the change that makes it, cleared by a run
that covers it, and sent again by the sweep when its queueing or run was lost; redone work lands once."""

import json
from datetime import timedelta

import pytest
import redis
from celery.app.task import Task
from celery.signals import task_prerun
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from handoffs.models import Observation, PendingTask, Turn
from handoffs.scheduling import pending_tasks_resend
from handoffs.tasks import infer_recurring_issue, infer_self_model_from_turn
from tests.botclient import event, turn

pytestmark = pytest.mark.django_db(transaction=True)

CHATTY = "I would really prefer that you email me about this, my account keeps failing"


def queued(task_name: str) -> int:
    """Messages for ``task_name`` waiting in the broker (no worker runs in these tests)."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    finally:
        client.close()
    return sum(1 for message in messages if message["headers"]["task"] == task_name)


def age_asks(seconds: float = 3600) -> None:
    PendingTask.objects.update(asked_at=timezone.now() - timedelta(seconds=seconds))


def test_an_ask_is_recorded_with_its_change_and_not_without_it(bot_client):
    # given: a customer turn that asks for self-model inference
    assert bot_client.post(turn(CHATTY, first=True)).status_code == 200
    customer_turn = Turn.objects.get()
    assert list(PendingTask.objects.values_list("task", "args")) == [
        ("handoffs.tasks.infer_self_model_from_turn", [customer_turn.pk])
    ]
    # when a change that would ask rolls back, so does its ask
    with pytest.raises(RuntimeError), transaction.atomic():
        from handoffs.scheduling import enqueue_on_commit

        enqueue_on_commit(infer_self_model_from_turn, customer_turn.pk)
        raise RuntimeError("rolled back")
    assert PendingTask.objects.count() == 1


def test_a_successful_run_clears_the_asks_it_covers_and_a_failed_one_does_not(bot_client):
    bot_client.post(turn(CHATTY, first=True))
    customer_turn = Turn.objects.get()
    # a run for something that cannot succeed (a conversation id that is not a UUID) keeps its ask
    PendingTask.objects.create(
        key='handoffs.tasks.infer_recurring_issue:["nope"]',
        task="handoffs.tasks.infer_recurring_issue",
        args=["nope"],
        asked_at=timezone.now(),
    )
    infer_recurring_issue.apply(args=["nope"])
    assert PendingTask.objects.filter(task="handoffs.tasks.infer_recurring_issue").count() == 1
    # when the inference runs
    infer_self_model_from_turn.apply(args=[customer_turn.pk])
    # then
    assert not PendingTask.objects.filter(task="handoffs.tasks.infer_self_model_from_turn").exists()
    assert Observation.objects.filter(source="inferred").exists()


def age(field: str, seconds: float) -> None:
    PendingTask.objects.update(**{field: timezone.now() - timedelta(seconds=seconds)})


RESEND = settings.WARMLINE["PENDING_TASK_RESEND_SECONDS"]
STALLED = settings.WARMLINE["PENDING_TASK_STALLED_SECONDS"]
INFER = "handoffs.tasks.infer_self_model_from_turn"


def test_an_ask_queued_behind_a_backlog_is_not_resent_before_the_stalled_time(bot_client):
    # given: an ask the broker took (a worker backlog: past the resend period, nobody has run it yet)
    bot_client.post(turn(CHATTY, first=True))
    age("asked_at", RESEND * 3)
    before = queued(INFER)
    # then: not doubled
    assert pending_tasks_resend() == 0
    # when it has waited past the stalled time, the broker must have lost it: sent again
    age("asked_at", STALLED + 1)
    assert pending_tasks_resend() == 1 and queued(INFER) == before + 1


def test_an_ask_the_broker_refused_is_resent_after_the_resend_period(bot_client, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise BrokerUnavailable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as patched:
        patched.setattr(Task, "apply_async", refuse)
        assert bot_client.post(turn(CHATTY, first=True)).status_code == 200
    assert list(PendingTask.objects.values_list("task", "lost")) == [(INFER, True)]
    before = queued(INFER)
    assert pending_tasks_resend() == 0  # the period is not over yet
    age("asked_at", RESEND + 1)
    assert pending_tasks_resend() == 1 and queued(INFER) == before + 1
    assert pending_tasks_resend() == 0  # now in the broker: not again before the stalled time


def test_an_ask_whose_run_has_started_is_not_resent_until_it_stalls(bot_client):
    bot_client.post(turn(CHATTY, first=True))
    customer_turn = Turn.objects.get()
    task = infer_self_model_from_turn
    # when a worker starts its run (the signal Celery sends before running it) and is still at it
    task_prerun.send(sender=task, task_id="run-1", task=task, args=[customer_turn.pk], kwargs={})
    age("asked_at", STALLED * 2)
    # then: not resent while it runs
    assert PendingTask.objects.get().started_at is not None
    assert pending_tasks_resend() == 0
    # a run that started past the stalled time and never finished (its worker died) is sent again
    age("started_at", STALLED + 1)
    assert pending_tasks_resend() == 1
    assert pending_tasks_resend() == 0


def test_an_ask_whose_run_failed_is_resent_after_the_resend_period(bot_client):
    PendingTask.objects.create(
        key='handoffs.tasks.infer_recurring_issue:["nope"]',
        task="handoffs.tasks.infer_recurring_issue",
        args=["nope"],
        asked_at=timezone.now() - timedelta(seconds=RESEND + 1),
    )
    # when its run fails (a conversation id that is not a UUID)
    infer_recurring_issue.apply(args=["nope"])
    # then
    ask = PendingTask.objects.get()
    assert ask.lost and ask.started_at is None
    assert pending_tasks_resend() == 1


def test_the_sweep_resends_each_lost_ask_once_per_period(bot_client):
    bot_client.post(turn(CHATTY, first=True))
    bot_client.post(turn(CHATTY, conversation="c-2", first=True))
    asks = PendingTask.objects.filter(task="handoffs.tasks.infer_self_model_from_turn")
    assert asks.count() == 2
    before = queued("handoffs.tasks.infer_self_model_from_turn")
    # asked just now: the tasks may still be on their way; nothing is resent
    assert pending_tasks_resend() == 0
    # when the asks are older than the resend period (their tasks were lost)
    age_asks()
    assert pending_tasks_resend() == 2
    assert queued("handoffs.tasks.infer_self_model_from_turn") == before + 2
    # not again within the period
    assert pending_tasks_resend() == 0
    assert asks.count() == 2  # until a run clears them


def test_asks_a_day_old_are_given_up(bot_client):
    bot_client.post(turn(CHATTY, first=True))
    age_asks(seconds=25 * 3600)
    assert pending_tasks_resend() == 0
    assert not PendingTask.objects.exists()


def test_inference_redone_for_the_same_turn_records_nothing_twice(bot_client):
    bot_client.post(turn(CHATTY, first=True))
    customer_turn = Turn.objects.get()
    infer_self_model_from_turn.apply(args=[customer_turn.pk])
    first = Observation.objects.filter(source="inferred").count()
    # when it runs again (a resend that raced the original run)
    infer_self_model_from_turn.apply(args=[customer_turn.pk])
    # then
    assert first >= 1 and Observation.objects.filter(source="inferred").count() == first


def test_a_recurring_issue_redone_is_recorded_once(bot_client):
    for conversation in ("c-1", "c-2"):
        bot_client.post(turn("My parcel is late", conversation=conversation, first=True))
        bot_client.post(event("classification", conversation, issue_type="shipping", complexity="low"))
    second = Turn.objects.get(conversation__external_id="c-2").conversation_id
    for _ in range(2):
        infer_recurring_issue.apply(args=[str(second)])
    assert Observation.objects.filter(key="recurring_issue", value="shipping").count() == 1
