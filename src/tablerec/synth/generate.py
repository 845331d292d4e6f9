"""One synthetic table from (seed, index, config): spec -> layout -> render -> augment -> Table."""

from __future__ import annotations

import itertools
import random
from typing import Iterator

from PIL import Image

from ..table import Cell, Table
from .augment import augment, rescale
from .config import SynthConfig
from .layout import Geometry, TableSpec, enlarge_spec, enlarged_config, layout, make_spec
from .render import cell_tokens, render


def table_rng(seed: int, index: int) -> random.Random:
    # String seeds are hashed with SHA-512, so this is stable across processes and Python runs.
    return random.Random(f"tablerec-synth:{seed}:{index}")


def synth_filename(seed: int, index: int) -> str:
    return f"synth-{seed}-{index:08d}.png"


def structure_tokens(spec: TableSpec) -> list[str]:
    """PubTabNet structure tokens: header rows in <thead>, the rest in <tbody>."""
    tokens: list[str] = []
    by_row: dict[int, list] = {}
    for cell in spec.cells:
        by_row.setdefault(cell.row, []).append(cell)

    def row_tokens(r: int) -> None:
        tokens.append("<tr>")
        for cell in by_row.get(r, []):
            spans = ([f' rowspan="{cell.rowspan}"'] if cell.rowspan > 1 else []) + (
                [f' colspan="{cell.colspan}"'] if cell.colspan > 1 else [])
            tokens.extend(["<td", *spans, ">"] if spans else ["<td>"])
            tokens.append("</td>")
        tokens.append("</tr>")

    if spec.n_head:
        tokens.append("<thead>")
        for r in range(spec.n_head):
            row_tokens(r)
        tokens.append("</thead>")
    tokens.append("<tbody>")
    for r in range(spec.n_head, spec.n_rows):
        row_tokens(r)
    tokens.append("</tbody>")
    return tokens


def synth_table(index: int = 0, seed: int = 0, config: SynthConfig | None = None,
                split: str = "train") -> tuple[Image.Image, Table]:
    """The table number ``index`` of stream ``seed``: an RGB image and its annotation (a pure function)."""
    image, table = make_table(index, seed, config or SynthConfig(), split)
    return (image if image.mode == "RGB" else image.convert("RGB")), table


def plan_table(rng: random.Random, config: SynthConfig) -> tuple[TableSpec, Geometry, int]:
    """The spec and layout of the next table of ``rng``, and the scale it is drawn at (2 or 3 when
    supersampled: everything laid out that much larger, to be shrunk after rendering)."""
    scale = 1
    if config.supersample_probability and rng.random() < config.supersample_probability:
        scale = rng.choice((2, 3))
    drawn_config = config if scale == 1 else enlarged_config(config, scale)
    spec = make_spec(rng, drawn_config)
    if scale > 1:
        enlarge_spec(spec, scale)
    return spec, layout(spec, rng, drawn_config), scale


def make_table(index: int, seed: int, config: SynthConfig, split: str = "train") -> tuple[Image.Image, Table]:
    """Like synth_table, but the image stays in the mode it was drawn in ("L" for grey tables)."""
    rng = table_rng(seed, index)
    spec, geom, scale = plan_table(rng, config)
    image, boxes = render(spec, geom, config.bbox_mode)
    if scale > 1:
        # An area filter: each pixel gets the share of it the ink covers, as a PDF rasteriser gives.
        image, boxes = rescale(image, boxes, 1 / scale, Image.Resampling.BOX)
    augmentations: list[str] = []
    if rng.random() < config.augment_probability:
        image, boxes, augmentations = augment(image, boxes, rng, config.max_skew_degrees)
    cells = []
    for cell, box in zip(spec.cells, boxes):
        tokens = cell_tokens(cell)
        cells.append(Cell(tokens=tokens, bbox=box if tokens else None))
    style = spec.style.describe()
    style["augment"] = augmentations
    extra = {
        "imgid": index,
        "synth": {"seed": seed, "index": index, **style,
                  "grid": [[c.row, c.col, c.rowspan, c.colspan] for c in spec.cells]},
    }
    table = Table(structure_tokens(spec), cells, filename=synth_filename(seed, index), split=split, extra=extra)
    return image, table


def iter_synth(n: int | None = None, seed: int = 0, config: SynthConfig | None = None, start: int = 0,
               split: str = "train") -> Iterator[tuple[Image.Image, Table]]:
    """Tables start, start+1, ... (n of them, or endlessly if n is None), without touching the disk."""
    config = config or SynthConfig()
    indices = itertools.count(start) if n is None else range(start, start + n)
    for index in indices:
        yield synth_table(index, seed, config, split)
