"""Inline SVG charts drawn on the server: no JavaScript, colours from the admin's CSS variables
so they follow the light and dark themes. Every text goes through format_html (escaped)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 200, 40, 40, 12
MIN_SLOTS = 12
OK_STYLE = "fill: var(--primary, #79aec8)"
FAIL_STYLE = "fill: var(--error-fg, #ba2121)"
AXIS_STYLE = "stroke: var(--hairline-color, #ccc)"
TEXT_STYLE = "fill: var(--body-quiet-color, #666); font-size: 11px"


def _scale(values: Sequence[int]) -> int:
    return max([1, *values])


def _frame(title: str, body: SafeString, top: int) -> SafeString:
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    axis = format_html(
        '<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" style="{s}"/><line x1="{x}" y1="{y1}" x2="{w}" y2="{y1}" style="{s}"/>'
        '<text x="{tx}" y="{ty}" text-anchor="end" style="{t}">{top}</text>'
        '<text x="{tx}" y="{y1}" text-anchor="end" style="{t}">0</text>',
        x=PAD_LEFT, y0=PAD_TOP, y1=PAD_TOP + plot_h, w=WIDTH, s=AXIS_STYLE, tx=PAD_LEFT - 4, ty=PAD_TOP + 8,
        t=TEXT_STYLE, top=top,
    )
    return format_html(
        '<svg class="health-chart" role="img" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet">'
        "<title>{title}</title>{axis}{body}</svg>",
        w=WIDTH, h=HEIGHT, title=title, axis=axis, body=body,
    )


def _label(x: float, text: str) -> SafeString:
    return format_html('<text x="{}" y="{}" text-anchor="middle" style="{}">{}</text>',
                       round(x, 1), HEIGHT - PAD_BOTTOM + 14, TEXT_STYLE, text)


def stacked_bars(title: str, bars: Sequence[tuple[str, int, int, str]]) -> SafeString:
    """Bars of (label, ok, failed, tooltip), failed stacked on ok; a label under every few bars."""
    top = _scale([ok + failed for _, ok, failed, _ in bars])
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    # At least MIN_SLOTS slots, so that one run is a bar, not a wall.
    step = (WIDTH - PAD_LEFT) / max(len(bars), MIN_SLOTS)
    every = max(1, len(bars) // 8)
    parts = []
    for i, (label, ok, failed, tip) in enumerate(bars):
        x = PAD_LEFT + i * step + step * 0.15
        h_ok, h_failed = plot_h * ok / top, plot_h * failed / top
        y_ok = PAD_TOP + plot_h - h_ok
        parts.append(format_html(
            '<g><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" style="{}"/>'
            '<rect x="{}" y="{}" width="{}" height="{}" style="{}"/></g>',
            tip, round(x, 1), round(y_ok, 1), round(step * 0.7, 1), round(h_ok, 1), OK_STYLE,
            round(x, 1), round(y_ok - h_failed, 1), round(step * 0.7, 1), round(h_failed, 1), FAIL_STYLE,
        ))
        if i % every == 0:
            parts.append(_label(x + step * 0.35, label))
    return _frame(title, mark_safe("".join(parts)), top)  # noqa: S308 - parts are format_html output


def bars(title: str, values: Sequence[tuple[str, int]], failed: bool = False) -> SafeString:
    """Simple bars of (label, value), e.g. a distribution or a daily count; `failed` colours them red."""
    rows = [(label, 0 if failed else n, n if failed else 0, f"{label}: {n}") for label, n in values]
    return stacked_bars(title, rows)


def legend(items: Sequence[tuple[str, str]]) -> SafeString:
    """A small legend: (style, label) pairs."""
    return format_html_join(
        " ", '<span class="health-legend"><svg width="10" height="10"><rect width="10" height="10" style="{}"/></svg> {}</span>',
        items,
    )
