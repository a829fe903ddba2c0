"""Running a task later, in both configurations.

With a broker (Redis), a task is sent with a countdown and a worker runs it. In the embedded default
Celery runs tasks eagerly, where a countdown would be ignored and the task would run at once, inside the
request; there a daemon timer thread of this process runs it when it is due instead. Callers schedule
after their transaction commits, so the task sees what they wrote.

By then the caller's work is saved, so a task that cannot be queued (the broker, Redis, is down) is logged
and dropped rather than turning a request that succeeded into an error: PostgreSQL holds the truth, the
beat sweeps pick up lost timers and callbacks, and the consoles resync when they reconnect.

Work that no sweep could find again from its effect (assistance for a message, inference from a turn,
an ETA refresh) is declared durable: ``@shared_task(durable=True)``. Asking for a durable task also
inserts a ``PendingTask`` row in the caller's transaction. A run notes when it starts on the rows of its
task and arguments committed by then (``task_prerun``: ``started_at``); if it succeeds it deletes them
(``task_postrun``): those asks are covered by what it read; if it fails they are marked ``lost``, as are
the rows of a task the broker refused. Beat's ``resend_pending_tasks`` sends again, once per task and
arguments:

- ``lost`` asks, once ``PENDING_TASK_RESEND_SECONDS`` old (and at most once per that period);
- asks queued but not started after ``PENDING_TASK_STALLED_SECONDS`` (Redis lost its queue), and asks
  whose run started that long ago and never finished (its worker died).

An ask that is merely waiting behind a worker backlog is not resent before the stalled time, so a backlog
is not doubled. Durable tasks are idempotent, so a task both queued and resent has its effect once.
"""

import json
import logging
import threading
from datetime import timedelta
from typing import Any

from celery import Task, current_app
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)
PENDING_TASK_GIVE_UP = timedelta(hours=24)


def enqueue_on_commit(task: Task, *args: Any) -> None:
    """``task.delay(*args)`` once the current transaction commits (``delay_on_commit``), outage-proof."""
    _remember_if_durable(task, args)
    transaction.on_commit(lambda: _enqueue(task, args))


def _enqueue(task: Task, args: tuple[Any, ...]) -> None:
    try:
        task.delay(*args)
    except BrokerUnavailable as error:
        _dropped(task, args, error)


def _dropped(task: Task, args: tuple[Any, ...], error: Exception) -> None:
    logger.warning(
        "task %s not queued, the broker is unavailable (%s); sweeps and resync recover", task.name, error
    )
    if not getattr(task, "durable", False):
        return
    from handoffs.models import PendingTask

    try:  # not in the broker: the sweep sends it again soon rather than after the stalled time
        PendingTask.objects.filter(key=_key(task.name, args), started_at__isnull=True).update(lost=True)
    except Exception:
        logger.warning("could not mark the pending rows of %s as lost", task.name, exc_info=True)


def run_later(task: Task, *args: Any, delay: float = 0.0) -> None:
    """Run ``task(*args)`` in ``delay`` seconds, once the current transaction (if any) has committed."""
    _remember_if_durable(task, args)
    transaction.on_commit(lambda: _schedule(task, args, max(0.0, delay)))


def _schedule(task: Task, args: tuple[Any, ...], delay: float) -> None:
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            task.apply_async(args=args, countdown=delay)
        except BrokerUnavailable as error:
            _dropped(task, args, error)
        return
    timer = threading.Timer(delay, _run_in_thread, args=(task, args))
    timer.daemon = True
    timer.start()


def _run_in_thread(task: Task, args: tuple[Any, ...]) -> None:
    try:
        task.apply(args=args)
    finally:
        connections.close_all()  # this thread's connections must not outlive it


# --- durable tasks --------------------------------------------------------------------------------


def _key(name: str, args: Any) -> str:
    return f"{name}:{json.dumps(list(args), separators=(',', ':'), default=str)}"[:300]


def _remember_if_durable(task: Task, args: tuple[Any, ...]) -> None:
    """Insert the ask's PendingTask row in the caller's transaction."""
    if not getattr(task, "durable", False):
        return
    from handoffs.models import PendingTask

    PendingTask.objects.create(
        key=_key(task.name, args), task=task.name, args=list(args), asked_at=timezone.now()
    )


_covered: dict[str, list[int]] = {}


@task_prerun.connect
def _note_covered(task_id: str, task: Task, args: Any = None, **_: Any) -> None:
    """The asks committed before this run reads anything are the ones it will have done; they are marked
    started, so that the sweep does not resend them while it runs."""
    if not getattr(task, "durable", False):
        return
    from handoffs.models import PendingTask

    try:
        covered = list(
            PendingTask.objects.filter(key=_key(task.name, args or ())).values_list("pk", flat=True)
        )
        PendingTask.objects.filter(pk__in=covered).update(started_at=timezone.now(), lost=False)
        _covered[task_id] = covered
    except Exception:  # the database is away: the run will fail too, and the rows are resent later
        logger.warning("could not read the pending rows of %s", task.name, exc_info=True)


@task_postrun.connect
def _forget_done(task_id: str, task: Task, state: str | None = None, **_: Any) -> None:
    covered = _covered.pop(task_id, None)
    if not covered:
        return
    from handoffs.models import PendingTask

    try:
        if state == "SUCCESS":
            PendingTask.objects.filter(pk__in=covered).delete()
        else:  # failed: sent again at the next sweep past the resend period
            PendingTask.objects.filter(pk__in=covered).update(started_at=None, lost=True)
    except Exception:  # resent later; durable tasks are idempotent, so nothing is done twice
        logger.warning("could not update the pending rows of %s", task.name, exc_info=True)


def pending_tasks_resend(*, limit: int = 500) -> int:
    """Send again, once per task and arguments, the durable asks that are due (see the module docstring);
    give up on asks a day old. Returns how many were sent."""
    from handoffs.models import PendingTask

    now = timezone.now()
    quiet = now - timedelta(seconds=settings.WARMLINE["PENDING_TASK_RESEND_SECONDS"])
    stalled = now - timedelta(seconds=settings.WARMLINE["PENDING_TASK_STALLED_SECONDS"])
    expired = PendingTask.objects.filter(asked_at__lt=now - PENDING_TASK_GIVE_UP)
    for row in expired[:limit]:
        logger.error("durable task %s still failing after a day; given up", row.key)
    expired.delete()
    lost = Q(lost=True, asked_at__lte=quiet) & ~Q(resent_at__gt=quiet)
    # resent_at is never before asked_at: "sent (or resent) over the stalled time ago, not started since"
    never_started = Q(lost=False, started_at__isnull=True, asked_at__lte=stalled) & ~Q(resent_at__gt=stalled)
    never_finished = Q(started_at__lte=stalled)
    due = PendingTask.objects.filter(lost | never_started | never_finished)
    keys = list(due.order_by("key").values_list("key", "task", "args").distinct("key")[:limit])
    sent = 0
    for key, name, args in keys:
        try:
            current_app.send_task(name, args=args)
        except BrokerUnavailable as error:
            logger.warning("resending durable tasks stopped: the broker is unavailable (%s)", error)
            break
        due.filter(key=key).update(resent_at=now, lost=False, started_at=None)
        sent += 1
    return sent
