"""Running a task later, in both configurations.

With a broker (Redis), a task is sent with a countdown and a worker runs it. In the embedded default
Celery runs tasks eagerly, where a countdown would be ignored and the task would run at once, inside the
request; there a daemon timer thread of this process runs it when it is due instead. Callers schedule
after their transaction commits, so the task sees what they wrote.

By then the caller's work is saved, so a task that cannot be queued (the broker, Redis, is down) is logged
and dropped rather than turning a request that succeeded into an error: PostgreSQL holds the truth, the
beat sweeps pick up lost timers and callbacks, and the consoles resync when they reconnect.
"""

import logging
import threading
from typing import Any

from celery import Task
from django.conf import settings
from django.db import connections, transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args: Any) -> None:
    """``task.delay(*args)`` once the current transaction commits (``delay_on_commit``), outage-proof."""
    transaction.on_commit(lambda: _enqueue(task, args))


def _enqueue(task: Task, args: tuple[Any, ...]) -> None:
    try:
        task.delay(*args)
    except BrokerUnavailable as error:
        _dropped(task, error)


def _dropped(task: Task, error: Exception) -> None:
    logger.warning(
        "task %s not queued, the broker is unavailable (%s); sweeps and resync recover", task.name, error
    )


def run_later(task: Task, *args: Any, delay: float = 0.0) -> None:
    """Run ``task(*args)`` in ``delay`` seconds, once the current transaction (if any) has committed."""
    transaction.on_commit(lambda: _schedule(task, args, max(0.0, delay)))


def _schedule(task: Task, args: tuple[Any, ...], delay: float) -> None:
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            task.apply_async(args=args, countdown=delay)
        except BrokerUnavailable as error:
            _dropped(task, error)
        return
    timer = threading.Timer(delay, _run_in_thread, args=(task, args))
    timer.daemon = True
    timer.start()


def _run_in_thread(task: Task, args: tuple[Any, ...]) -> None:
    try:
        task.apply(args=args)
    finally:
        connections.close_all()  # this thread's connections must not outlive it
