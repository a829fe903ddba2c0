"""The callbacks benchmark's baseline task (loaded into the bench worker with ``--include``, never by the
product): the same signed POST the product's delivery makes (through the same per-process
keep-alive client), straight from a Celery task, with no outbox, no lease, no per-conversation order and no
attempt records. Its round trip is what Celery + HTTP cost."""

from celery import shared_task
from django.conf import settings

from handoffs.services.callbacks import http_client
from handoffs.signing import sign


@shared_task
def post(url: str, body: str, webhook_id: str, secret: str) -> int:
    headers = sign(body, secret=secret, webhook_id=webhook_id)
    response = http_client().post(
        url,
        content=body,
        headers={**headers, "content-type": "application/json"},
        timeout=settings.WARMLINE["CALLBACK_TIMEOUT_SECONDS"],
    )
    return response.status_code
