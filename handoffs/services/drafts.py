"""Checking an agent's draft before it is sent (spec ``draft-check``).

The check itself is the local engine in ``handoffs.assist.draft_check``: asking again for something in
``information_provided`` (``repeat_question``) and conflicting with an open commitment
(``contradicts_commitment``). Sending stays the agent's choice; this only answers with warnings.
"""

from typing import Any

from django.utils import timezone

from handoffs.assist.draft_check import check_draft


def draft_check(*, context: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Warnings for ``text`` given the conversation's package: ``[{"kind", "message", "evidence"}]``.

    Relative times in the draft ("by Friday") are read from now, when the agent writes it.
    """
    return check_draft(package=context or {}, text=text, now=timezone.now())
