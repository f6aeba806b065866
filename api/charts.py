"""Small SVG charts, drawn on the server: no script, no CDN, printable, testable as pictures."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 60
BAR = "#c0392b"  # the charts' red
LINE = "#1f5fa8"
GRID = "#dddddd"
FONT = 'font-family="WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif"'


def _scale(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    return top if top > 0 else 1.0


def _label(value: float) -> str:
    if value >= 1e8:
        return f"{value / 1e8:.1f}亿"
    if value >= 1e4:
        return f"{value / 1e4:.1f}万"
    return f"{value:,.0f}" if value >= 10 else f"{value:g}"


def _frame(title: str, top: float, body: list[str]) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    grid = []
    for i in range(5):
        y = TOP + plot_h * i / 4
        grid.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" {FONT}>'
            f"{escape(_label(top * (4 - i) / 4))}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>'
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="15" {FONT}>'
        f"{escape(title)}</text>" + "".join(grid) + "".join(body) + "</svg>"
    )


def bar_chart(title: str, labels: Sequence[str], values: Sequence[Decimal | float]) -> str:
    nums = [float(v) for v in values]
    top = _scale(nums)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(nums), 1)
    body = []
    for i, (label, v) in enumerate(zip(labels, nums, strict=True)):
        h = plot_h * v / top
        x = LEFT + i * step + step * 0.15
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{step * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{BAR}"><title>{escape(label)}: {escape(_label(v))}</title>'
            "</rect>"
            f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="11" {FONT}>{escape(label)}</text>'
        )
    return _frame(title, top, body)


def line_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[Decimal | float],
    partial_last: bool = False,
) -> str:
    """A line over periods; ``partial_last``: the last period is still running, so its point
    is drawn hollow on a dashed segment and said so, not read as a collapse."""
    nums = [float(v) for v in values]
    top = _scale(nums)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(nums) - 1, 1)
    points = [(LEFT + i * step, TOP + plot_h - plot_h * v / top) for i, v in enumerate(nums)]
    partial = partial_last and len(points) > 0
    solid = points[:-1] if partial else points
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in solid)
    body = [
        f'<polyline class="line" points="{path}" fill="none" stroke="{LINE}" stroke-width="3"/>'
    ]
    if partial and len(points) > 1:
        (x0, y0), (x1, y1) = points[-2], points[-1]
        body.append(
            f'<line class="partial" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
            f'stroke="{LINE}" stroke-width="2" stroke-dasharray="6 4"/>'
        )
    if partial:
        body.append(
            f'<text class="partial-note" x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end" '
            f'font-size="11" {FONT}>虚线空心点：{escape(labels[-1])} 未满一期（截至今日）'
            " · last period to date</text>"
        )
    every = max(1, len(labels) // 12)
    for i, ((x, y), label) in enumerate(zip(points, labels, strict=True)):
        hollow = partial and i == len(points) - 1
        fill = "#ffffff" if hollow else LINE
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{LINE}" '
            f'stroke-width="2"/>'
        )
        if i % every == 0:
            body.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11" {FONT}>{escape(label)}</text>'
            )
    return _frame(title, top, body)
