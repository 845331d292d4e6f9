"""Predicted against true row counts: the structure decoder's commonest error, by table height.

    python scripts/row_counts.py PRED.jsonl GT.jsonl

Rows are the ``<tr>`` of the structure (header rows included).  Printed: how many tables got too many,
too few or the right number of rows, for tables of up to 9, 10-19 and 20 or more true rows, and the
ten largest misses.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from tablerec.pubtabnet import read_tables
from tablerec.table import Table


def main(pred_path: str, gt_path: str) -> None:
    truth = {t.filename: t.structure.count("<tr>") for t in read_tables(gt_path)}
    counts: Counter = Counter()
    misses = []
    for line in open(pred_path, encoding="utf-8"):
        record = json.loads(line)
        if "html" not in record or record["filename"] not in truth:
            continue
        true_rows = truth[record["filename"]]
        pred_rows = Table.from_html(record["html"]).structure.count("<tr>")
        height = "1-9" if true_rows <= 9 else "10-19" if true_rows <= 19 else "20+"
        verdict = "too many" if pred_rows > true_rows else "too few" if pred_rows < true_rows else "right"
        counts[height, verdict] += 1
        misses.append((abs(pred_rows - true_rows), record["filename"], true_rows, pred_rows))
    print("true rows | tables | too many | too few | right")
    for height in ("1-9", "10-19", "20+"):
        n = sum(counts[height, v] for v in ("too many", "too few", "right"))
        if n:
            print(f"{height:>9} | {n:>6} | {counts[height, 'too many']:>8} | {counts[height, 'too few']:>7} | {counts[height, 'right']:>5}")
    total = {v: sum(counts[h, v] for h in ("1-9", "10-19", "20+")) for v in ("too many", "too few", "right")}
    print(f"{'all':>9} | {sum(total.values()):>6} | {total['too many']:>8} | {total['too few']:>7} | {total['right']:>5}")
    print("largest misses (true -> predicted rows):",
          ", ".join(f"{name} {t} -> {p}" for gap, name, t, p in sorted(misses, reverse=True)[:10] if gap))


if __name__ == "__main__":
    main(*sys.argv[1:3])
