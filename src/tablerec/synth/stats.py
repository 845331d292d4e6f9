"""Distributions of generated tables next to the same figures for real annotated tables."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Iterable

from PIL import Image

from ..pubtabnet import read_tables
from ..table import Table

# The shared real data sits beside the repository (../shared/data) in development checkouts.
REAL_SETS = ("pubtabnet_examples", "ctdar2019_modern")


def find_real_data() -> Path | None:
    """The shared data folder: $TABLEREC_SHARED_DATA, or ../shared/data next to the repo or the cwd."""
    env = os.environ.get("TABLEREC_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p.parent / "shared" / "data" for p in here.parents[2:5]]
    candidates.append(Path.cwd().parent / "shared" / "data")
    for path in candidates:
        if (path / REAL_SETS[0] / "annotations.jsonl").is_file():
            return path
    return None


def table_figures(tables: Iterable[tuple[Table, tuple[int, int]]]) -> dict[str, list[float]]:
    """Per-table (and per-cell) numbers the comparison is made of."""
    fig: dict[str, list[float]] = {k: [] for k in (
        "rows", "cols", "header_rows", "spans", "empty", "cell_chars", "width", "height", "box_height", "multiline")}
    for table, (width, height) in tables:
        fig["rows"].append(table.n_rows)
        fig["cols"].append(table.n_cols)
        fig["header_rows"].append(len({c.row for c in table.cells if c.header}))
        fig["spans"].append(1.0 if table.has_spans else 0.0)
        fig["width"].append(width)
        fig["height"].append(height)
        n_cells = len(table.cells)
        fig["empty"].append(sum(1 for c in table.cells if c.bbox is None) / max(1, n_cells))
        for cell in table.cells:
            text = cell.text.strip()
            if text:
                fig["cell_chars"].append(len(text))
        heights = sorted(c.bbox[3] - c.bbox[1] for c in table.cells if c.bbox)
        if heights:
            line = heights[len(heights) // 4]  # a low quantile: most cells hold one line
            fig["box_height"].append(line)
            fig["multiline"].append(sum(1 for h in heights if h > 1.6 * line) / len(heights))
    return fig


def read_real(folder: Path) -> list[tuple[Table, tuple[int, int]]]:
    out = []
    for table in read_tables(folder / "annotations.jsonl"):
        with Image.open(folder / "images" / table.filename) as im:
            out.append((table, im.size))
    return out


ROWS = (
    ("rows", "rows per table", "dist"),
    ("cols", "columns per table", "dist"),
    ("header_rows", "header rows (thead)", "dist"),
    ("spans", "tables with spans", "share"),
    ("empty", "empty cells per table", "pct"),
    ("cell_chars", "characters per non-empty cell", "dist"),
    ("width", "image width (px)", "dist"),
    ("height", "image height (px)", "dist"),
    ("box_height", "text box height (px, one line)", "dist"),
    ("multiline", "multi-line cells", "pct"),
)


def _describe(values: list[float], how: str) -> str:
    if not values:
        return "n/a"
    if how == "share":
        return f"{100 * sum(values) / len(values):.0f}%"
    if how == "pct":
        return f"{100 * statistics.fmean(values):.0f}%"
    ordered = sorted(values)
    q = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
    return f"{statistics.median(ordered):g} ({q(0.1):g}–{q(0.9):g})"


def comparison_table(columns: dict[str, dict[str, list[float]]]) -> str:
    """Markdown table: one row per figure, one column per data set (median (p10–p90), or a share)."""
    names = list(columns)
    lines = ["| figure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, label, how in ROWS:
        cells = []
        for name in names:
            values = columns[name].get(key, [])
            if key == "cell_chars" and not values:
                cells.append("n/a (no text)")
            else:
                cells.append(_describe(values, how))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    counts = " | ".join(str(len(columns[n]["rows"])) for n in names)
    lines.append(f"| tables | {counts} |")
    return "\n".join(lines)


def compare_with_real(synth: Iterable[tuple[Table, tuple[int, int]]], real_dir: Path | None = None) -> str:
    columns = {"synthetic": table_figures(synth)}
    real_dir = real_dir or find_real_data()
    if real_dir is not None:
        for name in REAL_SETS:
            if (real_dir / name / "annotations.jsonl").is_file():
                columns[name] = table_figures(read_real(real_dir / name))
    return comparison_table(columns)


def sample_grid(images: list[Image.Image], columns: int = 3, tile: tuple[int, int] = (500, 340),
                gap: int = 10, min_scale: float = 0.6) -> Image.Image:
    """Tile images on a grey sheet for the docs: shrunk at most to ``min_scale`` (so text stays legible), then cropped."""
    rows = (len(images) + columns - 1) // columns
    tw, th = tile
    sheet = Image.new("RGB", (columns * (tw + gap) + gap, rows * (th + gap) + gap), (170, 170, 170))
    for i, image in enumerate(images):
        scale = max(min_scale, min(1.0, tw / image.width, th / image.height))
        if scale < 1.0:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        image = image.crop((0, 0, min(tw, image.width), min(th, image.height)))
        sheet.paste(image.convert("RGB"), (gap + (i % columns) * (tw + gap), gap + (i // columns) * (th + gap)))
    return sheet
