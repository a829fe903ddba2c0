"""One way to write a moment on the wire: ISO 8601 in UTC with a ``Z``."""

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
