"""Found by the fault tests (a loaded machine, a live worker): a bot's event and the self-model inference
for the same customer deadlocked. The request locked the conversation (and, through select_related, the
customer) FOR UPDATE; the task held the customer and inserted an observation, whose foreign key needs a
KEY SHARE lock on the conversation. Deterministic here: the task's two steps are held apart."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, connections, transaction

from handoffs.models import Conversation, Customer, Observation, Turn
from handoffs.services.selfmodel import observation_record
from tests.botclient import turn
from tests.faults.harness import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_an_event_and_an_inference_for_the_same_customer_do_not_deadlock(bot, bot_client):
    assert bot_client.post(turn("Hello", first=True)).status_code == 200
    conversation = Conversation.objects.get(bot=bot, external_id="c-1")
    customer_held, go_on = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    answers: list[int] = []

    def inference() -> None:
        """What the inference task does (observation_record): lock the customer, then add an observation."""
        try:
            with transaction.atomic():
                Customer.objects.select_for_update().filter(pk=conversation.customer_id).first()
                customer_held.set()
                go_on.wait(timeout=10)
                observation_record(
                    customer=conversation.customer,
                    key="preferred_channel",
                    value="email",
                    confidence=0.6,
                    scope="general",
                    source=Observation.Source.INFERRED,
                    source_ref="warmline",
                    observed_at=datetime.now(tz=UTC),
                    conversation=conversation,
                )
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    def event() -> None:
        try:
            answers.append(bot_client.post(turn("Are you still there?")).status_code)
        finally:
            connections.close_all()

    task = threading.Thread(target=inference)
    task.start()
    assert customer_held.wait(timeout=10)
    request = threading.Thread(target=event)
    request.start()
    wait_until(waiting_on_locks, timeout=5, what="the event to wait for the customer's lock")
    go_on.set()
    task.join(timeout=20)
    request.join(timeout=20)
    assert not task.is_alive() and not request.is_alive()
    assert failures == [] and answers == [200], (failures, answers)
    assert Turn.objects.filter(conversation=conversation, text="Are you still there?").count() == 1
    assert (
        Observation.objects.filter(customer_id=conversation.customer_id, key="preferred_channel").count() == 1
    )
