"""Rate limits (429 with ``Retry-After``) on django-ratelimit's fixed windows in the shared cache (Redis).

A limit that cannot be checked (the cache is down) lets the request through: PostgreSQL, not Redis, is
what decides whether an event is stored, so an outage of Redis must not turn into refusing bots.
"""

import logging

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from handoffs.errors import RateLimited

logger = logging.getLogger(__name__)


def enforce(*, group: str, key: str, rate: str | None, request: HttpRequest | None = None) -> None:
    """Count one request against ``rate`` ("600/m") for ``key`` in ``group``; raise RateLimited past it."""
    if not rate:
        return
    try:
        usage = get_usage(
            request or HttpRequest(), group=group, key=lambda _group, _request: key, rate=rate, increment=True
        )
    except Exception:
        logger.warning("rate limit %s could not be checked; letting the request through", group)
        return
    if usage is not None and usage["should_limit"]:
        retry_after = max(1, int(usage["time_left"]))
        raise RateLimited(f"Too many requests; try again in {retry_after} s.", retry_after=retry_after)


def rate(name: str) -> str | None:
    """The configured rate, or None when the limit is off ("off" in the environment)."""
    value = settings.WARMLINE_RATE_LIMITS.get(name)
    return None if not value or value == "off" else value
