"""Formatting for the supervisor pages (text only; markup lives in templates/supervisor)."""

from django import template

from console.dashboard import format_seconds

register = template.Library()


@register.filter
def seconds(value: float | None) -> str:
    """A duration in seconds as "42 s", "3 min 05 s" or "1 h 20 min"; "–" when there is none."""
    return format_seconds(value)


@register.filter
def rate(value: float | None) -> str:
    """A share in [0, 1] as a percentage with one decimal; "–" when there is none."""
    return "–" if value is None else f"{value * 100:.1f}%"
