"""503 instead of 500 when PostgreSQL is unreachable (a restart, a failover, the connection pool timing out).

The API answers its own problem document (handoffs.api); this covers every other view: console pages, htmx
fragments, the widget, the health check. The answer is built without templates or the session, both of
which would need the database: a short page for browsers, a problem document for everything else.
"""

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from handoffs.errors import problem

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{seconds}">
<title>Warmline is briefly unavailable</title></head>
<body><h1>Warmline is briefly unavailable</h1>
<p>The database is not answering. This page tries again in {seconds} seconds.</p>
</body></html>
"""


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable in %s %s: %s", request.method, request.path, exception)
        response: HttpResponse
        if "text/html" in request.headers.get("Accept", ""):
            response = HttpResponse(PAGE.format(seconds=RETRY_AFTER_SECONDS), status=503)
        else:
            response = JsonResponse(
                problem(
                    503,
                    "Service unavailable",
                    "The database is unavailable; try again shortly.",
                    code="service_unavailable",
                ),
                status=503,
                content_type="application/problem+json",
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
