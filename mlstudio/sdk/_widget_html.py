"""The HTML of the RunDetails widget: status, log tail, a small chart per numeric metric,
and for a run with children (a sweep) a trials table and a parallel-coordinates chart.
Plain HTML and inline SVG, so it shows in classic Jupyter, Lab and VS Code alike."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 260, 90
COLOURS = {"Completed": "#2e7d32", "Failed": "#c62828", "Canceled": "#757575"}


def render(state: dict) -> str:
    status = state.get("status") or "…"
    details = state.get("details") or {}
    colour = COLOURS.get(status, "#1565c0")
    parts = [
        '<div class="mlstudio-run-details" style="font-family:sans-serif;font-size:13px">',
        f"<div><b>{escape(str(details.get('displayName') or details.get('runId') or ''))}</b> "
        f'<span class="status" style="color:{colour};font-weight:bold">{escape(status)}</span>'
        "</div>",
    ]
    if state.get("error"):
        parts.append(f'<div style="color:#c62828">{escape(state["error"])}</div>')
    charts = [_chart(name, value) for name, value in sorted((state.get("metrics") or {}).items())]
    parts.append('<div style="display:flex;flex-wrap:wrap;gap:8px">' + "".join(charts) + "</div>")
    children = state.get("children") or []
    best = state.get("best")
    if best:
        parts.append(
            f'<div class="best">Best: {escape(best["run_id"])} · {escape(best["metric"])} '
            f"{_format(best['value'])}</div>"
        )
    if children:
        parts.append(_trials(children, best["run_id"] if best else None))
        parts.append(_parallel(children))
    log = state.get("log") or ""
    parts.append(
        '<pre class="log" style="max-height:240px;overflow:auto;background:#f5f5f5;'
        f'padding:6px">{escape(log[-4000:])}</pre>'
    )
    parts.append("</div>")
    return "".join(parts)


def _numbers(value) -> list[float]:
    values = value if isinstance(value, list) else [value]
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _chart(name: str, value) -> str:
    values = _numbers(value)
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = WIDTH / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{HEIGHT - 4 - (v - low) / span * (HEIGHT - 8):.1f}"
        for i, v in enumerate(values)
    )
    return (
        f'<div class="metric"><div>{escape(name)}: {values[-1]:.6g}</div>'
        f'<svg width="{WIDTH}" height="{HEIGHT}" style="background:#fafafa">'
        f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{points}"/>'
        "</svg></div>"
    )


def _last(value):
    numbers = _numbers(value)
    return numbers[-1] if numbers else None


def _trials(children: list[dict], best_id: str | None = None) -> str:
    metric_names = sorted({name for child in children for name in child["metrics"]})
    tag_names = sorted({name for child in children for name in child["tags"]})
    head = "".join(f"<th>{escape(n)}</th>" for n in ["run", "status", *tag_names, *metric_names])
    rows = []
    for child in children:
        mark = " ★" if child["id"] == best_id else ""
        cells = [child["id"] + mark, child["status"] or ""]
        cells += [child["tags"].get(n, "") for n in tag_names]
        cells += [_format(_last(child["metrics"].get(n))) for n in metric_names]
        opening = '<tr class="best">' if mark else "<tr>"
        rows.append(opening + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    return f'<table class="trials"><tr>{head}</tr>{"".join(rows)}</table>'


def _format(value) -> str:
    return "" if value is None else f"{value:.6g}"


def _axes(children: list[dict]) -> dict[str, list]:
    """Numeric tags (hyperparameters) and last metric values, one axis each."""
    axes: dict[str, list] = {}
    for child in children:
        for name, raw in child["tags"].items():
            try:
                axes.setdefault(name, []).append(float(raw))
            except (TypeError, ValueError):
                continue
        for name, value in child["metrics"].items():
            if _last(value) is not None:
                axes.setdefault(name, []).append(_last(value))
    return {name: values for name, values in axes.items() if len(values) == len(children)}


def _parallel(children: list[dict]) -> str:
    axes = _axes(children)
    if len(axes) < 2:
        return ""
    names = sorted(axes)
    gap = (WIDTH * 2) / (len(names) - 1)
    lines = []
    for index in range(len(children)):
        points = []
        for position, name in enumerate(names):
            values = axes[name]
            low, span = min(values), (max(values) - min(values)) or 1.0
            y = HEIGHT * 1.5 - 10 - (values[index] - low) / span * (HEIGHT * 1.5 - 20)
            points.append(f"{position * gap + 10:.1f},{y:.1f}")
        lines.append(
            f'<polyline fill="none" stroke="#1565c0" opacity="0.6" points="{" ".join(points)}"/>'
        )
    labels = "".join(
        f'<text x="{i * gap + 10:.1f}" y="{HEIGHT * 1.5 + 8:.0f}" font-size="10">{escape(n)}</text>'
        for i, n in enumerate(names)
    )
    return (
        f'<svg class="parallel" width="{WIDTH * 2 + 40}" height="{HEIGHT * 1.5 + 14:.0f}">'
        f"{''.join(lines)}{labels}</svg>"
    )
