"""Chart geometry for the supervisor dashboard: numbers in, coordinates out.

The templates draw the SVG (``templates/supervisor/chart.html``); this module only decides where things
go, so there is no chart library and nothing loaded from a CDN. Every chart is over the days of the
period, with a gap (not a zero) where a day has no value.
"""

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

WIDTH = 560
HEIGHT = 190
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 24


@dataclass
class Chart:
    title: str
    unit: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    x_ticks: list[dict[str, Any]] = field(default_factory=list)
    legend: list[dict[str, str]] = field(default_factory=list)
    empty: bool = True
    summary: str = ""

    @property
    def plot(self) -> dict[str, float]:
        return {
            "left": LEFT,
            "right": self.width - RIGHT,
            "top": TOP,
            "bottom": self.height - BOTTOM,
            "label_x": LEFT - 6,
            "label_y": self.height - BOTTOM + 16,
            "middle_x": (LEFT + self.width - RIGHT) / 2,
            "middle_y": (TOP + self.height - BOTTOM) / 2,
        }


def period_days(start: date, end: date, *, limit: int = 400) -> list[date]:
    """Every day from ``start`` to ``end`` inclusive (at most ``limit``, the latest kept)."""
    count = min((end - start).days + 1, limit)
    first = end - timedelta(days=count - 1)
    return [first + timedelta(days=offset) for offset in range(max(count, 0))]


def nice_axis(value: float, intervals: int = 4) -> tuple[float, float]:
    """A round axis maximum at or above ``value`` and its tick step (1, 2, 2.5 or 5 × 10^n), with at
    most ``intervals`` steps: 55 → (60, 20), 0.23 → (0.3, 0.1)."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / intervals
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    return step * math.ceil(value / step - 1e-9), step


def _x_positions(count: int) -> tuple[list[float], float]:
    inner = WIDTH - LEFT - RIGHT
    step = inner / max(count, 1)
    return [round(LEFT + step * (index + 0.5), 1) for index in range(count)], step


def _y(value: float, low: float, high: float) -> float:
    inner = HEIGHT - TOP - BOTTOM
    share = (value - low) / (high - low) if high > low else 0
    return round(HEIGHT - BOTTOM - share * inner, 1)


def _x_ticks(days: list[date], xs: list[float]) -> list[dict[str, Any]]:
    every = max(1, math.ceil(len(days) / 7))
    return [
        {"x": x, "label": f"{day:%b} {day.day}"}
        for index, (day, x) in enumerate(zip(days, xs, strict=True))
        if index % every == 0
    ]


def _y_ticks(low: float, high: float, step: float, fmt: Any) -> list[dict[str, Any]]:
    count = max(1, round((high - low) / step))
    values = [low + step * index for index in range(count + 1)]
    return [{"y": _y(value, low, high), "label": fmt(value)} for value in values]


def _segments(xs: list[float], values: list[float | None], low: float, high: float) -> list[str]:
    """Polyline point lists, broken where a day has no value (a lone point becomes a dot)."""
    segments: list[list[str]] = [[]]
    for x, value in zip(xs, values, strict=True):
        if value is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(f"{x},{_y(value, low, high)}")
    return [" ".join(points) for points in segments if points]


def bar_chart(
    title: str, days: list[date], totals: list[int], parts: list[int], *, total_label: str, part_label: str
) -> Chart:
    """Bars of ``totals`` per day, the ``parts`` share of each drawn darker at its foot."""
    xs, step = _x_positions(len(days))
    high, step_y = nice_axis(max(totals, default=0))
    chart = Chart(title=title, unit="handoffs")
    width = round(max(step * 0.7, 1.0), 1)
    for day, x, total, part in zip(days, xs, totals, parts, strict=True):
        top, mid, base = _y(total, 0, high), _y(part, 0, high), _y(0, 0, high)
        chart.bars.append(
            {
                "x": round(x - width / 2, 1),
                "width": width,
                "y": top,
                "height": round(base - top, 1),
                "part_y": mid,
                "part_height": round(base - mid, 1),
                "title": f"{day:%a %b} {day.day}: {total} {total_label}, {part} {part_label}",
            }
        )
    chart.y_ticks = _y_ticks(0, high, step_y, lambda value: f"{value:g}")
    chart.x_ticks = _x_ticks(days, xs)
    chart.legend = [{"class": "bar", "label": total_label}, {"class": "bar-part", "label": part_label}]
    chart.empty = not any(totals)
    chart.summary = f"{sum(totals)} {total_label}, {sum(parts)} {part_label}, over {len(days)} days"
    return chart


def line_chart(
    title: str,
    days: list[date],
    series: list[tuple[str, str, list[float | None]]],
    *,
    unit: str,
    low: float = 0.0,
    high: float | None = None,
    fmt: Any = None,
) -> Chart:
    """One line per ``(label, css class, values)``; the y axis from ``low`` to ``high`` (or a round
    number above the largest value)."""
    fmt = fmt or (lambda value: f"{value:g}")
    xs, _ = _x_positions(len(days))
    seen = [value for _, _, values in series for value in values if value is not None]
    if high is None:
        top, step = nice_axis(max(seen, default=0))
    else:
        top, step = high, (high - low) / 4
    chart = Chart(title=title, unit=unit)
    for label, css, values in series:
        dots = [
            {
                "x": x,
                "y": _y(value, low, top),
                "title": f"{label}, {day:%a %b} {day.day}: {fmt(value)}",
            }
            for day, x, value in zip(days, xs, values, strict=True)
            if value is not None
        ]
        chart.lines.append(
            {"label": label, "class": css, "segments": _segments(xs, values, low, top), "dots": dots}
        )
        chart.legend.append({"class": css, "label": label})
    chart.y_ticks = _y_ticks(low, top, step, fmt)
    chart.x_ticks = _x_ticks(days, xs)
    chart.empty = not seen
    chart.summary = ", ".join(
        f"{label}: {sum(1 for value in values if value is not None)} days with a value"
        for label, _, values in series
    )
    return chart
