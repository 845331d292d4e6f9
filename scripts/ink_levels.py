"""How dark is the text of a set of tables?  The darkest ink of each cell, compared across sets.

    python scripts/ink_levels.py GT.jsonl IMAGE_DIR [--limit N]

For every non-empty cell with a box: the 99th percentile of its ink (255 - grey; 255 = black) inside
the box.  Prints the median and the 10th and 90th percentiles over the cells.  Real PDF renderings
(thin, anti-aliased strokes) come out lighter than text drawn at size (see SynthConfig's
supersample_probability).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from tablerec.pubtabnet import read_tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("gt")
    parser.add_argument("images")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    peaks = []
    for table in list(read_tables(args.gt))[: args.limit or None]:
        ink = 255 - np.asarray(Image.open(Path(args.images) / table.filename).convert("L"), dtype=np.int16)
        for cell in table.cells:
            if cell.bbox is None or not cell.text.strip():
                continue
            x0, y0, x1, y1 = (int(round(v)) for v in cell.bbox)
            inside = ink[y0:y1 + 1, x0:x1 + 1]
            if inside.size:
                peaks.append(np.percentile(inside, 99))
    print(f"{len(peaks)} cells: darkest ink (99th percentile) median {np.median(peaks):.0f}, "
          f"10th percentile {np.percentile(peaks, 10):.0f}, 90th {np.percentile(peaks, 90):.0f}")


if __name__ == "__main__":
    main()
