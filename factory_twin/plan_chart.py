"""The what-if chart a planner puts on a slide: one self-contained HTML page with an inline SVG, no libraries.

Per variant a bar (simulated throughput), its 95 % interval as a whisker, the analytical estimate as a
diamond, and the baseline as a dashed line; below it the same numbers as a table.
"""

from __future__ import annotations

from html import escape
from typing import Any

ROW, LEFT, WIDTH, TOP = 34, 260, 520, 40


def _svg(rows: list[dict[str, Any]], baseline: float) -> str:
    values = [r["sim"]["ci95"][1] for r in rows if r.get("sim")] + [r["estimate"] for r in rows] + [baseline]
    scale = WIDTH / (max(values) * 1.1 or 1)
    height = TOP + ROW * len(rows) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 40}" height="{height}" '
           'font-family="sans-serif" font-size="13">',
           f'<text x="{LEFT}" y="20" font-weight="bold">Good parts per hour (bar: simulated mean, whisker: 95 % CI,'
           ' diamond: analytical estimate)</text>']
    for i, r in enumerate(rows):
        y = TOP + i * ROW
        out.append(f'<text x="{LEFT - 8}" y="{y + 17}" text-anchor="end">{escape(r["name"])}</text>')
        if r.get("sim"):
            mean, (low, high) = r["sim"]["mean"], r["sim"]["ci95"]
            colour = "#4878a8" if r["name"] != "baseline" else "#888888"
            out.append(f'<rect x="{LEFT}" y="{y + 4}" width="{mean * scale:.1f}" height="{ROW - 12}" fill="{colour}"/>')
            out.append(f'<line x1="{LEFT + low * scale:.1f}" x2="{LEFT + high * scale:.1f}" y1="{y + ROW / 2 - 2}" '
                       f'y2="{y + ROW / 2 - 2}" stroke="black" stroke-width="2"/>')
            out.append(f'<text x="{LEFT + high * scale + 6:.1f}" y="{y + 17}">{mean:.1f}</text>')
        cx, cy = LEFT + r["estimate"] * scale, y + ROW / 2 - 2
        out.append(f'<polygon points="{cx:.1f},{cy - 6} {cx + 6:.1f},{cy} {cx:.1f},{cy + 6} {cx - 6:.1f},{cy}" '
                   'fill="#e08030" stroke="black"/>')
    bx = LEFT + baseline * scale
    out.append(f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{TOP - 6}" y2="{TOP + ROW * len(rows)}" stroke="#444" '
               'stroke-dasharray="4 3"/>')
    out.append("</svg>")
    return "\n".join(out)


def render(plan: dict[str, Any]) -> str:
    rows = plan["variants"]
    baseline = plan["variants"][0]["sim"]["mean"]
    table = ["<table><tr><th>variant</th><th>estimate /h</th><th>simulated /h</th><th>95 % CI</th>"
             "<th>vs baseline</th><th>95 % CI of the difference</th></tr>"]
    for r in rows:
        sim, delta = r.get("sim"), r.get("delta_vs_baseline")
        cells = [escape(r["name"]), f"{r['estimate']:.1f}"]
        cells += [f"{sim['mean']:.1f}", f"{sim['ci95'][0]:.1f} .. {sim['ci95'][1]:.1f}"] if sim else ["", "not run"]
        cells += [f"{delta['mean']:+.1f}", f"{delta['ci95'][0]:+.1f} .. {delta['ci95'][1]:+.1f}"] if delta \
            else ["", ""]
        table.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    table.append("</table>")
    title = escape(f"What-if: {plan['line']} ({plan['replications']} replications x {plan['hours']} h)")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
            "body{font-family:sans-serif;margin:2em} td,th{padding:4px 10px;text-align:right} "
            "td:first-child,th:first-child{text-align:left}</style></head><body>"
            f"<h2>{title}</h2>{_svg(rows, baseline)}{''.join(table)}</body></html>\n")
