"""The what-if chart a planner puts on a slide: one self-contained HTML page with an inline SVG, no libraries.

Per variant a bar (simulated throughput), its 95 % interval as a whisker, the analytical estimate as a
diamond, and the baseline as a dashed line; below it the same numbers as a table.
"""

from __future__ import annotations

from html import escape
from typing import Any

ROW, WIDTH, DELTA_WIDTH, TOP, GAP = 30, 360, 300, 66, 60


def _svg(rows: list[dict[str, Any]], baseline: float) -> str:
    left = 16 + 7 * max(len(r["name"]) for r in rows)  # room for the longest variant name
    values = [r["sim"]["ci95"][1] for r in rows if r.get("sim")] + [r["estimate"] for r in rows] + [baseline]
    scale = WIDTH / (max(values) * 1.1 or 1)
    deltas = [abs(x) for r in rows if r.get("delta_vs_baseline") for x in r["delta_vs_baseline"]["ci95"]]
    d_scale = DELTA_WIDTH / 2 / (max(deltas, default=1.0) * 1.15 or 1)
    d_zero = left + WIDTH + GAP + DELTA_WIDTH / 2
    height = TOP + ROW * len(rows) + 16
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + WIDTH + GAP + DELTA_WIDTH + 20}" '
           f'height="{height}" font-family="sans-serif" font-size="13">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="20" font-weight="bold">Good parts per hour</text>',
           f'<text x="{left}" y="36" font-size="11">bar: simulated mean, whisker: 95 % CI</text>',
           f'<text x="{left}" y="50" font-size="11">diamond: analytical estimate, dashed: baseline</text>',
           f'<text x="{d_zero - DELTA_WIDTH / 2}" y="20" font-weight="bold">Difference to the baseline</text>',
           f'<text x="{d_zero - DELTA_WIDTH / 2}" y="36" font-size="11">per hour, paired 95 % CI</text>',
           f'<text x="{d_zero - DELTA_WIDTH / 2}" y="50" font-size="11">green: better, red: worse, grey: not'
           ' sure</text>']
    for i, r in enumerate(rows):
        y = TOP + i * ROW
        mid = y + ROW / 2 - 2
        out.append(f'<text x="{left - 8}" y="{mid + 4}" text-anchor="end">{escape(r["name"])}</text>')
        if r.get("sim"):
            mean, (low, high) = r["sim"]["mean"], r["sim"]["ci95"]
            colour = "#4878a8" if r["name"] != "baseline" else "#888888"
            out.append(f'<rect x="{left}" y="{y + 4}" width="{mean * scale:.1f}" height="{ROW - 12}" fill="{colour}"/>')
            out.append(f'<line x1="{left + low * scale:.1f}" x2="{left + high * scale:.1f}" y1="{mid}" y2="{mid}" '
                       'stroke="black" stroke-width="2"/>')
            out.append(f'<text x="{left + high * scale + 8:.1f}" y="{mid + 4}">{mean:.1f}</text>')
        cx = left + r["estimate"] * scale
        out.append(f'<polygon points="{cx:.1f},{mid - 6} {cx + 6:.1f},{mid} {cx:.1f},{mid + 6} {cx - 6:.1f},{mid}" '
                   'fill="#e08030" stroke="black"/>')
        delta = r.get("delta_vs_baseline")
        if delta and r["name"] != "baseline":
            d_mean, (d_low, d_high) = delta["mean"], delta["ci95"]
            x0, x1 = sorted((d_zero, d_zero + d_mean * d_scale))
            colour = "#3a9a5a" if d_low > 0 else "#c0504d" if d_high < 0 else "#aaaaaa"
            out.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{x1 - x0:.1f}" height="{ROW - 12}" fill="{colour}"/>')
            out.append(f'<line x1="{d_zero + d_low * d_scale:.1f}" x2="{d_zero + d_high * d_scale:.1f}" y1="{mid}" '
                       f'y2="{mid}" stroke="black" stroke-width="2"/>')
            tx = d_zero + (d_high * d_scale + 6 if d_mean >= 0 else d_low * d_scale - 6)
            anchor = "start" if d_mean >= 0 else "end"
            out.append(f'<text x="{tx:.1f}" y="{mid + 4}" text-anchor="{anchor}">{d_mean:+.1f}</text>')
    bottom = TOP + ROW * len(rows)
    bx = left + baseline * scale
    out.append(f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{TOP - 6}" y2="{bottom}" stroke="#444" stroke-dasharray="4 3"/>')
    out.append(f'<line x1="{d_zero}" x2="{d_zero}" y1="{TOP - 6}" y2="{bottom}" stroke="#444"/>')
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
