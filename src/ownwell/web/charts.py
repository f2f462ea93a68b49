"""Charts as server-rendered SVG: pure geometry from numbers, drawn by the staff/_charts.html
macros. No JavaScript; every chart comes with its numbers in a table (the same rows)."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 480
HEIGHT = 190
LEFT = 44  # room for the y axis labels
RIGHT = 12
TOP = 12
BOTTOM = 26  # room for the x axis labels
TICKS = 4


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]
    tone: int = 0  # which of the chart styles draws it (colour, dash): tone-0 … tone-4


@dataclass
class LineChart:
    key: str
    title: str
    unit: str
    x_labels: list[str]
    series: list[Series]
    y_max: float
    paths: list[tuple[Series, str]] = field(default_factory=list)
    dots: list[tuple[Series, float, float, str]] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom_y: float = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return all(v is None for s in self.series for v in s.values)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "\u2013"  # an en dash: nothing to measure
    if unit == "%":
        return f"{value:.0f}%"
    if unit == "h":
        return f"{value:.1f} h"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times 10^n at or above `value`, so ticks are round numbers."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10 if value >= 1 else 0.1
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def line_chart(
    *, key: str, title: str, unit: str, x_labels: list[str], series: list[Series], y_max: float | None = None
) -> LineChart:
    """Lines over equal steps of x; a missing value (None: nothing to measure) breaks the line."""
    top = (
        y_max
        if y_max is not None
        else _nice_max(max((v for s in series for v in s.values if v is not None), default=0))
    )
    chart = LineChart(key=key, title=title, unit=unit, x_labels=x_labels, series=series, y_max=top)
    span_x = WIDTH - LEFT - RIGHT
    span_y = HEIGHT - TOP - BOTTOM
    steps = max(len(x_labels) - 1, 1)

    def x_at(i: int) -> float:
        return round(LEFT + span_x * i / steps, 1)

    def y_at(v: float) -> float:
        return round(TOP + span_y * (1 - min(v, top) / top), 1)

    chart.ticks = [(y_at(top * t / TICKS), fmt(top * t / TICKS, unit)) for t in range(TICKS + 1)]
    every = max(1, len(x_labels) // 6)  # at most about six labels on the axis
    chart.x_ticks = [
        (x_at(i), label) for i, label in enumerate(x_labels) if i % every == 0 or i == len(x_labels) - 1
    ]
    for s in series:
        parts: list[str] = []
        pen_up = True
        for i, v in enumerate(s.values):
            if v is None:
                pen_up = True
                continue
            parts.append(f"{'M' if pen_up else 'L'}{x_at(i)} {y_at(v)}")
            pen_up = False
            chart.dots.append((s, x_at(i), y_at(v), f"{s.name}, {x_labels[i]}: {fmt(v, unit)}"))
        chart.paths.append((s, " ".join(parts)))
    return chart


@dataclass
class BarChart:
    key: str
    title: str
    unit: str
    bars: list[tuple[str, float | None, str, float]]  # label, value, note, width in %

    @property
    def empty(self) -> bool:
        return all(v is None for _, v, _, _ in self.bars)


def bar_chart(*, key: str, title: str, unit: str, rows: list[tuple[str, float | None, str]]) -> BarChart:
    """Horizontal bars (label, value, note), widths relative to the largest value."""
    top = max((v for _, v, _ in rows if v is not None), default=0) or 1
    return BarChart(
        key=key,
        title=title,
        unit=unit,
        bars=[(label, v, note, round(100 * (v or 0) / top, 1)) for label, v, note in rows],
    )
