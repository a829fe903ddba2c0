"""Live events, sent through the channel layer after the writing transaction commits.

Services are the only callers. A push that fails (Redis down) is logged and dropped: PostgreSQL is the
source of truth and browsers resync from it when they reconnect.
"""

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def team_queue_group(team_id: int) -> str:
    return f"team.{team_id}.queue"


def conversation_group(conversation_id: Any) -> str:
    return f"conversation.{conversation_id}"


def private_group(conversation_id: Any) -> str:
    """People's private notes about a conversation: only the console's (authorising) sockets join it, so a
    note can never reach a customer's or a bot's socket even by mistake."""
    return f"conversation.{conversation_id}.private"


def team_floor_group(team_id: int) -> str:
    """Supervisors' floor sockets of this team (``/ws/supervisor/floor/``); they also hear the queue."""
    return f"team.{team_id}.floor"


FLOOR_CHANGED = {"type": "floor.changed"}


def floor_changed_on_commit(team_ids: Iterable[int]) -> None:
    """Tell these teams' floors that who is busy, available or away changed, or a handoff moved on
    (connected, resolved, transferred, returned). The event carries nothing: a floor re-renders itself
    from the database, at most about once a second however many arrive."""
    for team_id in sorted(set(team_ids)):
        broadcast_on_commit(team_floor_group(team_id), dict(FLOOR_CHANGED))


def broadcast_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _send(group, event))


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "warmline.event", "event": event})
    except Exception:
        logger.warning("live push to %s failed; clients will resync", group, exc_info=True)
