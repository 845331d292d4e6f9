"""Drawing annotations: cell boxes over the image, and an HTML page per dataset for eyeballing it."""

from __future__ import annotations

import html as html_lib
import os
from pathlib import Path
from typing import Iterable

from .table import Table

_PAGE_HEAD = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
section {{ border-top: 1px solid #ccc; padding: 1em 0; }}
h2 {{ font-size: 1em; font-weight: 600; }}
.pair {{ display: flex; gap: 2em; align-items: flex-start; flex-wrap: wrap; }}
.figure {{ position: relative; display: inline-block; }}
.figure svg {{ position: absolute; left: 0; top: 0; }}
.figure rect {{ fill: rgba(255, 120, 0, 0.12); stroke: #e8590c; stroke-width: 1; vector-effect: non-scaling-stroke; }}
.rendered table {{ border-collapse: collapse; font-size: 13px; }}
.rendered td {{ border: 1px solid #bbb; padding: 2px 6px; }}
.rendered thead td {{ background: #f1f3f5; font-weight: 600; }}
.meta {{ color: #666; font-size: 0.85em; }}
</style></head><body>
<h1>{title}</h1>
"""


def draw_cell_boxes(image, table: Table, color: tuple[int, int, int] = (232, 89, 12)):
    """A copy of the PIL image with every cell bbox outlined."""
    from PIL import ImageDraw

    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    for cell in table.cells:
        if cell.bbox is not None:
            draw.rectangle(list(cell.bbox), outline=color, width=1)
    return canvas


def table_section(table: Table, image_src: str | None, image_size: tuple[int, int] | None, note: str = "") -> str:
    """One table as HTML: the image with its boxes as an SVG overlay, beside the rendered table."""
    figure = ""
    if image_src is not None and image_size is not None:
        w, h = image_size
        scale = min(2.0, max(1.0, 640 / w))  # small crops are hard to read at 1:1
        sw, sh = round(w * scale), round(h * scale)
        rects = "".join(
            f'<rect x="{c.bbox[0]}" y="{c.bbox[1]}" width="{c.bbox[2] - c.bbox[0]}" height="{c.bbox[3] - c.bbox[1]}">'
            f"<title>row {c.row}, col {c.col}: {html_lib.escape(c.text)}</title></rect>"
            for c in table.cells
            if c.bbox is not None
        )
        figure = (
            f'<div class="figure"><img src="{html_lib.escape(image_src)}" width="{sw}" height="{sh}">'
            f'<svg width="{sw}" height="{sh}" viewBox="0 0 {w} {h}">{rects}</svg></div>'
        )
    elif image_src is None:
        figure = '<div class="meta">(image not found)</div>'
    meta = f"{table.n_rows} rows x {table.n_cols} columns, {len(table.cells)} cells{', spans' if table.has_spans else ''}"
    return (
        f"<section><h2>{html_lib.escape(table.filename)}</h2>"
        f'<div class="meta">{meta}{html_lib.escape(note)}</div>'
        f'<div class="pair">{figure}<div class="rendered">{table.to_html(wrap=False)}</div></div></section>\n'
    )


def write_show_page(tables: Iterable[Table], images_dir: str | os.PathLike | None, out_path: str | os.PathLike, title: str) -> int:
    """Write one HTML page showing each table; images are linked relative to the page, not copied."""
    from PIL import Image

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(_PAGE_HEAD.format(title=html_lib.escape(title)))
        for table in tables:
            src, size = None, None
            if images_dir is not None:
                image_path = Path(images_dir) / table.filename
                try:
                    with Image.open(image_path) as im:
                        size = im.size
                    src = os.path.relpath(image_path.resolve(), out_path.parent.resolve())
                except (OSError, ValueError):
                    pass
            f.write(table_section(table, src, size))
            count += 1
        f.write("</body></html>\n")
    return count
