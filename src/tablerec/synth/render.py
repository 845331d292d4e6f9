"""Drawing a laid-out table with Pillow: fills, rules, then text; each cell's box comes from ``draw.textbbox``."""

from __future__ import annotations

import math
from typing import Collection

from PIL import Image, ImageDraw

from .layout import Geometry, SpecCell, TableSpec, hang, has_leader

Box = tuple[int, int, int, int]


def render(spec: TableSpec, geom: Geometry, bbox_mode: str = "line", draw_text: bool = True,
           only_cells: Collection[int] | None = None) -> tuple[Image.Image, list[Box | None]]:
    """Draw the table; returns the image and, per spec cell, the box of its text (None if empty).

    The image is RGB when the style has tinted fills and 8-bit grey ("L") otherwise:
    a third of the pixels to draw, augment and compress.

    ``draw_text`` and ``only_cells`` exist for tests: drawing the same table without
    text (or with one cell's text) isolates each cell's pixels.
    """
    style = spec.style
    mode = "RGB" if style.colored else "L"
    paint = (lambda c: c) if mode == "RGB" else (lambda c: c[0])
    image = Image.new(mode, (geom.width, geom.height), paint((255, 255, 255)))
    draw = ImageDraw.Draw(image)
    xs, ys = geom.x_edges, geom.y_edges
    x_left, x_right = xs[0], xs[-1]

    # Background fills: header band, zebra stripes, section rows.
    if style.header_fill and spec.n_head:
        draw.rectangle((x_left, ys[0], x_right - 1, ys[spec.n_head] - 1), fill=paint(style.header_fill))
    if style.stripe_fill:
        for r in range(spec.n_head, spec.n_rows):
            if (r - spec.n_head) % 2 == 1:
                draw.rectangle((x_left, ys[r], x_right - 1, ys[r + 1] - 1), fill=paint(style.stripe_fill))
    if style.section_fill:
        for r in spec.section_rows:
            draw.rectangle((x_left, ys[r], x_right - 1, ys[r + 1] - 1), fill=paint(style.section_fill))

    _draw_rules(draw, spec, geom, paint)

    color = paint((style.text_gray,) * 3)
    boxes: list[Box | None] = []
    for i, (cell, lines) in enumerate(zip(spec.cells, geom.lines)):
        if not lines or cell.empty:
            boxes.append(None)
            continue
        x0, x1 = xs[cell.col] + style.pad_x, xs[cell.col + cell.colspan] - style.pad_x
        y0, y1 = ys[cell.row] + style.pad_y, ys[cell.row + cell.rowspan] - style.pad_y
        text_h = sum(ln.height for ln in lines) + style.line_gap * (len(lines) - 1)
        valign = style.header_valign if cell.header else style.valign
        top = y0 if valign == "top" else y1 - text_h if valign == "bottom" else y0 + (y1 - y0 - text_h) // 2
        box = None
        draw_this = draw_text and (only_cells is None or i in only_cells)
        indent_after_first = hang(cell, style)
        for k, line in enumerate(lines):
            baseline = top - line.top
            if cell.align == "left":
                left = x0 + cell.indent + (indent_after_first if k else 0)
            elif cell.align == "right":
                left = x1 - line.width
            else:
                left = x0 + cell.indent + (x1 - x0 - cell.indent - line.width) // 2
            for frag in line.frags:
                xy = (left + frag.x, baseline + frag.dy)
                if draw_this:
                    draw.text(xy, frag.text, font=frag.font, fill=color, anchor="ls")
                box = _union(box, draw.textbbox(xy, frag.text, font=frag.font, anchor="ls"))
            if bbox_mode == "line":
                # PubTabNet boxes span the font's ascent..descent, whatever letters the line holds.
                box = _union(box, (box[0], baseline - geom.ascent, box[2], baseline + geom.descent))
            top += line.height + style.line_gap
        if has_leader(cell, style):
            # Drawn like the rules, with or without the text: the dots are not the cell's content.
            _draw_leader(draw, style.leader, line.frags[-1].font, left + line.width, x1, baseline, xs[0], color)
        boxes.append(box)
    return image, boxes


def _draw_leader(draw: ImageDraw.ImageDraw, unit: str, fnt, text_end: int, x_end: int, baseline: int,
                 x_origin: int, fill) -> None:
    """Dots from a space after the text to ``x_end``, on a grid from ``x_origin`` so rows' dots line up."""
    step = fnt.getlength(unit)
    start = text_end + fnt.getlength(" ") + 1
    first = x_origin + math.ceil((start - x_origin) / step) * step
    count = int((x_end - first) // step)
    if count >= 2:
        draw.text((first, baseline), (unit * count).rstrip(), font=fnt, fill=fill, anchor="ls")


def _union(a: Box | None, b) -> Box:
    b = (int(b[0]), int(b[1]), int(b[2]), int(b[3]))
    if a is None:
        return b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _hline(draw: ImageDraw.ImageDraw, x0: int, x1: int, y: int, px: int, fill) -> None:
    top = y - px // 2
    draw.rectangle((x0, top, x1 - 1, top + px - 1), fill=fill)


def _vline(draw: ImageDraw.ImageDraw, x: int, y0: int, y1: int, px: int, fill) -> None:
    left = x - px // 2
    draw.rectangle((left, y0, left + px - 1, y1 - 1), fill=fill)


def _draw_rules(draw: ImageDraw.ImageDraw, spec: TableSpec, geom: Geometry, paint) -> None:
    """Rules sit on cell edges; paddings keep them clear of the text boxes."""
    style = spec.style
    xs, ys = geom.x_edges, geom.y_edges
    fill = paint((style.rule_gray,) * 3)
    one = style.scale  # a hairline: one pixel of the final image
    px = style.rule_px * one
    x_left, x_right = xs[0], xs[-1]
    head = spec.n_head
    kind = style.rules
    if kind == "grid":
        for cell in spec.cells:
            cx0, cx1 = xs[cell.col], xs[cell.col + cell.colspan]
            cy0, cy1 = ys[cell.row], ys[cell.row + cell.rowspan]
            _hline(draw, cx0, cx1 + one, cy0, one, fill)
            _hline(draw, cx0, cx1 + one, cy1, one, fill)
            _vline(draw, cx0, cy0, cy1 + one, one, fill)
            _vline(draw, cx1, cy0, cy1 + one, one, fill)
    else:
        if kind in ("booktabs", "outer"):
            _hline(draw, x_left, x_right, ys[0], px, fill)
            _hline(draw, x_left, x_right, ys[-1], px, fill)
        if kind == "outer":
            _vline(draw, x_left, ys[0], ys[-1], one, fill)
            _vline(draw, x_right, ys[0], ys[-1] + one, one, fill)
        if kind in ("booktabs", "header", "outer", "rows") and head:
            _hline(draw, x_left, x_right, ys[head], px, fill)
        if kind == "rows":
            light = paint((max(style.rule_gray, 150),) * 3)
            for r in range(head + 1, spec.n_rows):
                _hline(draw, x_left, x_right, ys[r], one, light)
            _hline(draw, x_left, x_right, ys[-1], one, fill)
        if style.group_rules and head > 1:
            gap = max(2, style.pad_x // 2)
            for cell in spec.cells:
                if cell.header and cell.colspan > 1 and cell.row + cell.rowspan < head and not cell.empty:
                    _hline(draw, xs[cell.col] + gap, xs[cell.col + cell.colspan] - gap, ys[cell.row + cell.rowspan], one, fill)
    if style.total_rules and spec.total_rows and kind != "grid":
        for r in spec.total_rows:
            _hline(draw, x_left, x_right, ys[r], one, fill)
            if style.total_rules == "double":
                _hline(draw, x_left, x_right, ys[r + 1] - one, one, fill)
                _hline(draw, x_left, x_right, ys[r + 1] + one, one, fill)


def cell_tokens(cell: SpecCell) -> list[str]:
    """PubTabNet content tokens for a spec cell (empty cells have none)."""
    from .content import runs_to_tokens

    if cell.empty:
        return []
    tokens = runs_to_tokens(cell.runs, bold=cell.bold, italic=cell.italic)
    return [" "] + tokens if cell.leading_space else tokens
