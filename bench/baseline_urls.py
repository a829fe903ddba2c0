"""The baseline endpoints: they check nothing and do exactly one INSERT per POST.

They run as sync views, like the real API, so both go through Django's ASGI handler and its
thread-sensitive executor: the difference measured is the app's own work, not the serving stack.

``bench/events`` takes any body (the ingest benchmarks). The bot-API-shaped routes answer the simulator
(``manage.py simulate``) just enough to play a whole conversation: an ``escalation`` event gets a queued
handoff with an announcement, a handoff is always still queued, so every simulated customer sends the
same requests as against Warmline (script, escalation, announcement, a line while waiting, status reads,
leaving), and the ratio is what Warmline's own work costs the simulator's traffic.
"""

import json
import uuid

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

BASELINE_TABLE = "bench_baseline"
ANNOUNCEMENT = "A specialist will be with you shortly."


def _insert(body: bytes) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {BASELINE_TABLE} (body) VALUES (%s)", [body.decode()])  # noqa: S608


@csrf_exempt
def ingest(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    _insert(request.body)
    return JsonResponse({"ok": True})


@csrf_exempt
def bot_events(request: HttpRequest, bot_id: str) -> JsonResponse:
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    _insert(request.body)
    if json.loads(request.body).get("type") == "escalation":
        handoff = {
            "id": str(uuid.uuid4()),
            "status": "queued",
            "queue_position": 1,
            "announcement": ANNOUNCEMENT,
        }
        return JsonResponse({"handoff": handoff}, status=201)
    return JsonResponse({"ok": True})


def bot_handoff(request: HttpRequest, bot_id: str, handoff_id: str) -> JsonResponse:
    return JsonResponse({"id": handoff_id, "status": "queued"})


def bot_conversation(request: HttpRequest, bot_id: str, conversation_id: str) -> JsonResponse:
    return JsonResponse({"id": conversation_id, "context": {"handoffs": []}})


urlpatterns = [
    path("bench/events", ingest),
    path("api/v1/bots/<str:bot_id>/events", bot_events),
    path("api/v1/bots/<str:bot_id>/handoffs/<str:handoff_id>", bot_handoff),
    path("api/v1/bots/<str:bot_id>/conversations/<str:conversation_id>", bot_conversation),
]
