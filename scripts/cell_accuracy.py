"""Exact cell-text accuracy by cell length: how much of a model's TEDS gap is reading.

    python scripts/cell_accuracy.py PRED.jsonl GT.jsonl

Only tables whose predicted cell count equals the true one are used (cells are paired in order);
inline tags are ignored; empty true cells are skipped.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from tablerec.pubtabnet import read_tables
from tablerec.table import Table


def main(pred_path: str, gt_path: str) -> None:
    truth = {t.filename: t for t in read_tables(gt_path)}
    right, total, tables = Counter(), Counter(), 0
    for line in open(pred_path, encoding="utf-8"):
        record = json.loads(line)
        if "html" not in record or record["filename"] not in truth:
            continue
        true_cells = truth[record["filename"]].cells
        pred_cells = Table.from_html(record["html"]).cells
        if len(true_cells) != len(pred_cells):
            continue
        tables += 1
        for t, p in zip(true_cells, pred_cells):
            text = t.text.strip()
            if not text:
                continue
            bucket = "1-8" if len(text) <= 8 else "9-20" if len(text) <= 20 else "21+"
            total[bucket] += 1
            right[bucket] += text == p.text.strip()
    print(f"tables with the right cell count: {tables}")
    for bucket in ("1-8", "9-20", "21+"):
        if total[bucket]:
            print(f"cells of {bucket:>4} characters: {right[bucket]}/{total[bucket]} read exactly ({right[bucket] / total[bucket]:.1%})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
