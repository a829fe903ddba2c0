"""Checking an agent's draft before it is sent (spec ``draft-check``).

The checks themselves (asking again for something already provided, contradicting an AI commitment)
arrive with the assist engines; until then a draft has no warnings.
"""

from typing import Any


def draft_check(*, context: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Warnings for ``text`` given the conversation's package: ``[{"kind", "message", "evidence"}]``."""
    return []
