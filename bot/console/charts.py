"""Charts drawn on the server as SVG: no script, readable by screen readers (a title and a
description), and always next to a table with the same numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 260
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 48, 36, 12
# Blue and orange: told apart by people with the common colour-vision deficiencies, and each
# at least 3:1 against white.
ANSWERED, FALLBACK = "#0b4f9c", "#b34700"


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (e.g. "12-01")
    answered: int
    fallback: int


def _nice_top(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def stacked_bars(bars: Sequence[Bar], *, title: str, description: str) -> str:
    """Answered (below) and fallback (above) questions per day."""
    top = _nice_top(max((b.answered + b.fallback for b in bars), default=0))
    plot_w = WIDTH - MARGIN_LEFT - 8
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / max(len(bars), 1)
    width = max(slot * 0.7, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" class="chart">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
    ]
    for fraction in (0, 0.5, 1):
        y = MARGIN_TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#767676" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 5:.1f}" text-anchor="end" font-size="14" '
            f'fill="#111">{round(top * fraction)}</text>'
        )
    every = max(1, round(len(bars) / 10))
    for n, bar in enumerate(bars):
        x = MARGIN_LEFT + n * slot + (slot - width) / 2
        h_answered = plot_h * bar.answered / top
        h_fallback = plot_h * bar.fallback / top
        y_answered = MARGIN_TOP + plot_h - h_answered
        parts.append(
            f'<rect x="{x:.1f}" y="{y_answered:.1f}" width="{width:.1f}" '
            f'height="{h_answered:.1f}" fill="{ANSWERED}"/>'
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{y_answered - h_fallback:.1f}" width="{width:.1f}" '
            f'height="{h_fallback:.1f}" fill="{FALLBACK}"/>'
        )
        if n % every == 0:
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle" '
                f'font-size="13" fill="#111">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
