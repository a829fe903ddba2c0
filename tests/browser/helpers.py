"""Helpers for the browser tests (imported by them; fixtures live in conftest.py)."""

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.support.receiver import Receiver

# Generous enough for a loaded CI machine, short enough that a broken push fails fast.
LIVE_TIMEOUT_MS = 10_000
QUEUE_URL = re.compile(r"^http://127\.0\.0\.1:\d+/$")


def off_the_loop(function: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Call a service as another process would: Playwright's loop runs on this thread, and the service's
    live pushes (async_to_sync) need a thread without one."""

    def call() -> Any:
        from django.db import connections

        try:
            return function(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def wait_live(page: Any) -> None:
    """Until the page's socket is open (console.js marks it on <html>): pushes from now on reach it."""
    page.wait_for_selector("html[data-live=open]", state="attached")


def callback_of(receiver: Receiver, kind: str, timeout: float = LIVE_TIMEOUT_MS / 1000) -> Any:
    """The first callback of this type the bot's endpoint received, waiting for the worker to send it."""

    def found() -> list[Any]:
        return [request for request in receiver.requests if request.json["type"] == kind]

    with receiver.arrived:
        receiver.arrived.wait_for(found, timeout=timeout)
    assert found(), f"no {kind} callback arrived; got {receiver.types()}"
    return found()[0]
