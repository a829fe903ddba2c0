"""Bot event ingest: the one path every bot event takes, over HTTP and over the bot websocket.

Order of checks (the transport has already verified the signature):
1. parse (400) and validate (422);
2. apply every event in one transaction and record the webhook-id with its response in the same
   transaction, so a request is applied whole or not at all;
3. a webhook-id applied before (the unique index refuses the record) rolls the work back and replays
   the first response (same body) or answers 409 (another body). Replays are rare, so the busy path
   pays no look-up for them.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from pydantic import TypeAdapter, ValidationError

from handoffs.errors import Conflict, DomainError, InvalidInput, MalformedJson, problem_from
from handoffs.models import Bot, InboundRequest
from handoffs.schemas import Event, EventBatch
from handoffs.services.events import BatchApplier

logger = logging.getLogger(__name__)

_single = TypeAdapter(Event)
_batch = TypeAdapter(EventBatch)


@dataclass(frozen=True)
class IngestResult:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def events_ingest(*, bot: Bot, webhook_id: str, body: bytes) -> IngestResult:
    digest = hashlib.sha256(body).hexdigest()
    try:
        return _apply(bot=bot, webhook_id=webhook_id, digest=digest, events=_parse(body))
    except DomainError as error:
        # A request that cannot apply now may be the retry of one that did (say a person has connected
        # since): its first answer stands. Otherwise the error is the answer, and nothing was written.
        return _replay(bot=bot, webhook_id=webhook_id, digest=digest) or IngestResult(
            error.status, problem_from(error)
        )


def _replay(*, bot: Bot, webhook_id: str, digest: str) -> IngestResult | None:
    """The stored answer for an applied webhook-id; 409 when the id came with another body."""
    previous = (
        InboundRequest.objects.filter(bot=bot, webhook_id=webhook_id)
        .only("body_sha256", "response_status", "response_body")
        .first()
    )
    if previous is None:
        return None
    if previous.body_sha256 != digest:
        error = Conflict(
            "This webhook-id was already used for a different body.", code="idempotency_key_reused"
        )
        return IngestResult(error.status, problem_from(error))
    return IngestResult(previous.response_status, previous.response_body, replayed=True)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse(body: bytes) -> list[Any]:
    try:
        # Python's json accepts NaN and Infinity; JSON does not.
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson(f"The body is not valid JSON: {exc}") from None
    nul_at = _nul_location(payload, ["body"])
    if nul_at is not None:
        # PostgreSQL text and jsonb cannot hold U+0000; refuse it clearly instead of failing on write.
        raise InvalidInput(
            "Text may not contain NUL (U+0000) characters.",
            errors=[{"loc": nul_at, "msg": "contains a NUL character"}],
        )
    try:
        if isinstance(payload, dict) and "events" in payload:
            return list(_batch.validate_python(payload).events)
        return [_single.validate_python(payload)]
    except ValidationError as exc:
        raise InvalidInput(
            "The body does not match the event schema.",
            errors=[
                {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
                for error in exc.errors(include_url=False, include_context=False, include_input=False)
            ],
        ) from None


def _nul_location(value: Any, loc: list[Any]) -> list[Any] | None:
    if isinstance(value, str):
        return loc if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_location(key, [*loc, key]) or _nul_location(item, [*loc, key])
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_location(item, [*loc, index])
            if found is not None:
                return found
    return None


def _apply(*, bot: Bot, webhook_id: str, digest: str, events: list[Any]) -> IngestResult:
    try:
        with transaction.atomic():
            status, body = BatchApplier(bot=bot).apply(events)
            # Recording the webhook-id last, in the same transaction, is what makes a retry apply once: a
            # concurrent twin does the same work (waiting on our row locks), then fails on the unique
            # index and rolls back whole, and a later retry is refused by the same index before its
            # changes can commit.
            InboundRequest.objects.create(
                bot=bot, webhook_id=webhook_id, body_sha256=digest, response_status=status, response_body=body
            )
    except IntegrityError:
        replay = _replay(bot=bot, webhook_id=webhook_id, digest=digest)
        if replay is None:
            raise
        return replay
    return IngestResult(status, body)
