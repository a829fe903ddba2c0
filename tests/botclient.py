"""A bot's side of the API: signs every request with Standard Webhooks, as a real integration would."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.test import Client

from handoffs.signing import sign


@dataclass
class BotClient:
    bot_id: str
    secret: str
    client: Client = field(default_factory=Client)

    def headers(
        self,
        body: bytes | str,
        *,
        webhook_id: str | None = None,
        at: datetime | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        if isinstance(body, bytes):
            # Only UTF-8 can be signed with the library; other bytes get a signature over their latin-1 reading.
            body = body.decode("utf-8", errors="strict") if _is_utf8(body) else body.decode("latin-1")
        signed = sign(
            body,
            secret=secret or self.secret,
            webhook_id=webhook_id or f"msg_{uuid.uuid4().hex}",
            at=at or datetime.now(tz=UTC),
        )
        return {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed.items()}

    def post_raw(self, body: bytes, **sign_kwargs: Any):
        return self.client.post(
            f"/api/v1/bots/{self.bot_id}/events",
            data=body,
            content_type="application/json",
            **self.headers(body, **sign_kwargs),
        )

    def post(self, payload: Any, **sign_kwargs: Any):
        return self.post_raw(json.dumps(payload).encode(), **sign_kwargs)

    def get(self, path: str, **sign_kwargs: Any):
        return self.client.get(f"/api/v1/bots/{self.bot_id}{path}", **self.headers(b"", **sign_kwargs))


def event(
    event_type: str, conversation: str = "c-1", /, *, customer: dict[str, Any] | None = None, **data: Any
) -> dict:
    body: dict[str, Any] = {"type": event_type, "conversation_id": conversation, "data": data}
    if customer is not None:
        body["customer"] = customer
    return body


CUSTOMER = {"id": "u-77", "name": "Dana Reyes", "email": "dana@example.com", "locale": "en"}


def turn(
    text: str, role: str = "customer", conversation: str = "c-1", first: bool = False, **extra: Any
) -> dict:
    return event("turn", conversation, customer=CUSTOMER if first else None, role=role, text=text, **extra)


def escalation(conversation: str = "c-1", **data: Any) -> dict:
    fields = {"reason": "Customer asked for a person", "reason_code": "customer_request", **data}
    return event("escalation", conversation, **fields)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True
