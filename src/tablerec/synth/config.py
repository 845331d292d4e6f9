"""SynthConfig: every knob of the synthetic table generator in one plain dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class SynthConfig:
    """What kind of tables to draw.  Defaults aim at PubTabNet, with some financial (cTDaR-like) tables.

    For a curriculum, start small, e.g. ``SynthConfig(max_rows=6, max_cols=4, max_cell_chars=12,
    span_probability=0.1, augment_probability=0.0)`` and grow the limits as training goes on.
    """

    # Structure.  Rows count header rows too; a table always has at least one body row.
    min_rows: int = 1
    max_rows: int = 60
    min_cols: int = 1
    max_cols: int = 15
    max_header_rows: int = 3
    median_rows: float = 11.0  # rows and columns are drawn log-normally around these, then clipped
    median_cols: float = 5.0
    span_probability: float = 0.55  # share of tables given spans (multi-level headers, section rows, row groups)
    empty_cell_scale: float = 1.0  # multiplies each table's share of empty cells (0 = no empty data cells)
    max_cell_chars: int = 80  # characters per cell, inline tags not counted
    max_label_words: int = 12
    # More kinds of cell text: codes with no language in them ("IG-T", "abcd", "T4a"), lower-case categories
    # ("yes", "no"), thresholds ("≤69", "> 4 cm"), month-first dates, comma decimals in scientific notation.
    # A reader trained without them read real tables' "yes" as "High" and "2,483E-03" as "2,483.03".
    # Off by default so that every seed keeps giving the tables it gave before.
    more_text_kinds: bool = False
    # Running text: a share of tables gets one or two columns of sentences that wrap over several lines
    # (descriptions, policies, award lists in annual reports), so that many text lines are one row.
    # Off by default so that the tables of a seed stay the same; training turns it on in its recipe.
    prose_probability: float = 0.0
    max_prose_chars: int = 320

    # Domain mix: PubTabNet-like (biomedical) or financial-report-like (cTDaR) tables.
    financial_probability: float = 0.15
    # Prospectus setting: a share of the financial tables is set as in IPO prospectuses (cTDaR's modern
    # tables): wrapped labels hang (continuation lines indented), figures sit level with the last line of
    # their label (bottom-aligned), and a blank band parts header and body.  The stage-3 model split such
    # wrapped labels into rows of their own (24 of 56 cTDaR tables got too many rows: scripts/row_counts.py).
    # Off by default so that every seed keeps giving the tables it gave before.
    prospectus_probability: float = 0.0
    # Dot leaders: a share of the financial tables runs a line of dots from each label to the edge of
    # its column ("Total assets . . . . . 1,234"), as at least 7 of cTDaR's 56 modern tables do.  The dots are
    # drawing, not text: no tokens, outside the label's box.  Off by default (seeds keep their tables).
    leader_probability: float = 0.0
    # Chinese: a share of the financial tables is set in Chinese (a Ming or a sans face; labels, headers and
    # running text in Chinese characters that wrap anywhere, figures as they are), as 7 of cTDaR's 56 modern
    # tables are.  The cell tokens hold the characters; the model's vocabulary has none, so it learns the
    # look and the structure, not the reading.  Needs fonts-arphic-uming or fonts-wqy-microhei.  Off by default.
    chinese_probability: float = 0.0

    # Geometry: target image widths before wrapping decides the final size.
    min_width: int = 240
    max_width: int = 500
    wide_probability: float = 0.12  # some PubTabNet crops are page-wide
    wide_max_width: int = 900
    financial_min_width: int = 550
    financial_max_width: int = 1100

    # Fonts: Debian families (see tablerec.synth.fonts.FAMILY_FILES); None = every one installed.
    fonts: tuple[str, ...] | None = None
    min_font_px: int = 7  # em size in pixels; the text line box is about 1.15 em tall
    max_font_px: int = 10
    financial_min_font_px: int = 13
    financial_max_font_px: int = 20

    # Boxes: "line" = ink extent horizontally, font ascent..descent vertically (how PubTabNet boxes look);
    # "ink" = tight around the drawn pixels.
    bbox_mode: str = "line"

    # Supersampling: a share of tables is laid out and drawn 2 or 3 times larger, then shrunk back with
    # an area filter.  Their text comes out thin, light and unhinted, as in PubTabNet's renderings of
    # PDF pages (real cells' darkest ink: median 147 of 255, against 213 for tables drawn at size;
    # scripts/ink_levels.py).
    # Off by default so that every seed keeps giving the tables it gave before.
    supersample_probability: float = 0.0

    # Image-only augmentation (blur, noise, JPEG, skew, rescale); boxes follow exactly.
    augment_probability: float = 0.3
    max_skew_degrees: float = 0.6

    png_compress_level: int = 3  # zlib level for written PNGs: speed vs. size, no effect on pixels
    # Tables without tinted fills are written as 8-bit grey PNGs (lossless, half the time to encode);
    # False writes RGB always.  synth_table/iter_synth always hand out RGB images.
    png_grayscale: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.min_rows <= self.max_rows:
            problems.append("need 1 <= min_rows <= max_rows")
        if not 1 <= self.min_cols <= self.max_cols:
            problems.append("need 1 <= min_cols <= max_cols")
        if not 0 <= self.max_header_rows <= 3:
            problems.append("max_header_rows must be 0..3")
        if not 40 <= self.min_width <= self.max_width:
            problems.append("need 40 <= min_width <= max_width")
        if not 4 <= self.min_font_px <= self.max_font_px or not 4 <= self.financial_min_font_px <= self.financial_max_font_px:
            problems.append("need 4 <= min font px <= max font px")
        if self.bbox_mode not in ("line", "ink"):
            problems.append("bbox_mode must be 'line' or 'ink'")
        if self.max_cell_chars < 1 or self.max_prose_chars < 1:
            problems.append("max_cell_chars and max_prose_chars must be >= 1")
        for name in ("span_probability", "financial_probability", "wide_probability", "augment_probability",
                     "prose_probability", "supersample_probability", "prospectus_probability",
                     "leader_probability", "chinese_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be in [0, 1]")
        for name in ("more_text_kinds", "png_grayscale"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be true or false, not {getattr(self, name)!r}")
        if self.fonts is not None:
            self.fonts = tuple(self.fonts)
        if problems:
            raise ValueError("bad SynthConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SynthConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown SynthConfig field(s): {', '.join(unknown)}")
        return cls(**data)
