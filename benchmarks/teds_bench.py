"""Speed and agreement of TEDS implementations on random table pairs.

    python benchmarks/teds_bench.py [--sizes 10x5,30x8,60x10,100x12] [--budget 60]

For each size (rows x columns) one deterministic pair is generated: a ground
truth with a bold header row, a few colspans/rowspans and random cell text,
and a prediction with text edits in ~25% of the cells, one span removed, one
span added and one row dropped.  Every implementation scores the same pair:

* tablerec      -- tablerec.metrics.TEDS (best of 3 runs)
* reference     -- tests/reference_teds.py: PubTabNet's algorithm (apted + distance,
                   pure Python); skipped where it would take more than --budget seconds
* table-recognition-metric, docling-metrics-table -- PyPI packages, if importable

Prints seconds and score per cell, then how far each score is from the
reference score (tablerec equals the reference exactly, so the reference
column is tablerec's score where the reference itself was skipped).
"""

from __future__ import annotations

import argparse
import html
import random
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from tablerec.metrics import TEDS  # noqa: E402

WORDS = "age sex dose mean SD median range total control group week day ratio CI value cases n".split()


# ---- table pairs -----------------------------------------------------------------


def random_text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return f"{rng.uniform(0, 100):.{rng.randint(0, 3)}f}"
    if kind < 0.5:
        return ""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))


def random_grid(rng: random.Random, n_rows: int, n_cols: int) -> list[list[dict]]:
    """Rows of cells {text, colspan, rowspan, bold}; cells covered by a span are left out."""
    covered: set[tuple[int, int]] = set()
    rows: list[list[dict]] = []
    for r in range(n_rows):
        row = []
        c = 0
        while c < n_cols:
            if (r, c) in covered:
                c += 1
                continue
            colspan = rowspan = 1
            if r == 0 and c > 0 and c + 1 < n_cols and rng.random() < 0.3:
                colspan = 2
            elif r > 0 and c == 0 and r + 1 < n_rows and rng.random() < 0.1:
                rowspan = 2
            for rr in range(r, r + rowspan):
                for cc in range(c, c + colspan):
                    covered.add((rr, cc))
            row.append({"text": random_text(rng), "colspan": colspan, "rowspan": rowspan, "bold": r == 0})
            c += colspan
        rows.append(row)
    return rows


def grid_html(rows: list[list[dict]]) -> str:
    def cell(c: dict) -> str:
        attrs = (f' colspan="{c["colspan"]}"' if c["colspan"] > 1 else "") + (f' rowspan="{c["rowspan"]}"' if c["rowspan"] > 1 else "")
        text = html.escape(c["text"], quote=False)
        return f"<td{attrs}>" + (f"<b>{text}</b>" if c["bold"] and text else text) + "</td>"

    def row(cells: list[dict]) -> str:
        return "<tr>" + "".join(cell(c) for c in cells) + "</tr>"

    head, body = rows[:1], rows[1:]
    return (
        "<html><body><table><thead>" + "".join(map(row, head)) + "</thead><tbody>"
        + "".join(map(row, body)) + "</tbody></table></body></html>"
    )


def edit_text(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        pos = rng.randint(0, len(chars))
        if op < 0.4 or not chars:
            chars.insert(pos, rng.choice("0123456789abcdefg ."))
        elif op < 0.7:
            del chars[min(pos, len(chars) - 1)]
        else:
            chars[min(pos, len(chars) - 1)] = rng.choice("0123456789xyz")
    return "".join(chars)


def table_pair(n_rows: int, n_cols: int, seed: int = 0) -> tuple[str, str]:
    """(prediction html, ground truth html), deterministic for a seed."""
    rng = random.Random(f"{seed}:{n_rows}x{n_cols}")
    truth = random_grid(rng, n_rows, n_cols)
    pred = [[dict(c) for c in row] for row in truth]
    for row in pred:
        for c in row:
            if rng.random() < 0.25:
                c["text"] = edit_text(rng, c["text"])
    spanned = [c for row in pred for c in row if c["colspan"] > 1 or c["rowspan"] > 1]
    if spanned:  # one span lost
        rng.choice(spanned).update(colspan=1, rowspan=1)
    target = rng.choice(pred[-1])  # one span invented
    target["colspan"] += 1
    del pred[rng.randrange(1, len(pred) - 1)]  # one row dropped
    return grid_html(pred), grid_html(truth)


# ---- implementations ---------------------------------------------------------------


def implementations() -> dict[str, Callable[[str, str], float] | str]:
    """name -> scorer(pred, gt), or a string saying why it is unavailable."""
    found: dict[str, Callable[[str, str], float] | str] = {"tablerec": TEDS().evaluate}
    try:
        from reference_teds import ReferenceTEDS

        found["reference"] = ReferenceTEDS().evaluate
    except ImportError:
        found["reference"] = "not installed (pip install apted==1.0.3 distance==0.1.3)"
    try:
        from table_recognition_metric import TEDS as TRMTEDS

        trm = TRMTEDS()
        found["table-recognition-metric"] = lambda pred, gt: trm(pred, gt)
    except ImportError:
        found["table-recognition-metric"] = "not installed"
    try:
        from docling_metrics_table import TableMetric, TableMetricHTMLInputSample
        from docling_metrics_table.docling_metrics_table import TableMetricKind

        docling = TableMetric(metrics=[TableMetricKind.TEDS])

        def docling_teds(pred: str, gt: str) -> float:
            sample = TableMetricHTMLInputSample(id="bench", html_a=gt, html_b=pred)
            return docling.evaluate_sample(sample).teds.teds

        found["docling-metrics-table"] = docling_teds
    except ImportError:
        found["docling-metrics-table"] = "not installed"
    return found


def timed(scorer: Callable[[str, str], float], pred: str, gt: str, repeats: int) -> tuple[float, float]:
    best = float("inf")
    score = float("nan")
    for _ in range(repeats):
        start = time.perf_counter()
        score = scorer(pred, gt)
        best = min(best, time.perf_counter() - start)
    return best, score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10x5,30x8,60x10,100x12", help="comma-separated ROWSxCOLS")
    parser.add_argument("--budget", type=float, default=60.0, help="skip a slow implementation where it would take longer (s)")
    args = parser.parse_args(argv)
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    impls = implementations()
    names = list(impls)
    results: dict[tuple[str, tuple[int, int]], tuple[float, float] | str] = {}
    last_time: dict[str, tuple[int, float]] = {}  # name -> (nodes, seconds) of its last run, to extrapolate

    for size in sizes:
        pred, gt = table_pair(*size)
        n_nodes = pred.count("<td") + pred.count("<tr>") + gt.count("<td") + gt.count("<tr>")
        for name in names:
            scorer = impls[name]
            if isinstance(scorer, str):
                results[(name, size)] = scorer
                continue
            if name in last_time:
                prev_nodes, prev_seconds = last_time[name]
                estimate = prev_seconds * (n_nodes / prev_nodes) ** 2.5  # these are quadratic-or-worse
                if estimate > args.budget:
                    results[(name, size)] = f"skipped (>{args.budget:.0f} s)"
                    continue
            repeats = 3 if name == "tablerec" else 1
            try:
                results[(name, size)] = timed(scorer, pred, gt, repeats)
                last_time[name] = (n_nodes, results[(name, size)][0])
            except Exception as exc:  # a third-party package failing is a result too
                results[(name, size)] = f"error: {type(exc).__name__}"
            print(f"  {size[0]}x{size[1]} {name}: {results[(name, size)]}", file=sys.stderr, flush=True)

    def cell(name: str, size: tuple[int, int]) -> str:
        value = results[(name, size)]
        return value if isinstance(value, str) else f"{value[0]:.4f} s, {value[1]:.6f}"

    header = ["table"] + names
    rows = [[f"{r}x{c}"] + [cell(n, (r, c)) for n in names] for (r, c) in sizes]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths)) + " |")

    print("\nspeed-up of tablerec over the reference, and score differences from the reference:")
    for size in sizes:
        ours = results[("tablerec", size)]
        ref = results[("reference", size)]
        ref_score = ref[1] if isinstance(ref, tuple) else ours[1]  # tablerec == reference exactly
        parts = []
        if isinstance(ref, tuple):
            parts.append(f"speed-up {ref[0] / ours[0]:.0f}x")
        for name in names:
            value = results[(name, size)]
            if name != "reference" and isinstance(value, tuple):
                parts.append(f"{name} {value[1] - ref_score:+.2e}")
        print(f"  {size[0]}x{size[1]}: " + ", ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
