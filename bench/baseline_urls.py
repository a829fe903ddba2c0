"""The baseline endpoint: checks nothing and does exactly one INSERT per request.

It runs as a sync view, like the real API, so both go through Django's ASGI handler and its
thread-sensitive executor: the difference measured is the app's own work, not the serving stack.
"""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

BASELINE_TABLE = "bench_baseline"


@csrf_exempt
def ingest(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {BASELINE_TABLE} (body) VALUES (%s)", [request.body.decode()])  # noqa: S608
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/events", ingest)]
