"""Console pages: thin views over handoffs.selectors and handoffs.services."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from handoffs import selectors


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "console/home.html", {"queue": selectors.queue_for_user(user=request.user)})
