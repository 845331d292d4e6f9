"""Table structure, style and geometry for one synthetic table.

``make_spec`` draws the logical table (grid of cells with spans, their content,
roles and alignment) and a :class:`Style`; ``layout`` measures the text with the
real fonts, wraps long cells, sizes columns and rows, and returns a
:class:`Geometry` the renderer draws without further decisions.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from functools import lru_cache

from PIL import ImageFont

from .config import SynthConfig
from .content import ContentMaker, NumberFormat, Run, number_format, format_number
from .fonts import Family, available_families, cjk_families, font, has_glyph


# ---- the logical table -----------------------------------------------------------------


@dataclass
class SpecCell:
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    runs: list[Run] = field(default_factory=list)
    bold: bool = False  # whole-cell <b> ... </b>
    italic: bool = False
    header: bool = False
    role: str = "data"  # head, stub, data, text, section, total
    align: str = "left"  # left, center, right
    indent: int = 0  # px before the text (sub-items of a section)
    leading_space: bool = False  # PubTabNet marks some indents with a leading " " token
    wrappable: bool = True
    prose: bool = False  # running text, allowed up to max_prose_chars

    @property
    def empty(self) -> bool:
        return not any(r.text.strip() for r in self.runs)


@dataclass
class Style:
    profile: str  # "pubtabnet" or "financial"
    family: Family
    font_px: int
    rules: str  # booktabs, grid, rows, header, outer, none
    rule_px: int
    rule_gray: int
    text_gray: int
    header_fill: tuple[int, int, int] | None
    stripe_fill: tuple[int, int, int] | None
    section_fill: tuple[int, int, int] | None
    pad_x: int
    pad_y: int
    line_gap: int
    valign: str  # top, middle, bottom
    header_valign: str
    margin: tuple[int, int, int, int]  # left, top, right, bottom
    group_rules: bool  # short rules under spanning header cells
    total_rules: str  # "", "single", "double"
    spread: float  # share of spare width given out between columns
    hang: int = 0  # px: the continuation lines of a wrapped label are indented this much (prospectuses)
    head_gap: int = 0  # px of blank band above the first body row
    chinese: bool = False  # text set in Chinese (SynthConfig.chinese_probability)
    leader: str = ""  # dot leaders after body labels: "." (dense), ". " or ".  " (spaced); "" for none
    scale: int = 1  # drawn this many times larger than the image it becomes (see SynthConfig.supersample_probability)

    @property
    def colored(self) -> bool:
        """True if any fill is tinted; otherwise the table is drawn (and saved) in 8-bit grey."""
        return any(f is not None and len(set(f)) > 1 for f in (self.header_fill, self.stripe_fill, self.section_fill))

    def describe(self) -> dict:
        return {"profile": self.profile, "font": self.family.name, "font_px": self.font_px, "rules": self.rules,
                "rule_px": self.rule_px, "header_fill": self.header_fill is not None,
                "stripes": self.stripe_fill is not None, "pad": [self.pad_x, self.pad_y], "valign": self.valign,
                "scale": self.scale}


@dataclass
class TableSpec:
    n_rows: int
    n_cols: int
    n_head: int
    cells: list[SpecCell]  # in structure order: by row, then column
    style: Style
    section_rows: set[int] = field(default_factory=set)
    total_rows: set[int] = field(default_factory=set)


def _lognormal_count(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    if lo >= hi:
        return lo
    value = int(round(math.exp(rng.gauss(math.log(median), sigma))))
    return min(hi, max(lo, value))


def make_style(rng: random.Random, config: SynthConfig, financial: bool) -> Style:
    families = available_families(config.fonts)
    if financial:
        # Annual reports and prospectuses: mostly serif, bigger type.
        serif = [f for f in families if f.serif] or list(families)
        family = rng.choice(serif if rng.random() < 0.65 else list(families))
        font_px = rng.randint(config.financial_min_font_px, config.financial_max_font_px)
        rules = rng.choices(["booktabs", "grid", "header", "none", "rows"], weights=(40, 25, 15, 10, 10))[0]
    else:
        family = rng.choice(families)
        font_px = rng.randint(config.min_font_px, config.max_font_px)
        rules = rng.choices(["booktabs", "grid", "rows", "header", "outer", "none"], weights=(52, 12, 10, 10, 8, 8))[0]
    tint = rng.random()
    light = rng.randint(215, 245)
    fill = (light, light, light) if tint < 0.7 else (light - rng.randint(0, 25), light - rng.randint(0, 10), min(255, light + 8))
    double_ok = financial and rng.random() < 0.6
    style = Style(
        profile="financial" if financial else "pubtabnet",
        family=family,
        font_px=font_px,
        rules=rules,
        rule_px=1 if rng.random() < 0.85 else 2,
        rule_gray=rng.choice((0, 0, 0, 40, 90, 130)),
        text_gray=rng.choice((0, 0, 0, 0, 25, 50)),
        header_fill=fill if rng.random() < (0.2 if financial else 0.12) else None,
        stripe_fill=(light + 4,) * 3 if rng.random() < (0.12 if financial else 0.04) and light < 250 else None,
        section_fill=fill if rng.random() < 0.3 else None,
        pad_x=rng.randint(3, 9) if not financial else rng.randint(4, 14),
        pad_y=rng.choice((1, 2, 2, 3)) if not financial else rng.randint(3, 8),
        line_gap=rng.choice((0, 0, 0, 1)) if not financial else rng.randint(1, 6),
        valign=rng.choices(["top", "middle", "bottom"], weights=(50, 40, 10))[0],
        header_valign=rng.choices(["top", "middle", "bottom"], weights=(30, 40, 30 if financial else 10))[0],
        margin=tuple(rng.randint(2, 6) if not financial else rng.randint(3, 10) for _ in range(4)),
        group_rules=rng.random() < (0.7 if financial else 0.3),
        total_rules="double" if double_ok else ("single" if rng.random() < 0.3 else ""),
        spread=rng.choice((0.0, 0.0, 0.5, 1.0, 1.0)),
    )
    # Drawn only when asked for, so that the tables of a seed stay what they were without it.
    if financial and config.prospectus_probability and rng.random() < config.prospectus_probability:
        # As an IPO prospectus sets them (cTDaR's modern tables): a wrapped label hangs, its figures sit
        # level with its last line, and a blank band parts header and body.
        style.valign = style.header_valign = "bottom"
        style.hang = round(font_px * rng.uniform(0.6, 1.5))
        style.head_gap = round(font_px * rng.uniform(0.5, 2.5))
    if financial and config.chinese_probability and rng.random() < config.chinese_probability:
        style.family = rng.choice(cjk_families())
        style.chinese = True
    if financial and config.leader_probability and rng.random() < config.leader_probability:
        style.leader = rng.choice((".", ".", ". ", ".  "))
    return style


def hang(cell: SpecCell, style: Style) -> int:
    """Pixels by which the lines after the first of this cell are indented (a prospectus's wrapped labels)."""
    return style.hang if cell.align == "left" and cell.wrappable and not cell.header else 0


def has_leader(cell: SpecCell, style: Style) -> bool:
    """True if dots run from this cell's last line to its column's edge: the body's one-row labels."""
    return bool(style.leader) and cell.role in ("stub", "total") and cell.align == "left" and (
        cell.rowspan == cell.colspan == 1) and not cell.empty


class _SpecBuilder:
    def __init__(self, rng: random.Random, config: SynthConfig):
        self.rng = rng
        self.config = config
        self.financial = rng.random() < config.financial_probability
        self.style = make_style(rng, config, self.financial)
        family = self.style.family
        self.maker = ContentMaker(rng, lambda ch: has_glyph(family.regular, ch) and has_glyph(family.bold_italic, ch),
                                  finance=self.financial, max_cell_chars=config.max_cell_chars,
                                  more_kinds=config.more_text_kinds, chinese=self.style.chinese)
        self.cells: list[SpecCell] = []
        self.taken: set[tuple[int, int]] = set()

    def add(self, cell: SpecCell) -> SpecCell:
        cell.runs = self.maker.clean(cell.runs, self.config.max_prose_chars if cell.prose else None)
        for r in range(cell.row, cell.row + cell.rowspan):
            for c in range(cell.col, cell.col + cell.colspan):
                self.taken.add((r, c))
        self.cells.append(cell)
        return cell

    # ---- header ----------------------------------------------------------------------
    def header(self, n_head: int, n_cols: int, stub: bool, spans: bool) -> bool:
        """Header rows 0..n_head-1; returns False if this draw left a header row without cells."""
        rng = self.rng
        bold = rng.random() < 0.8
        align = rng.choices(["center", "left", "right"], weights=(50, 35, 15 if not self.financial else 40))[0]
        self.header_bold, self.header_align = bold, align
        start = 0
        if stub:
            start = 1
            mode = rng.choices(["rowspan", "bottom", "top", "empty"], weights=(40, 30, 10, 20))[0] if n_head > 1 else (
                "empty" if rng.random() < 0.15 else "top")
            if mode == "rowspan" and spans:
                self.add(SpecCell(0, 0, n_head, 1, self.maker.first_header(), bold=bold, header=True, role="head"))
            else:
                label_row = {"bottom": n_head - 1, "top": 0, "rowspan": 0}.get(mode, -1)
                for r in range(n_head):
                    runs = self.maker.first_header() if r == label_row else []
                    self.add(SpecCell(r, 0, runs=runs, bold=bold, header=True, role="head", align="left"))
        self._header_level(0, start, n_cols, n_head, spans)
        rows_with_cells = {c.row for c in self.cells}
        return all(r in rows_with_cells for r in range(n_head))

    def _header_level(self, level: int, c0: int, c1: int, n_head: int, spans: bool) -> None:
        rng = self.rng
        if level == n_head - 1 or not spans:
            for c in range(c0, c1):
                if (level, c) in self.taken:
                    continue
                runs = self.maker.header(leaf=True) if rng.random() > 0.03 else []
                self.add(SpecCell(level, c, runs=runs, bold=self.header_bold, header=True, role="head", align=self.header_align))
                # Without spans, the cells under a multi-row header are mostly empty (PubTabNet style).
                for r in range(level + 1, n_head):
                    runs = self.maker.header(leaf=True) if rng.random() < 0.3 else []
                    self.add(SpecCell(r, c, runs=runs, bold=self.header_bold, header=True, role="head", align=self.header_align))
            return
        for g0, g1 in self._partition(c0, c1, whole=level == 0 and rng.random() < 0.15):
            if g1 - g0 == 1 and rng.random() < 0.75:
                self.add(SpecCell(level, g0, rowspan=n_head - level, runs=self.maker.header(leaf=True),
                                  bold=self.header_bold, header=True, role="head", align=self.header_align))
                continue
            runs = self.maker.header(leaf=False) if rng.random() > 0.05 else []
            self.add(SpecCell(level, g0, colspan=g1 - g0, runs=runs, bold=self.header_bold, header=True, role="head",
                              align="center" if rng.random() < 0.8 else self.header_align))
            self._header_level(level + 1, g0, g1, n_head, spans)

    def _partition(self, c0: int, c1: int, whole: bool) -> list[tuple[int, int]]:
        if whole or c1 - c0 <= 2:
            return [(c0, c1)]
        groups = []
        c = c0
        while c < c1:
            size = min(c1 - c, self.rng.choice((1, 2, 2, 2, 3, 3, 4)))
            groups.append((c, c + size))
            c += size
        if all(g1 - g0 == 1 for g0, g1 in groups):
            groups = [(c0, c0 + 2)] + [(c, c + 1) for c in range(c0 + 2, c1)]
        return groups

    # ---- body ------------------------------------------------------------------------
    def body(self, n_head: int, n_rows: int, n_cols: int, stub: bool, spans: bool, features: set[str]) -> tuple[set, set]:
        rng = self.rng
        maker = self.maker
        first_data = 1 if stub else 0
        group_col = "row_groups" in features and n_cols - first_data >= 2
        label_cols = [0, 1] if group_col else [0] if stub else []
        data_cols = [c for c in range(n_cols) if c not in label_cols]
        formats: dict[int, NumberFormat | None] = {}
        for c in data_cols:
            formats[c] = None if rng.random() < (0.12 if not self.financial else 0.03) else number_format(rng, self.financial, maker.currency)
        prose_cols: set[int] = set()
        if "prose" in features and data_cols:
            prose_cols = set(rng.sample(data_cols, 1 if len(data_cols) < 3 or rng.random() < 0.7 else 2))
            for c in prose_cols:
                formats[c] = None
        number_align = rng.choices(["center", "right", "left"], weights=(45, 25, 30) if not self.financial else (10, 85, 5))[0]
        empty_rate = rng.choices([0.0, rng.uniform(0.02, 0.15), rng.uniform(0.15, 0.5)], weights=(55, 35, 10))[0]
        empty_rate = min(0.9, empty_rate * self.config.empty_cell_scale)
        column_empty = {c: min(0.95, empty_rate * rng.choice((0.3, 1, 1, 1, 2.5))) for c in data_cols}

        section_mode = ""
        if "sections" in features:
            section_mode = "span" if spans and rng.random() < 0.6 else "label"
        elif rng.random() < 0.15:
            section_mode = "label"
        indent = rng.randint(6, 16) if rng.random() < 0.75 else 0
        leading_space = indent > 0 and rng.random() < 0.5
        section_bold = rng.random() < 0.55
        section_italic = not section_bold and rng.random() < 0.4
        merges = "merges" in features
        total = rng.random() < (0.15 if not self.financial else 0.45) and n_rows - n_head >= 3
        section_rows: set[int] = set()
        total_rows: set[int] = set()

        next_section = n_head + (0 if rng.random() < 0.6 else rng.randint(1, 4))
        in_section = False
        r = n_head
        while r < n_rows:
            is_last = r == n_rows - 1
            if section_mode and r == next_section and not (is_last and r > n_head):
                section_rows.add(r)
                next_section = r + 1 + rng.randint(2, 8)
                in_section = True
                if section_mode == "span" and n_cols > 1 and not any((r, c) in self.taken for c in range(n_cols)):
                    self.add(SpecCell(r, 0, colspan=n_cols, runs=maker.section(), bold=section_bold,
                                      italic=section_italic, role="section", align="left" if rng.random() < 0.85 else "center"))
                    r += 1
                    continue
                for c in range(n_cols):
                    if (r, c) in self.taken:
                        continue
                    if c == 0:
                        cell = SpecCell(r, 0, runs=maker.section(), bold=section_bold, italic=section_italic, role="section")
                    elif c == n_cols - 1 and rng.random() < 0.25 and formats.get(c):
                        cell = SpecCell(r, c, runs=format_number(maker, formats[c]), role="data", align=number_align, wrappable=False)
                    else:
                        cell = SpecCell(r, c, role="data", align=number_align)
                    self.add(cell)
                r += 1
                continue
            if total and is_last:
                total_rows.add(r)
            for c in range(n_cols):
                if (r, c) in self.taken:
                    continue
                if group_col and c == 0:
                    span = min(n_rows - r, rng.randint(2, 5))
                    while span > 1 and any((rr, 0) in self.taken or rr in section_rows for rr in range(r, r + span)):
                        span -= 1
                    if r + span > next_section and section_mode:
                        span = max(1, next_section - r)
                    self.add(SpecCell(r, 0, rowspan=span, runs=maker.label(3), role="stub",
                                      bold=rng.random() < 0.2, align="left" if rng.random() < 0.7 else "center"))
                    continue
                if c in label_cols:
                    if r in total_rows and c == label_cols[-1]:
                        runs = [Run(rng.choice(("Total", "Overall", "All", "Sum", "Total assets", "Net total")))]
                    else:
                        runs = maker.label(self.config.max_label_words)
                    sub = in_section and section_mode == "label" and c == label_cols[-1]
                    self.add(SpecCell(r, c, runs=runs, role="total" if r in total_rows else "stub",
                                      bold=r in total_rows and rng.random() < 0.5, align="left",
                                      indent=indent if sub else 0, leading_space=sub and leading_space))
                    continue
                if merges and c + 1 < n_cols and c + 1 in data_cols and (r, c + 1) not in self.taken and rng.random() < 0.08:
                    self.add(SpecCell(r, c, colspan=2, runs=maker.text_value() if rng.random() < 0.5 else
                                      format_number(maker, formats[c] or number_format(rng, self.financial, maker.currency)),
                                      role="text", align="center"))
                    continue
                if merges and r + 1 < n_rows and (r + 1, c) not in self.taken and r + 1 not in section_rows \
                        and rng.random() < 0.03 and not (total and r + 1 == n_rows - 1):
                    self.add(SpecCell(r, c, rowspan=2, runs=maker.text_value(), role="text", align="center"))
                    continue
                fmt = formats[c]
                if rng.random() < column_empty[c]:
                    self.add(SpecCell(r, c, role="data", align=number_align))
                elif c in prose_cols:
                    self.add(SpecCell(r, c, runs=maker.prose(self.config.max_prose_chars), role="text", align="left",
                                      prose=True))
                elif fmt is None:
                    self.add(SpecCell(r, c, runs=maker.text_value(), role="text",
                                      align="left" if rng.random() < 0.7 else number_align))
                else:
                    self.add(SpecCell(r, c, runs=format_number(maker, fmt), role="data", align=number_align,
                                      wrappable=rng.random() < 0.3, bold=r in total_rows and rng.random() < 0.5))
            r += 1
        return section_rows, total_rows


def enlarged_config(config: SynthConfig, scale: int) -> SynthConfig:
    """The config a supersampled table is drawn with: font sizes and target widths ``scale`` times larger."""
    names = ("min_width", "max_width", "wide_max_width", "financial_min_width", "financial_max_width",
             "min_font_px", "max_font_px", "financial_min_font_px", "financial_max_font_px")
    return replace(config, **{name: getattr(config, name) * scale for name in names})


def enlarge_spec(spec: TableSpec, scale: int) -> None:
    """Scale a spec's other pixel sizes (paddings, gaps, margins, indents; rules when drawn) to match."""
    style = spec.style
    style.scale = scale
    style.pad_x, style.pad_y, style.line_gap = style.pad_x * scale, style.pad_y * scale, style.line_gap * scale
    style.margin = tuple(m * scale for m in style.margin)
    for cell in spec.cells:
        cell.indent *= scale


def make_spec(rng: random.Random, config: SynthConfig) -> TableSpec:
    """Draw one logical table: shape, spans, content, roles and style."""
    for _attempt in range(8):
        builder = _SpecBuilder(rng, config)
        n_rows = _lognormal_count(rng, config.median_rows, 0.7, config.min_rows, config.max_rows)
        median_cols = config.median_cols * (1.15 if builder.financial else 1.0)
        n_cols = _lognormal_count(rng, median_cols, 0.45, config.min_cols, config.max_cols)
        n_head = rng.choices([0, 1, 2, 3], weights=(6, 64, 24, 6))[0]
        n_head = min(n_head, config.max_header_rows, max(0, n_rows - 1))
        stub = n_cols > 1 and rng.random() < 0.92 or n_cols == 1
        spans = rng.random() < config.span_probability
        features: set[str] = set()
        if spans:
            data_cols = n_cols - (1 if stub else 0)
            if n_head >= 2 and data_cols < 2:
                n_head = 1
            if n_head < 2 and data_cols >= 2 and n_rows >= 4 and config.max_header_rows >= 2 and rng.random() < 0.35:
                n_head = 2
            options = ["sections", "row_groups", "merges"]
            weights = (50, 20, 15) if n_head >= 2 else (60, 30, 25)
            for name, weight in zip(options, weights):
                if rng.random() * 100 < weight:
                    features.add(name)
            if n_head < 2 and not features and n_cols > 1:
                features.add("sections" if n_rows - n_head >= 3 else "merges")
        else:
            n_head = min(n_head, 1) if rng.random() < 0.85 else n_head
        # Drawn only when asked for, so that with prose off every seed gives the tables it always gave.
        if config.prose_probability > 0 and rng.random() < config.prose_probability:
            features.add("prose")
            n_rows = min(n_rows, n_head + rng.randint(2, 9))  # rows of several lines each: few of them
        if n_head and not builder.header(n_head, n_cols, stub, spans):
            continue
        section_rows, total_rows = builder.body(n_head, n_rows, n_cols, stub, spans, features)
        cells = sorted(builder.cells, key=lambda c: (c.row, c.col))
        return TableSpec(n_rows, n_cols, n_head, cells, builder.style, section_rows, total_rows)
    raise RuntimeError("could not draw a table header")  # pragma: no cover - every attempt failing is astronomically rare


# ---- geometry ----------------------------------------------------------------------------


@dataclass
class Frag:
    """One drawn piece of text: same font, one line; x is relative to the line start, dy to the baseline."""

    text: str
    font: ImageFont.FreeTypeFont
    x: int
    dy: int


@dataclass
class Line:
    frags: list[Frag]
    width: int
    top: int  # above the baseline (negative)
    bottom: int  # below the baseline

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass
class Geometry:
    width: int
    height: int
    x_edges: list[int]
    y_edges: list[int]
    lines: list[list[Line]]  # per spec cell
    ascent: int
    descent: int


# Every glyph the content generator can emit: a line box from these never cuts ink.
_TALL_CHARS = "()[]gjpqyQ§µ°±≤≥βγδλμχ′✓†‡%$/"


def line_extent(fnt: ImageFont.FreeTypeFont) -> tuple[int, int]:
    """(top, bottom) of a line in this font relative to the baseline: the font's ascent/descent or its ink."""
    return _line_extent(fnt.path, fnt.size)


@lru_cache(maxsize=1024)
def _line_extent(path: str, size: int) -> tuple[int, int]:
    fnt = font(path, size)
    ascent, descent = fnt.getmetrics()
    _l, top, _r, bottom = fnt.getbbox(_TALL_CHARS, anchor="ls")
    return min(-ascent, top), max(descent, bottom)


@dataclass
class _Word:
    pieces: list[tuple[str, ImageFont.FreeTypeFont, int, float]]  # text, font, dy, advance
    width: float
    top: int
    bottom: int
    glue: bool = False  # follows the word before with no space (Chinese characters)


def _is_wide(ch: str) -> bool:
    """Chinese characters and full-width punctuation: a line may break before each (see _Measurer.words)."""
    return ch >= "\u2e80"


_NO_BREAK_BEFORE = set("，。、：；）》”！？")


def _break_chunks(chunk: str) -> list[str]:
    """A space-free chunk in the pieces a line may break between: every wide character on its own
    (closing punctuation kept with the character before), runs of narrow characters whole."""
    if not any(_is_wide(ch) for ch in chunk):
        return [chunk]
    pieces: list[str] = []
    for ch in chunk:
        if pieces and (ch in _NO_BREAK_BEFORE or not _is_wide(ch) and not _is_wide(pieces[-1][-1])):
            pieces[-1] += ch
        else:
            pieces.append(ch)
    return pieces


class _Measurer:
    def __init__(self, style: Style):
        self.style = style
        px = style.font_px
        self.small_px = max(5, round(px * 0.7))
        self.main = font(style.family.regular, px)
        ascent, descent = self.main.getmetrics()
        self.ascent, self.descent = ascent, descent
        self.space = self.main.getlength(" ")
        self.line_top, self.line_bottom = line_extent(self.main)
        self._lengths: dict[tuple[int, str], float] = {}

    def length(self, fnt: ImageFont.FreeTypeFont, text: str) -> float:
        # Cached per table only: a process-wide cache would pin evicted fonts in memory.
        key = (id(fnt), text)
        value = self._lengths.get(key)
        if value is None:
            value = self._lengths[key] = fnt.getlength(text)
        return value

    def font_for(self, bold: bool, italic: bool, script: str) -> tuple[ImageFont.FreeTypeFont, int]:
        px = self.style.font_px
        size = self.small_px if script else px
        dy = -round(px * 0.38) if script == "sup" else round(px * 0.2) if script == "sub" else 0
        return font(self.style.family.path(bold, italic), size), dy

    def words(self, cell: SpecCell) -> list[_Word]:
        """Split a cell's runs into space-separated words, each a list of same-font pieces."""
        words: list[_Word] = []
        pieces: list[tuple[str, ImageFont.FreeTypeFont, int, float]] = []
        top, bottom = self.line_top, self.line_bottom

        glue = False

        def flush(glue_next: bool = False) -> None:
            nonlocal pieces, top, bottom, glue
            if pieces:
                words.append(_Word(pieces, sum(p[3] for p in pieces), top, bottom, glue))
            pieces, top, bottom = [], self.line_top, self.line_bottom
            glue = glue_next

        for run in cell.runs:
            fnt, dy = self.font_for(cell.bold or run.bold, cell.italic or run.italic, run.script)
            for i, chunk in enumerate(run.text.split(" ")):
                if i > 0:
                    flush()
                for k, piece in enumerate(_break_chunks(chunk) if chunk else []):
                    if k > 0:
                        flush(glue_next=True)  # Chinese: a possible line break, no space
                    pieces.append((piece, fnt, dy, self.length(fnt, piece)))
                    f_top, f_bottom = line_extent(fnt)
                    top = min(top, dy + f_top)
                    bottom = max(bottom, dy + f_bottom)
        flush()
        return words

    def wrap(self, words: list[_Word], max_width: float, hang: float = 0) -> list[Line]:
        """Greedy line breaking; lines after the first are ``hang`` narrower (see ``hang``)."""
        lines: list[Line] = []
        current: list[_Word] = []
        width = 0.0
        for word in words:
            extra = word.width + (self.space if current and not word.glue else 0)
            if current and width + extra > max_width - (hang if lines else 0):
                lines.append(self._line(current))
                current, width = [word], word.width
            else:
                current.append(word)
                width += extra
        if current:
            lines.append(self._line(current))
        return lines

    def _line(self, words: list[_Word]) -> Line:
        # Neighbouring pieces in the same font become one draw call (spaces included): far fewer
        # calls, and the box still comes from exactly what is drawn.
        frags: list[Frag] = []
        x = 0.0
        for i, word in enumerate(words):
            for j, (text, fnt, dy, advance) in enumerate(word.pieces):
                joiner = " " if i and j == 0 and not word.glue else ""
                last = frags[-1] if frags else None
                if last is not None and last.font is fnt and last.dy == dy:
                    last.text += joiner + text
                else:
                    frags.append(Frag(text, fnt, int(round(x + (self.space if joiner else 0))), dy))
                x += advance + (self.space if joiner else 0)
        return Line(frags, int(math.ceil(x)), min(w.top for w in words), max(w.bottom for w in words))


def layout(spec: TableSpec, rng: random.Random, config: SynthConfig) -> Geometry:
    """Measure, wrap and place every cell; column widths aim at a target image width."""
    style = spec.style
    n_cols, n_rows = spec.n_cols, spec.n_rows
    pad_x, pad_y = style.pad_x, style.pad_y

    # Target width for the whole image, then the content budget for the columns.
    if style.profile == "financial":
        target = rng.uniform(config.financial_min_width, config.financial_max_width)
    elif rng.random() < config.wide_probability:
        target = rng.uniform(config.max_width, max(config.max_width, config.wide_max_width))
    else:
        target = rng.uniform(config.min_width, config.max_width)
    margin_l, margin_t, margin_r, margin_b = style.margin
    fixed = margin_l + margin_r + n_cols * 2 * pad_x
    smallest_px = config.financial_min_font_px if style.profile == "financial" else config.min_font_px
    estimate = _estimated_width(spec)  # cheap guess from character counts, to measure only once
    if estimate > 1.25 * (target - fixed) and style.font_px > smallest_px and rng.random() < 0.7:
        # Wide content: typesetters shrink the type before they wrap everything.
        style.font_px = max(smallest_px, int(style.font_px * 1.25 * (target - fixed) / estimate))
    m, words, natural, min_width = _measure(spec)
    col_nat, col_min = _column_widths(spec, natural, min_width)
    if sum(col_nat) + fixed < target and rng.random() < 0.6:
        # Narrow content: most such tables are set at their natural width (plus some air), not page-wide.
        target = (sum(col_nat) + fixed) * rng.uniform(1.0, 1.6)
    elif rng.random() < 0.6:
        # Authors set widths so that little wraps: aim near the one-line width (within reason).
        limit = config.financial_max_width if style.profile == "financial" else config.max_width
        target = max(target, min(limit, (sum(col_nat) + fixed) * rng.uniform(0.85, 1.0)))
    budget = target - fixed
    # The stub (label) column is the last to wrap: typesetters give it the room.
    weights = [1.0] * n_cols
    for cell in spec.cells:
        if cell.role in ("stub", "total") and cell.colspan == 1:
            weights[cell.col] = 1.0 if style.hang else 3.0  # prospectuses let long labels wrap instead
        elif cell.prose:
            weights[cell.col] = 4.0  # and running text gets the widest column, as typeset
    widths = _fit_columns(col_nat, col_min, budget, weights)
    if style.leader and any(has_leader(c, style) and c.col == 0 for c in spec.cells):
        widths[0] *= rng.uniform(1.1, 1.6)  # the label column of a leadered table has room for the dots
    if sum(widths) < budget and style.spread > 0:
        spare = (budget - sum(widths)) * style.spread
        widths = [w + spare / n_cols for w in widths]

    # Spanning cells: wrap into the spanned width if they can, else widen the columns.
    order = sorted(range(len(spec.cells)), key=lambda i: spec.cells[i].colspan)
    for i in order:
        cell = spec.cells[i]
        if cell.colspan == 1:
            continue
        cols = range(cell.col, cell.col + cell.colspan)
        avail = sum(widths[c] for c in cols) + 2 * pad_x * (cell.colspan - 1)
        need = min_width[i] if natural[i] > avail else natural[i]
        if need > avail:
            for c in cols:
                widths[c] += (need - avail) / cell.colspan
    widths = [int(math.ceil(w)) for w in widths]

    x_edges = [margin_l]
    for w in widths:
        x_edges.append(x_edges[-1] + w + 2 * pad_x)

    # Wrap every cell into its final width, then size the rows.
    lines: list[list[Line]] = []
    for cell, ws in zip(spec.cells, words):
        avail = x_edges[cell.col + cell.colspan] - x_edges[cell.col] - 2 * pad_x - cell.indent
        lines.append(m.wrap(ws, avail, hang(cell, style)) if cell.wrappable else ([m._line(ws)] if ws else []))
    line_gap = style.line_gap
    one_line = m.line_bottom - m.line_top
    heights = [max(1, sum(ln.height for ln in ls) + line_gap * (len(ls) - 1)) for ls in lines]
    row_h = [one_line + 2 * pad_y] * n_rows
    for cell, h in zip(spec.cells, heights):
        if cell.rowspan == 1:
            row_h[cell.row] = max(row_h[cell.row], h + 2 * pad_y)
    for cell, h in zip(spec.cells, heights):
        if cell.rowspan > 1:
            rows = range(cell.row, cell.row + cell.rowspan)
            have = sum(row_h[r] for r in rows) - 2 * pad_y
            if h > have:
                row_h[rows[-1]] += h - have
    if 0 < spec.n_head < n_rows:
        row_h[spec.n_head] += style.head_gap
    y_edges = [margin_t]
    for h in row_h:
        y_edges.append(y_edges[-1] + h)
    return Geometry(x_edges[-1] + margin_r, y_edges[-1] + margin_b, x_edges, y_edges, lines, m.ascent, m.descent)


@lru_cache(maxsize=256)
def _mean_char_width(path: str, size: int) -> float:
    sample = "the quick brown fox jumps over 0123456789 (1.2–3.4) Lazy Dogs"
    return font(path, size).getlength(sample) / len(sample)


def _estimated_width(spec: TableSpec) -> float:
    """One-line width of the widest single-column cell per column, from character counts."""
    per_char = _mean_char_width(spec.style.family.regular, spec.style.font_px)
    widest = [0] * spec.n_cols
    for cell in spec.cells:
        if cell.colspan == 1:
            # Running text wraps anyway: it should not make the type shrink.
            chars = sum(len(r.text) for r in cell.runs)
            widest[cell.col] = max(widest[cell.col], min(chars, 40) if cell.prose else chars)
    return per_char * sum(widest)


def _measure(spec: TableSpec) -> tuple[_Measurer, list[list[_Word]], list[float], list[float]]:
    """Words of every cell, its one-line width, and the narrowest width it can wrap to."""
    m = _Measurer(spec.style)
    words = [m.words(c) for c in spec.cells]
    natural = [(_single_width(w, m.space) + c.indent) for c, w in zip(spec.cells, words)]
    # A hanging label's widest word must fit on a continuation line, after the hang.
    min_width = [
        (max((w.width for w in ws), default=0) + c.indent + hang(c, spec.style)) if c.wrappable else nat
        for c, ws, nat in zip(spec.cells, words, natural)
    ]
    return m, words, natural, min_width


def _column_widths(spec: TableSpec, natural: list[float], min_width: list[float]) -> tuple[list[float], list[float]]:
    col_nat = [0.0] * spec.n_cols
    col_min = [0.0] * spec.n_cols
    for cell, nat, mn in zip(spec.cells, natural, min_width):
        if cell.colspan == 1:
            col_nat[cell.col] = max(col_nat[cell.col], nat)
            col_min[cell.col] = max(col_min[cell.col], mn)
    return col_nat, col_min


def _single_width(words: list[_Word], space: float) -> float:
    return sum(w.width for w in words) + space * sum(1 for w in words[1:] if not w.glue)


def _fit_columns(natural: list[float], minimum: list[float], budget: float, weights: list[float]) -> list[float]:
    """Water-fill: cap the widest columns (they wrap) until the columns fit the budget, never below minimum.

    Column c is capped at ``cap * weights[c]``, so heavier columns keep more of their width.
    """
    if sum(natural) <= budget:
        return list(natural)
    lo, hi = 0.0, max(natural)
    for _ in range(30):
        cap = (lo + hi) / 2
        total = sum(max(mn, min(nat, cap * w)) for nat, mn, w in zip(natural, minimum, weights))
        if total > budget:
            hi = cap
        else:
            lo = cap
    return [max(mn, min(nat, lo * w)) for nat, mn, w in zip(natural, minimum, weights)]
