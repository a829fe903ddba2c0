"""Standard Webhooks signing for bots, inbound and outbound, on the ``standardwebhooks`` package."""

import secrets
from base64 import b64encode
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class SignatureError(Exception):
    pass


def new_secret() -> str:
    # Spec: whsec_ + base64 of at least 24 random bytes.
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode()


def verify(body: bytes, headers: Mapping[str, str], secrets_: Iterable[str]) -> str:
    """Verify a signed request under any active secret; return its webhook-id.

    ``standardwebhooks`` checks the 300 s timestamp tolerance and compares in constant time. It
    raises assorted errors on malformed headers (bad base64, entries without a comma, non-UTF-8
    bodies); all of them mean the same to a caller: not authenticated.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    webhook_id = lowered.get("webhook-id", "")
    if not (webhook_id and lowered.get("webhook-timestamp") and lowered.get("webhook-signature")):
        raise SignatureError("Missing webhook-id, webhook-timestamp or webhook-signature header.")
    text = body.decode()  # callers reject non-UTF-8 bodies first: the library signs text
    for secret in secrets_:
        try:
            Webhook(secret).verify(text, lowered, json_parse=False)
        except WebhookVerificationError as exc:
            if "timestamp" in str(exc).lower():
                raise SignatureError("webhook-timestamp is more than 300 s away from server time.") from exc
            continue
        except Exception:  # noqa: S112 - malformed signature entries: try the next secret, then fail
            continue
        return webhook_id
    # Also what an unknown bot (no secrets) gets: every message here is safe to show a caller.
    raise SignatureError("The request is not signed by an active secret of this bot.")


def sign(body: bytes | str, *, secret: str, webhook_id: str, at: datetime | None = None) -> dict[str, str]:
    """Headers for a signed request or callback."""
    at = at or datetime.now(tz=UTC)
    text = body.decode() if isinstance(body, bytes) else body
    signature = Webhook(secret).sign(webhook_id, at, text)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
