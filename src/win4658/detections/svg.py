"""Plain SVG charts for the HTML report, drawn here so the report needs no library and no network.

Every text that reaches the SVG is escaped: names come from event logs, which an attacker can write to.
"""

from html import escape
from typing import List, Optional, Sequence, Tuple

from ..times import format_ns

SEVERITY_COLOURS = {"critical": "#7b1fa2", "high": "#c62828", "medium": "#ef6c00", "low": "#1565c0"}
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(text)}</text>'


def _rect(x: float, y: float, width: float, height: float, fill: str, title: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{fill}">'
        f"<title>{escape(title)}</title></rect>"
    )


def _time_span(left: float, right: float, y: float, start_ns: int, end_ns: int) -> str:
    """The first and last time under a chart's time axis."""
    return _text(left, y, format_ns(start_ns) or "") + _text(right, y, format_ns(end_ns) or "", anchor="end")


def _svg(width: int, height: int, label: str, body: List[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" {FONT}>' + "".join(body) + "</svg>"
    )


def timeline_chart(bins: List[dict], start_ns: int, end_ns: int, severities: Sequence[str]) -> str:
    """Findings over time: one stacked bar per time bin, coloured by severity."""
    width, height, left, bottom, top = 900, 220, 50, 30, 10
    plot_width, plot_height = width - left - 10, height - bottom - top
    peak = max((sum(counts.values()) for counts in bins), default=0) or 1
    bar = plot_width / max(len(bins), 1)
    body = [_axis(left, top, plot_width, plot_height, peak)]
    for index, counts in enumerate(bins):
        base = top + plot_height
        for severity in severities:
            count = counts.get(severity, 0)
            if not count:
                continue
            size = count / peak * plot_height
            base -= size
            body.append(
                _rect(
                    left + index * bar, base, max(bar - 1, 1), size, SEVERITY_COLOURS[severity], f"{count} {severity}"
                )
            )
    body.append(_time_span(left, width - 10, height - 8, start_ns, end_ns))
    return _svg(width, height, "findings over time", body)


def _axis(left: float, top: float, width: float, height: float, peak: float) -> str:
    return (
        f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" stroke="#888"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + height}" stroke="#888"/>'
        + _text(left - 4, top + 8, f"{peak:,.0f}", anchor="end")
        + _text(left - 4, top + height, "0", anchor="end")
    )


def histogram(bars: List[Tuple[str, int]], label: str) -> str:
    """Counts per labelled bin, as vertical bars with the count above each."""
    width, height, left, bottom, top = 900, 220, 50, 40, 16
    plot_width, plot_height = width - left - 10, height - bottom - top
    peak = max((count for _label, count in bars), default=0) or 1
    step = plot_width / max(len(bars), 1)
    body = [_axis(left, top, plot_width, plot_height, peak)]
    for index, (name, count) in enumerate(bars):
        size = max(count / peak * plot_height, 1) if count else 0  # a bin with any handle stays visible
        x = left + index * step
        body.append(_rect(x + 4, top + plot_height - size, step - 8, size, "#1565c0", f"{name}: {count}"))
        body.append(_text(x + step / 2, top + plot_height - size - 3, f"{count:,}", anchor="middle"))
        body.append(_text(x + step / 2, height - bottom + 14, name, anchor="middle"))
    return _svg(width, height, label, body)


GANTT_SHARED_AXIS_SPAN = 20  # a shared time axis while all handles fit in this many times the longest


def gantt(handles: List[dict], opened_ns: List[Optional[int]], closed_ns: List[Optional[int]]) -> str:
    """The longest handles, one row each, the object named: bars from open to close on a shared time axis when the
    handles lie close together in time, else each bar from its own open (the axis in seconds since it)."""
    known = [(o, c) for o, c in zip(opened_ns, closed_ns) if o is not None and c is not None]
    if not known:
        return ""
    start, end = min(o for o, _c in known), max(c for _o, c in known)
    longest = max(c - o for o, c in known) or 1
    shared = end - start <= GANTT_SHARED_AXIS_SPAN * longest
    span = max(end - start, 1) if shared else longest
    row, label_width, width = 18, 330, 900
    plot_width = width - label_width - 90  # room for the duration after the longest bar
    height = row * len(handles) + 30
    body = []
    for index, (handle, begin, finish) in enumerate(zip(handles, opened_ns, closed_ns)):
        y = index * row + 4
        name = handle.get("object_name") or "(no object name)"
        body.append(_text(label_width - 6, y + 11, _cut(name, 52), anchor="end", extra=f'data-row="{index}"'))
        if begin is None or finish is None:
            continue
        x = label_width + ((begin - start) / span * plot_width if shared else 0)
        bar = max((finish - begin) / span * plot_width, 2)
        seconds = f"{handle['duration_seconds']:,.3f} s"
        body.append(_rect(x, y, bar, row - 5, "#00897b", f"{name} ({handle.get('process') or '-'}): {seconds}"))
        body.append(_text(x + bar + 4, y + 11, seconds))
    if shared:
        body.append(_time_span(label_width, label_width + plot_width, height - 8, start, end))
    else:
        body.append(_text(label_width, height - 8, "0 s from each handle's open"))
        body.append(_text(label_width + plot_width, height - 8, f"{longest / 1e9:,.3f} s", anchor="end"))
    return _svg(width, height, "longest handles", body)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]
