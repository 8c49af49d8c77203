#!/usr/bin/env python3
"""Draws docs/bench/load.svg from the results of scripts/bench-load.py (standard library only).

    python3 scripts/bench-chart.py [docs/bench/results.json] [docs/bench/load.svg]

Left: requests/s of each server as a fraction of the bare server of its framework (the
median of the per-round ratios), with the 0.85 target. Right: server CPU time per request.
"""

import json
import os
import sys
from xml.sax.saxutils import escape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "bench", "results.json")
DST = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "bench", "load.svg")
TARGET = 0.85

COLORS = {"bare": "#9e9e9e", "keycard": "#1f6feb", "peer": "#d2691e"}
LABELS = {
    "axum-bare": "axum (bare)",
    "axum-keycard": "axum + keycard",
    "axum-keycard-sb": "axum + keycard (one route_layer)",
    "axum-peer": "axum + axum-jwt-auth",
    "actix-bare": "actix-web (bare)",
    "actix-keycard": "actix-web + keycard",
    "actix-peer": "actix-web + actix-web-httpauth",
}


def kind(name):
    if name.endswith("-bare"):
        return "bare"
    if "keycard" in name:
        return "keycard"
    return "peer"


def main():
    with open(SRC) as f:
        data = json.load(f)
    rows = data["results"]
    bar_h, gap, top, label_w, panel_w = 22, 8, 78, 250, 300
    height = top + len(rows) * (bar_h + gap) + 60
    width = label_w + 2 * panel_w + 200
    out = []
    add = out.append
    add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">')
    add(f'<rect width="{width}" height="{height}" fill="white"/>')
    title = "HS256 bearer token, hello-world handler, one server core (wrk on another)"
    add(f'<text x="12" y="22" font-size="15" font-weight="bold">{escape(title)}</text>')
    sub = (f"{data['date']} - {data['rounds']} interleaved rounds x {data['duration_s']} s, "
           f"medians; load average {data['load_average']['before']}; token {data['token_bytes']} bytes")
    add(f'<text x="12" y="42" fill="#555">{escape(sub)}</text>')

    x1 = label_w
    x2 = label_w + panel_w + 140
    add(f'<text x="{x1}" y="{top - 14}" font-weight="bold">requests/s vs bare framework</text>')
    add(f'<text x="{x2}" y="{top - 14}" font-weight="bold">server CPU per request (us)</text>')
    max_cpu = max(r["cpu_us_per_req"] for r in rows) * 1.15
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        c = COLORS[kind(r["server"])]
        add(f'<text x="{label_w - 8}" y="{y + bar_h - 6}" text-anchor="end">'
            f'{escape(LABELS.get(r["server"], r["server"]))}</text>')
        w = panel_w * min(r["ratio"], 1.1) / 1.1
        add(f'<rect x="{x1}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{c}"/>')
        add(f'<text x="{x1 + w + 4:.1f}" y="{y + bar_h - 6}">{r["ratio"]:.2f}x '
            f'({r["rps"] / 1000:.0f}k/s)</text>')
        w = panel_w * r["cpu_us_per_req"] / max_cpu
        add(f'<rect x="{x2}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{c}"/>')
        add(f'<text x="{x2 + w + 4:.1f}" y="{y + bar_h - 6}">{r["cpu_us_per_req"]:.2f}</text>')
    bottom = top + len(rows) * (bar_h + gap)
    for v in (0.0, 0.5, 1.0):
        x = x1 + panel_w * v / 1.1
        add(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#ddd"/>')
        add(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#555">{v:.1f}</text>')
    x = x1 + panel_w * TARGET / 1.1
    add(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#2da44e" '
        f'stroke-width="2" stroke-dasharray="5,3"/>')
    add(f'<text x="{x:.1f}" y="{bottom + 32}" text-anchor="middle" fill="#2da44e">target {TARGET}</text>')
    lx = 12
    for k, c in COLORS.items():
        add(f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{c}"/>')
        add(f'<text x="{lx + 16}" y="{height - 12}">{k}</text>')
        lx += 90
    add("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(DST)), exist_ok=True)
    with open(DST, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {DST}")


if __name__ == "__main__":
    main()
