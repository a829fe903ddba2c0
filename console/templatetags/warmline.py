"""Small presentation helpers for the console's templates (no markup built here: markup lives in templates)."""

import math
from datetime import date, datetime
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()

CHART_WIDTH = 280
CHART_HEIGHT = 64
PAD = 6


@register.filter
def mood(score: float | None) -> str:
    """A CSS tint for a customer turn's sentiment score."""
    if score is None:
        return "none"
    if score <= -0.6:
        return "very-negative"
    if score <= -0.2:
        return "negative"
    if score >= 0.3:
        return "positive"
    return "neutral"


@register.filter
def percent(value: float | None) -> int:
    return round((value or 0) * 100)


@register.filter
def slot_label(slot: str) -> str:
    return slot.replace("_", " ")


@register.filter
def when(value: Any) -> Any:
    """An ISO date or datetime from a package (JSON keeps them as text) as a date the template can format;
    anything else unchanged."""
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value


@register.filter
def has_time(value: Any) -> bool:
    return isinstance(value, datetime)


@register.filter
def seconds_left(until: datetime | None) -> int:
    """Whole seconds until a moment, as the page's countdown shows them (console.js ticks it on)."""
    if until is None:
        return 0
    return max(0, math.ceil((until - timezone.now()).total_seconds()))


@register.inclusion_tag("console/emotion_chart.html")
def emotion_chart(trajectory: list[dict[str, Any]], current: str, trend: str) -> dict[str, Any]:
    """An SVG sparkline of the customer's sentiment per turn, -1 (bottom) to 1 (top)."""
    points = [point for point in trajectory if point.get("score") is not None]
    inner_w, inner_h = CHART_WIDTH - 2 * PAD, CHART_HEIGHT - 2 * PAD
    step = inner_w / max(1, len(points) - 1)
    coords = [
        {
            "x": round(PAD + index * step, 1),
            "y": round(PAD + (1 - (point["score"] + 1) / 2) * inner_h, 1),
            "seq": point["seq"],
            "score": round(point["score"], 2),
        }
        for index, point in enumerate(points)
    ]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "mid": CHART_HEIGHT / 2,
        "coords": coords,
        "polyline": " ".join(f"{c['x']},{c['y']}" for c in coords),
        "last": coords[-1] if coords else None,
        "current": current,
        "trend": trend,
    }
