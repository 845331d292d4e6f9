"""Snapping predicted cell boxes to the ink of the page.

The box head places a cell from the structure decoder's state over a 36 x 36 feature grid: it knows
*which* row and column a cell is in, but not exactly where: on held-out synthetic tables the centre of
44 % of its boxes is more than half the cell's height off (``scripts/reading_oracle.py``, numbers in
docs/model.md).  The cell reader then crops the wrong line.  The page itself says exactly where the text lines are, so:

1. Binarise the page and remove rules: long horizontal and vertical ink runs, and thin bands of
   pixel rows with ink across most of the table (a rule broken up by noise or blur), unless it is
   the foot of a long line of text.
2. Find the text lines: runs of pixel rows with ink.
3. Align the table's logical rows to the text lines, in order (dynamic programming): each row takes
   a contiguous group of lines (several for cells of several lines), a line may be left out (a title,
   a speck) and a row may get none (an empty row), each at a cost; otherwise the cost is how far
   where the box head put the row lies outside the group, plus the gaps inside the group, plus
   how much two lines look like two rows (they cover the same columns) when grouped, or like one
   cell when split, plus a high price for a group with a horizontal rule inside it (rules run
   between rows, never through one).
4. Find the columns on the page: the runs of x that hold ink in two or more rows without a cell
   spanning columns, given to the logical columns in order by the same alignment, anchored where
   the box head put each column (a vertical rule never inside one).  Where the page does not
   show a column, its extent is the median of the predicted boxes of its cells.  A column that
   took two runs with a wide gutter between them, a word on each side in most rows, is a column
   the structure lacks (``Snapped.missing_columns``).
5. With the columns known, align the rows again, now also judging each gap between two lines by the
   columns the two fill (``new_row_shares``: shares of a new row counted on synthetic tables).
   Two rows the page shows as one cell's lines are reported (``Snapped.joined_rows``), and so are
   spanning cells whose words stand in separate columns (``Snapped.split_cells``), cells whose text
   runs on into the next column (``Snapped.joined_cells``) and rows the structure lacks
   (``Snapped.missing_rows``).
6. Within each row's lines, split the ink into words (runs of ink columns) and give every word to the
   cell of that row whose columns it overlaps most (or is nearest to).
7. A cell's box spans its words across and their text lines down, each line at least as tall as the
   line boxes the reader was trained on (``LINE_BOX_HEIGHT``).  A cell that gets no word (most likely
   an empty one) keeps its predicted columns and gets its rows' lines; it is still read, unless its box
   lies on words given to another cell of its rows (``Snapped.read_elsewhere``: it would read them twice).

Everything is NumPy on the page as the crop reader sees it (``prepare_page``: ink 0..255).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

# Costs of the row alignment, in units of the line pitch (the median distance between lines).
SKIP_LINE_COST = 3.0  # a text line that belongs to no row
SKIP_COLUMN_COST = 1.5  # and for each column it fills after the first, once the columns are known
EMPTY_ROW_COST = 8.0  # a row that gets no text line
GAP_COST = 2.0  # per line pitch of blank between two lines put in one row
ALIKE_COST = 1.0  # lines that look like two rows put in one, or like one row split in two
RULE_INSIDE_COST = 6.0  # a row whose lines have a horizontal rule between them
ANCHOR_COST_CAP = 0.5  # beyond half a line pitch the box head's row position says no more (it drifts by lines)
COLUMN_GAP_WEIGHT = 2.0  # the second alignment: the weight of the column evidence added to the first's costs
# The column alignment (units: the median distance between runs of column ink).  The box head errs
# less across than down, so its column positions count for up to two pitches.
COLUMN_ANCHOR_CAP = 2.0
EMPTY_COLUMN_COST = 2.0  # a column with no ink of its own (all its cells empty or in spanning rows)
COLUMN_JOIN = 1.0  # runs of column ink closer than this many text heights are one column's
MIN_COLUMN_INK = 0.5  # narrower runs (text heights) are specks
MAX_LINES_PER_ROW = 16
# The reader was trained on crops of annotated boxes: a font's line box, ascent to descent, about 1.7
# text heights tall (median over the held-out synthetic tables and the PubTabNet examples alike).  A
# line's ink is shorter (1.2-1.3: no descenders in "1.54"), which shows the reader larger text than
# it learnt on, so each line is padded, about its centre, to this height.
LINE_BOX_HEIGHT = 1.7
# A crop holds about 20 text heights of a line before it must shrink the text (32 x 256 crops of a
# 1.7-text-height line with half a line box of margin each side: 32 / 3.4 pixels per text height, 256
# wide less margins); wider lines are read in pieces cut between words.
MAX_PIECE_WIDTH = 20.0
# Two rows whose lines meet at a gap where a new row starts less often than this (``new_row_shares``:
# one line's columns within the other's, closer than 0.8 of the row gap) are one row split in two.
JOINED_ROW_SHARE = 0.1
# A text line that no row took is a row the structure lacks (``Snapped.missing_rows``) if it is at
# least this share of the distance between rows from the lines above and below it.
MISSING_ROW_GAP = 0.6
# Words of two cells side by side are further apart than a word space (about 0.3-0.5 text heights).
SPLIT_GAP = 1.5
# Cells are joined only in tables of this many rows or more: the columns' ink of fewer rows may be
# that of a single cell.
JOIN_MIN_ROWS = 4
SYMBOL_WIDTH = 1.0  # text heights: a "$" is about 0.8 wide
WORD_SPACE = 0.6  # text heights: a space in running text is about 0.4 (Arial: 0.28 em, capitals 0.72 em)
# A column that took two runs of column ink is two columns (``Snapped.missing_columns``) if at least
# this share of the rows with ink in it have a word on each side of the gap between them.
NEW_COLUMN_FILL = 0.5
NEW_COLUMN_GAP = 1.5  # text heights: the gap is wider than a word space (1.25 and 2.0 measured worse)
NEW_COLUMN_ROWS = 3  # rows with ink in the column, at least
RULE_ACROSS = 0.6  # a rule under a header runs across this share of the table's width, at least


class MissingRow(NamedTuple):
    """A row the structure lacks (``Snapped.missing_rows``); top and bottom normalised."""

    row: int  # the logical row it goes before
    top: float
    bottom: float
    label: bool  # its words stand in the first column alone: a section label
    columns: int  # how many columns its words fill


@dataclass
class MissingColumn:
    """A logical column that the page shows as two (``Snapped.missing_columns``); x normalised."""

    column: int
    gap: tuple[float, float]  # the gutter between the two: its left and right x
    right: float  # the right end of the column's ink
    # Cells ending in the column whose text runs across the gap: a header over both columns most often.
    across: list[int]


@dataclass
class Snapped:
    boxes: np.ndarray  # (C, 4) normalised x0, y0, x1, y1: the words of each cell, or the predicted box
    # Per cell, the boxes (normalised) to read it from one after another: one per text line, long
    # lines cut between words into pieces of at most MAX_PIECE_WIDTH; [] for a cell with no words.
    pieces: list[list[tuple[float, float, float, float]]]
    # Rows r whose next row r + 1 the page shows as part of r: lines of one cell, split between two
    # rows (``structure_edits.join_rows`` joins them).
    joined_rows: list[int] = field(default_factory=list)
    # Spanning cells whose words are the text of separate cells, one per column it spans: cell ->
    # each column's extent (normalised x0, x1) (``structure_edits.split_cells`` splits them).
    split_cells: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    # Logical columns in which no cell got a word, or that the page shows no ink of and whose words
    # all lie in the ink of a neighbouring column (``structure_edits.drop_columns`` drops them).
    empty_columns: list[int] = field(default_factory=list)
    # Cells that got no word but whose box lies on words given to another cell of their rows: read,
    # they would read those words a second time (they are left empty).
    read_elsewhere: list[int] = field(default_factory=list)
    # Rows the structure lacks: a text line between two rows that no row took (a section label the
    # decoder left out, most of all), or the second of two rows the decoder wrote as one
    # (``structure_edits.insert_rows`` inserts them).
    missing_rows: list[MissingRow] = field(default_factory=list)
    # Cells whose text runs on into the cell beside them, past the start of that column's ink: one
    # cell spanning both (a table's columns are as wide as their widest cell, so no single cell's text
    # reaches into the next column): (cell, the cell to its right) (``structure_edits.join_cells``).
    joined_cells: list[tuple[int, int]] = field(default_factory=list)
    # Columns that hold nothing but a currency sign set apart from its figure ("$   45,687") in each
    # row that has one: the sign belongs to the figure's cell (``structure_edits.drop_columns``
    # drops them, the figures' cells taking in the signs).
    symbol_columns: list[int] = field(default_factory=list)
    # Columns the structure lacks: logical columns whose ink the page shows as two columns, each
    # filled in most rows (a column the decoder left out) (``structure_edits.insert_columns``).
    missing_columns: list[MissingColumn] = field(default_factory=list)
    # The first row with a rule across the table above it (between it and the row before), or None:
    # the rule under a header of several rows (``structure_edits.extend_header``).
    ruled_row: int | None = None

    @property
    def has_ink(self) -> np.ndarray:
        """(C,) bool: words were given to the cell."""
        return np.array([bool(p) for p in self.pieces], dtype=bool)


def binarize(page: np.ndarray) -> np.ndarray:
    """Ink mask of a page (uint8, 0 = paper) by Otsu's threshold, kept between light fills and text."""
    hist = np.bincount(page.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight0 = np.cumsum(hist)
    weight1 = weight0[-1] - weight0
    mean0 = np.cumsum(hist * levels) / np.maximum(weight0, 1)
    mean1 = (np.sum(hist * levels) - np.cumsum(hist * levels)) / np.maximum(weight1, 1)
    threshold = int(np.argmax(weight0 * weight1 * (mean0 - mean1) ** 2))
    return page > min(max(threshold, 48), 160)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of True along axis 1 of a 2D mask: (line index, start, end) arrays."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    line, start = np.nonzero(step == 1)
    _, end = np.nonzero(step == -1)
    return line, start, end


def _drop_runs(mask: np.ndarray, min_length: int) -> np.ndarray:
    """``mask`` without its runs (along axis 1) of at least ``min_length``."""
    line, start, end = _runs(mask)
    long = (end - start) >= min_length
    delta = np.zeros((mask.shape[0], mask.shape[1] + 1), dtype=np.int32)
    np.add.at(delta, (line[long], start[long]), 1)
    np.add.at(delta, (line[long], end[long]), -1)
    return mask & (np.cumsum(delta, axis=1)[:, :-1] == 0)


def _thin_rule_rows(ink: np.ndarray, min_length: int, text_height: float) -> np.ndarray:
    """Per pixel row: a horizontal rule runs along it, i.e. an ink run of ``min_length`` or more whose
    pixels are nearly all thin down (a bold word at a small size can make a long run too, but thick).
    """
    col, vstart, vend = _runs(ink.T)
    vertical = np.zeros((ink.shape[1], ink.shape[0] + 1), dtype=np.int32)  # each pixel's vertical run length
    np.add.at(vertical, (col, vstart), vend - vstart)
    np.add.at(vertical, (col, vend), -(vend - vstart))
    # Thin: at most 2 pixels (or 0.4 text heights) down; 3 took the x-height of text 5 pixels tall,
    # blurred into long runs, for rules.
    thin = ink & (np.cumsum(vertical, axis=1)[:, :-1].T <= max(2, int(0.4 * text_height)))
    thin_before = np.concatenate([np.zeros((ink.shape[0], 1), dtype=np.int64), np.cumsum(thin, axis=1)], axis=1)
    line, start, end = _runs(ink)
    long = (end - start) >= min_length
    line, start, end = line[long], start[long], end[long]
    thin_share = (thin_before[line, end] - thin_before[line, start]) / np.maximum(end - start, 1)
    rows = np.zeros(ink.shape[0], dtype=bool)
    rows[line[thin_share >= 0.7]] = True
    return rows


def _window_counts(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """How many True pixels each ``height`` x ``width`` window of ``mask`` holds, indexed by the window's
    top-left corner: shape (H - height + 1, W - width + 1)."""
    total = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int32)
    np.cumsum(np.cumsum(mask, axis=0, dtype=np.int32), axis=1, out=total[1:, 1:])
    return total[height:, width:] - total[:-height, width:] - total[height:, :-width] + total[:-height, :-width]


def filled_areas(ink: np.ndarray) -> np.ndarray:
    """Pixels of solid ink areas (a shaded header band, a dark fill behind white text): every window
    of 4 pixel rows by 40 pixels (or an eighth of the page's width) that is all ink, and what it covers.
    Rules are thinner and characters narrower, so neither counts."""
    height, width = 4, max(40, ink.shape[1] // 8)
    filled = np.zeros(ink.shape, dtype=bool)
    if ink.shape[0] < height or ink.shape[1] < width:
        return filled
    solid = _window_counts(ink, height, width) == height * width
    if not solid.any():
        return filled
    # Each all-ink window covers the pixels up to height-1 rows below and width-1 columns right of
    # its top-left corner: count the corners in the window that ends at each pixel.
    corners = np.zeros((ink.shape[0] + height - 1, ink.shape[1] + width - 1), dtype=bool)
    corners[height - 1: height - 1 + solid.shape[0], width - 1: width - 1 + solid.shape[1]] = solid
    return _window_counts(corners, height, width) > 0


def remove_rules(ink: np.ndarray, filled: np.ndarray | None = None) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Ink without table rules, the text height (pixels) it was judged by, per pixel row whether a
    horizontal rule runs along it, and per pixel column whether a vertical one runs down it.
    ``filled``: the ink's ``filled_areas``, if the caller has them already.

    Text height: the 98th percentile of vertical ink runs outside filled areas, about the height of
    a capital or an ascender (character strokes far outnumber rules).  A rule is a horizontal run of five text heights
    or a vertical one of two and a half, both found on the raw ink (so a grid's rules stay long where
    they cross), or a thin band of pixel rows with ink across half the table's width or more, all
    widened by a pixel to take the anti-aliased fringe of a slightly rotated rule.  The horizontal
    rows flagged are those of thin rules only (``_thin_rule_rows``), never of bold text.
    """
    # Filled areas are left out of the text height: a shaded header band 18 pixels tall over text 7
    # tall made every line box 2.6 times too tall (PubTabNet PMC5332562_005_00).
    _, start, end = _runs((ink & ~(filled_areas(ink) if filled is None else filled)).T)
    lengths = end - start
    text_height = max(float(np.percentile(lengths, 98)) if lengths.size else 10.0, 4.0)
    rule_length = max(int(5 * text_height), 20)
    rules = ~_drop_runs(ink, rule_length) & ink
    horizontal = _thin_rule_rows(ink, rule_length, text_height)
    vertical = (~_drop_runs(ink.T, max(int(2.5 * text_height), 10)) & ink.T).T
    rules |= vertical
    # A rule across the table on a noisy or blurred page breaks into runs shorter than five text
    # heights, but its pixel rows still hold ink across most of the table, in a thin band.
    columns = np.nonzero(ink.any(axis=0))[0]
    extent = columns[-1] - columns[0] + 1 if columns.size else 0
    row_ink = ink.sum(axis=1)
    for top, bottom in _joined_runs(row_ink >= 0.5 * max(extent, 1), 1):
        if bottom - top <= max(3, int(0.5 * text_height)) and not _baseline(row_ink, top, bottom, text_height):
            rules[top:bottom] |= ink[top:bottom]
            horizontal[top:bottom] = True
    grown = rules.copy()
    grown[1:] |= rules[:-1]
    grown[:-1] |= rules[1:]
    grown[:, 1:] |= rules[:, :-1]
    grown[:, :-1] |= rules[:, 1:]
    return ink & ~grown, text_height, horizontal, vertical.any(axis=0)


def _baseline(row_ink: np.ndarray, top: int, bottom: int, text_height: float) -> bool:
    """Whether the thin band of dense pixel rows ``[top, bottom)`` is the foot or the middle of a
    line of text, not a rule: the letters' bodies above it (ink in every row up to half a text
    height above the band's top, the band's own rows counted, at least a quarter as dense; a rule
    has a blank row there unless text touches it), and below it either a blank row within half a
    text height (the foot: only descenders go further) or the rest of the letters, found the same
    way as above (the middle: small bold text, blurred, fills a few pixel rows across the table,
    held-out synthetic table 18, whose lines were each cut in two)."""
    half = max(int(text_height), 1) // 2 + 1
    need = max(1, half - (bottom - top))  # small text: the band itself is most of the letters' height
    floor = 0.25 * float(row_ink[top:bottom].min())

    def letters(rows: np.ndarray) -> bool:  # ``need`` rows, each inked, at least a quarter as dense
        return rows.size == need and bool((rows > 0).all()) and float(rows.mean()) >= floor

    return letters(row_ink[max(top - need, 0): top]) and (
        bool((row_ink[bottom: bottom + half + 1] == 0).any()) or letters(row_ink[bottom: bottom + need]))


def _joined_runs(flags: np.ndarray, gap_below: float) -> list[tuple[int, int]]:
    """Ranges ``[start, end)`` of the True runs of a 1D mask, runs less than ``gap_below`` apart joined."""
    _, starts, ends = _runs(flags[None, :])
    joined: list[list[int]] = []
    for start, end in zip(starts.tolist(), ends.tolist()):
        if joined and start - joined[-1][1] < gap_below:
            joined[-1][1] = end
        else:
            joined.append([start, end])
    return [(start, end) for start, end in joined]


def text_lines(clean: np.ndarray, text_height: float) -> list[tuple[int, int]]:
    """Pixel-row ranges ``[top, bottom)`` that hold ink, specks dropped and hairline gaps closed."""
    profile = clean.sum(axis=1)
    merged = _joined_runs(profile > 0, max(1, int(0.15 * text_height)) + 1)  # gaps of up to 0.15 text heights (>= 1 px)
    speck = max(2, int(0.3 * text_height))
    return [(t, b) for t, b in merged if b - t >= speck or profile[t:b].sum() >= 2 * text_height]


def _gaps(spans: list[tuple[int, int]]) -> np.ndarray:
    """The blank between consecutive spans ``[start, end)`` (text lines, or runs of column ink)."""
    return np.array([spans[m + 1][0] - spans[m][1] for m in range(len(spans) - 1)], dtype=np.float64)


def _ruled(spans: list[tuple[int, int]], rule: np.ndarray) -> np.ndarray:
    """Per gap between consecutive spans: a rule (``rule``, per pixel) runs in it."""
    return np.array([rule[spans[m][1]: spans[m + 1][0]].any() for m in range(len(spans) - 1)], dtype=bool)


def gap_costs(lines: list[tuple[int, int]], alike: np.ndarray | None = None, ruled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What it costs to keep lines m and m + 1 in one row (``join[m]``) or to start a row between
    them (``split[m]``), judged from the page alone: lines of one cell sit closer than rows do, and
    ``alike[m]`` (0..1) says how much the two lines cover the same columns (high between two rows,
    low between the lines of one cell of several lines); ``ruled[m]``: a horizontal rule runs
    between them."""
    n_gaps = max(len(lines) - 1, 0)
    alike = np.full(n_gaps, 0.5) if alike is None else np.asarray(alike, dtype=np.float64)
    ruled = np.zeros(n_gaps, dtype=bool) if ruled is None else np.asarray(ruled, dtype=bool)
    if n_gaps == 0:
        return np.zeros(0), np.zeros(0)
    return GAP_COST * _gaps(lines) / _pitch(lines) + ALIKE_COST * alike + RULE_INSIDE_COST * ruled, ALIKE_COST * (1 - alike)


def _pitch(lines: list[tuple[int, int]]) -> float:
    """The median distance between consecutive text lines (pixels): the unit of the alignment's costs."""
    centres = np.array([(t + b) / 2 for t, b in lines], dtype=np.float64)
    pitch = float(np.median(np.diff(centres))) if len(lines) > 1 else float(lines[0][1] - lines[0][0])
    return max(pitch, 1.0)


def align_rows(
    lines: list[tuple[int, int]],
    anchors: list[float | None],
    join: np.ndarray | None = None,
    split: np.ndarray | None = None,
    anchor_cap: float = ANCHOR_COST_CAP,
    empty_cost: float = EMPTY_ROW_COST,
    skip: np.ndarray | None = None,
) -> list[tuple[int, int] | None]:
    """Give each logical row a contiguous group of lines (or none), in order, closest to its anchor
    (the predicted centre of the row, pixels; None: no evidence), a group of lines paying ``join``
    for each gap inside it and ``split`` for the gap before it (``gap_costs``; by default those of
    lines alone), ``empty_cost`` for a row that gets none, ``skip[m]`` for leaving line m out of
    every row (default ``SKIP_LINE_COST``).  Also aligns columns to runs of column
    ink (``column_extents``).  Returns each row's lines as an index range ``[first, end)``."""
    n_rows, n_lines = len(anchors), len(lines)
    if n_lines == 0:
        return [None] * n_rows
    if join is None or split is None:
        join, split = gap_costs(lines)
    pitch = _pitch(lines)
    # inside[j] - inside[k]: what the gaps between lines k..j cost inside one row (a prefix sum).
    inside = np.concatenate([[0.0], np.cumsum(join)]).tolist()
    boundary = np.asarray(split, dtype=np.float64).tolist()
    skip_cost = [SKIP_LINE_COST] * n_lines if skip is None else np.asarray(skip, dtype=np.float64).tolist()
    inf = float("inf")
    # cost[r][k]: the best cost of rows < r on lines < k; back[r][k] the state it came from.
    cost = [[inf] * (n_lines + 1) for _ in range(n_rows + 1)]
    back: list[list[tuple[int, int]]] = [[(0, 0)] * (n_lines + 1) for _ in range(n_rows + 1)]
    cost[0][0] = 0.0
    for r in range(n_rows + 1):
        for k in range(n_lines + 1):
            here = cost[r][k]
            if here == inf:
                continue
            if k < n_lines and here + skip_cost[k] < cost[r][k + 1]:
                cost[r][k + 1], back[r][k + 1] = here + skip_cost[k], (r, k)
            if r == n_rows:
                continue
            if here + empty_cost < cost[r + 1][k]:
                cost[r + 1][k], back[r + 1][k] = here + empty_cost, (r, k)
            anchor = anchors[r]
            start_cost = here + (boundary[k - 1] if 0 < k < n_lines else 0.0)  # a row that starts on a line much like the one before
            for j in range(k + 1, min(n_lines, k + MAX_LINES_PER_ROW) + 1):
                # Lines of one cell sit closer than rows do (and cover fewer columns alike): a group
                # pays for the gaps inside it.
                step = start_cost + inside[j - 1] - inside[k]
                if anchor is not None:
                    # How far the anchor lies outside the group's lines: a row's cells may sit at the
                    # top, middle or bottom of it, so any point of it is as good as its centre.
                    outside = max(lines[k][0] - anchor, anchor - lines[j - 1][1], 0.0)
                    step += min(outside / pitch, anchor_cap)
                if step < cost[r + 1][j]:
                    cost[r + 1][j], back[r + 1][j] = step, (r, k)
    rows: list[tuple[int, int] | None] = [None] * n_rows
    r, k = n_rows, n_lines
    while r > 0 or k > 0:
        pr, pk = back[r][k]
        if pr == r - 1 and pk < k:
            rows[pr] = (pk, k)
        r, k = pr, pk
    return rows


def _refitted_anchors(anchors: list[float | None], row_lines: list[tuple[int, int] | None],
                      lines: list[tuple[int, int]]) -> list[float | None] | None:
    """The row anchors mapped by a line (Theil-Sen: the median slope over pairs of rows, then the
    median offset) fitted from each anchor to the centre of the lines its row was given; None if
    fewer than four rows have both, or the slope is outside 0.7..1.5 (a fit to a bad alignment)."""
    pairs = [(anchors[r], (lines[found[0]][0] + lines[found[1] - 1][1]) / 2)
             for r, found in enumerate(row_lines) if found is not None and anchors[r] is not None]
    if len(pairs) < 4:
        return None
    anchor, centre = np.array(pairs, dtype=np.float64).T
    i, j = np.triu_indices(len(anchor), k=1)
    apart = anchor[j] - anchor[i] > 1e-6
    if not apart.any():
        return None
    slope = float(np.median((centre[j] - centre[i])[apart] / (anchor[j] - anchor[i])[apart]))
    if not 0.7 < slope < 1.5:
        return None
    offset = float(np.median(centre - slope * anchor))
    return [None if a is None else slope * a + offset for a in anchors]


def words(clean: np.ndarray, top: int, bottom: int, text_height: float) -> list[tuple[int, int]]:
    """Column ranges ``[x0, x1)`` of the words between two pixel rows (gaps under ~a space joined)."""
    return _joined_runs(clean[top:bottom].any(axis=0), 0.35 * text_height)


def _line_likeness(line_words: list[list[tuple[int, int]]], width: int, text_height: float) -> np.ndarray:
    """IoU of the columns covered by consecutive lines (words widened by a text height)."""
    pad = int(round(text_height))
    covered = np.zeros((len(line_words), width), dtype=bool)
    for m, found in enumerate(line_words):
        for x0, x1 in found:
            covered[m, max(0, x0 - pad): x1 + pad] = True
    both = (covered[:-1] & covered[1:]).sum(axis=1)
    either = (covered[:-1] | covered[1:]).sum(axis=1)
    return both / np.maximum(either, 1)


def _pieces(cell_words: list[tuple[float, float, float, float]], text_height: float) -> list[tuple[float, float, float, float]]:
    """A cell's words (x0, top, x1, bottom) grouped into reading pieces: by line, top to bottom, then
    left to right, a new piece where the line would grow wider than MAX_PIECE_WIDTH text heights."""
    pieces: list[list[float]] = []
    line = None
    for x0, top, x1, bottom in sorted(cell_words, key=lambda w: (w[1], w[0])):
        if line == (top, bottom) and x1 - pieces[-1][0] <= MAX_PIECE_WIDTH * text_height:
            pieces[-1][2] = x1
        else:
            pieces.append([x0, top, x1, bottom])
        line = (top, bottom)
    return [tuple(p) for p in pieces]


def _line_box(top: int, bottom: int, text_height: float, page_height: int) -> tuple[float, float]:
    """A text line's ink rows ``[top, bottom)`` padded about their centre to ``LINE_BOX_HEIGHT`` text heights."""
    pad = max(0.0, LINE_BOX_HEIGHT * text_height - (bottom - top)) / 2
    return max(0.0, top - pad), min(float(page_height), bottom + pad)


def _in_order(anchors: np.ndarray) -> list[float | None]:
    """The anchors (NaN: none) that run left to right: the longest increasing run of them is kept,
    the rest dropped (a column of empty cells gets boxes from nowhere in particular)."""
    known = [i for i, a in enumerate(anchors.tolist()) if not np.isnan(a)]
    best: list[list[int]] = []  # best[k]: the longest increasing chain ending at known[k]
    for k, i in enumerate(known):
        chains = [best[j] for j in range(k) if anchors[known[j]] < anchors[i]]
        best.append(max(chains, key=len, default=[]) + [i])
    keep = set(max(best, key=len, default=[]))
    return [float(a) if i in keep else None for i, a in enumerate(anchors.tolist())]


def column_extents(
    grid: list[tuple[int, int, int, int]],
    row_lines: list[tuple[int, int] | None],
    line_words: list[list[tuple[int, int]]],
    anchors: np.ndarray,
    vertical_rule: np.ndarray,
    text_height: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Each column's extent ``[left, right)`` in pixels (NaN where the page does not say) from the
    words of the rows that have no cell spanning columns: in those rows no text crosses a gutter, so
    the runs of x they cover are the columns' ink, or parts of it.  The runs are given to the columns
    in order as text lines are given to rows (``align_rows``), each column anchored at the centre the
    box head gives it (``anchors``, pixels, NaN: none), a vertical rule never inside a column."""
    left, right, _ = _column_alignment(grid, row_lines, line_words, anchors, vertical_rule, text_height)
    return left, right


def _column_alignment(
    grid: list[tuple[int, int, int, int]],
    row_lines: list[tuple[int, int] | None],
    line_words: list[list[tuple[int, int]]],
    anchors: np.ndarray,
    vertical_rule: np.ndarray,
    text_height: float,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """``column_extents``, and the columns the structure lacks: where one column took two runs of
    ink, each filled in most rows, with a gutter between them (a column the decoder left out, most
    often one under a header that spans two): (the column, the gap's left and right x)."""
    n_cols = len(anchors)
    left, right = np.full(n_cols, np.nan), np.full(n_cols, np.nan)
    n_rows = len(row_lines)
    spanned = np.zeros(n_rows, dtype=bool)
    for r, _, rs, cs in grid:
        if cs > 1:
            spanned[r: r + rs] = True
    covered = np.zeros(len(vertical_rule), dtype=np.int32)  # how many rows have ink at each x
    row_ink: list[np.ndarray] = []
    n_used = 0
    for row, found in enumerate(row_lines):
        if found is None or spanned[row]:
            continue
        ink = np.zeros(len(vertical_rule), dtype=bool)
        for m in range(*found):
            for x0, x1 in line_words[m]:
                ink[x0:x1] = True
        covered += ink
        row_ink.append(ink)
        n_used += 1
    # A cell that spans columns the structure missed crosses gutters: x covered by one row alone is
    # not taken for a column's ink (unless the table has too few rows to tell).
    ink_columns = covered >= (2 if n_used >= 3 else 1)
    joined = _split_between_anchors(_joined_runs(ink_columns, COLUMN_JOIN * text_height), _joined_runs(ink_columns, 1), row_ink, anchors,
                                    text_height)
    runs = [(x0, x1) for x0, x1 in joined if x1 - x0 >= MIN_COLUMN_INK * text_height]
    if not runs:
        return left, right, []
    columns = align_rows(runs, _in_order(anchors), *gap_costs(runs, None, _ruled(runs, vertical_rule)), COLUMN_ANCHOR_CAP, EMPTY_COLUMN_COST)
    missing = []
    for col, group in enumerate(columns):
        if group is None:
            continue
        left[col], right[col] = runs[group[0]][0], runs[group[1] - 1][1]
        if len(runs) <= n_cols or group[1] - group[0] < 2:
            continue
        # Two columns in one: most rows with ink in the column have a word on each side of a wide
        # gap (dot leaders and specks are not words), which one row's ink at most crosses (a head
        # over both, where the structure has no cell spanning them).
        inked = [ink for ink in row_ink if ink[int(left[col]): int(right[col])].any()]
        for k in range(group[0], group[1] - 1):
            gap = (runs[k][1], runs[k + 1][0])
            if gap[1] - gap[0] < NEW_COLUMN_GAP * text_height or sum(bool(ink[gap[0]: gap[1]].any()) for ink in inked) > 1:
                continue
            both = sum(
                _longest_run(ink[int(left[col]): gap[0]]) >= text_height and _longest_run(ink[gap[1]: int(right[col])]) >= text_height
                for ink in inked
            )
            if len(inked) >= NEW_COLUMN_ROWS and both >= NEW_COLUMN_FILL * len(inked):
                missing.append((col, gap[0], gap[1]))
                break
    return left, right, missing


def _longest_run(flags: np.ndarray) -> int:
    """The length of the longest run of True in ``flags``."""
    _, start, end = _runs(flags[None, :])
    return int((end - start).max()) if len(start) else 0


def _split_between_anchors(joined: list[tuple[int, int]], parts: list[tuple[int, int]], row_ink: list[np.ndarray],
                           anchors: np.ndarray, text_height: float) -> list[tuple[int, int]]:
    """Runs of column ink joined across small gaps (``joined``, made of ``parts``), cut again where the
    box head puts two columns inside one (``anchors``: their centres, NaN: none).  Two columns set
    closer than a text height (a right-aligned number beside left-aligned text) would otherwise be
    one run, given to one column.  The cut is at the gap between the two centres that most rows
    (``row_ink``: each row's ink across) have ink right beside on both sides, as a gutter between two
    cells does; of equals, the one nearest their middle."""
    centres = np.sort(anchors[~np.isnan(anchors)])
    reach = max(1, int(text_height))
    out: list[tuple[int, int]] = []
    for start, end in joined:
        inside = [part for part in parts if start <= part[0] and part[1] <= end]
        cuts = set()
        for a, b in zip(centres, centres[1:]):
            if not (start <= a and b < end):
                continue
            between = [k for k in range(len(inside) - 1) if a <= inside[k][1] and inside[k + 1][0] <= b]
            if not between:
                continue

            def gutter(k: int) -> tuple[int, float]:
                gap_start, gap_end = inside[k][1], inside[k + 1][0]
                both = sum(bool(ink[max(gap_start - reach, 0): gap_start].any() and ink[gap_end: gap_end + reach].any()) for ink in row_ink)
                return -both, abs((gap_start + gap_end) / 2 - (a + b) / 2)

            cuts.add(min(between, key=gutter))
        first = 0
        for k in sorted(cuts):
            out.append((inside[first][0], inside[k][1]))
            first = k + 1
        out.append((inside[first][0], end))
    return out


def filled_columns(line_words: list[list[tuple[int, int]]], left: np.ndarray, right: np.ndarray) -> list[frozenset[int]]:
    """Per text line, the columns (extents ``left``, ``right``; NaN: unknown, never counted) that its
    words overlap."""
    known = np.nonzero(~(np.isnan(left) | np.isnan(right)))[0].tolist()
    return [frozenset(c for c in known for x0, x1 in found if min(x1, right[c]) - max(x0, left[c]) > 0) for found in line_words]


def new_row_shares(
    lines: list[tuple[int, int]],
    line_words: list[list[tuple[int, int]]],
    left: np.ndarray,
    right: np.ndarray,
) -> np.ndarray | None:
    """Per gap between consecutive lines, how likely a new row starts there, judged by the columns
    (extents ``left``, ``right``; NaN: unknown) each line has words in; None if the page gives no
    measure.  The shares of a new row below were counted on 98 synthetic tables (``tablerec synth
    -n 100 --seed 555``, default distribution; not the model card's held-out seed 777) with their
    true columns.  Two consecutive lines that both fill two or more columns, mostly the same ones
    (intersection over union at least 0.6), are two rows: 782 of 791 times; with the columns snapping
    finds, 782 of 784 when the two fill half the table's columns or more, and 0 of 7 when fewer
    (wrapped lines of two label columns; on seed 777: 806 of 813 and 0 of 7), so fewer count as the
    subset case below.  Lines whose columns cross or are disjoint are two rows too (68 of 68).  Where one line's columns are a subset of the other's
    (or both fill the same single column) the gap decides, measured in the table's row gap (the
    median gap between lines of the first kind): under 0.5 of it the two lines are one row (167 of
    167 times), 0.5-0.8: one row 129 of 141 times; 0.8 or more: two rows if one line's columns are a
    strict subset of the other's (280 of 296), else one (18 of 25).  Kept within 0.02..0.98."""
    n_gaps = len(lines) - 1
    known = ~(np.isnan(left) | np.isnan(right))
    if n_gaps < 1 or not known.any():
        return None
    filled = filled_columns(line_words, left, right)
    gaps = _gaps(lines)
    n_known = int(known.sum())

    def two_rows(a: frozenset[int], b: frozenset[int]) -> bool:
        # Half the table's columns at least: two wrapped lines of the same two label columns in a
        # wide table are one row (0 of 14 such pairs started a row, below).
        return len(a) >= 2 and len(b) >= 2 and len(a & b) >= 0.6 * len(a | b) and len(a | b) >= 0.5 * n_known

    row_gaps = [gaps[m] for m in range(n_gaps) if two_rows(filled[m], filled[m + 1])]
    if not row_gaps:
        return None
    row_gap = max(float(np.median(row_gaps)), 1.0)
    p_new = np.empty(n_gaps)
    for m in range(n_gaps):
        a, b = filled[m], filled[m + 1]
        if two_rows(a, b) or not (a <= b or b <= a):
            p_new[m] = 0.98
        elif gaps[m] < 0.5 * row_gap:
            p_new[m] = 0.02
        elif gaps[m] < 0.8 * row_gap:
            p_new[m] = 0.09
        else:
            p_new[m] = 0.28 if a == b else 0.95
    return p_new


def snap_boxes(page: np.ndarray, boxes: np.ndarray, grid: list[tuple[int, int, int, int]]) -> Snapped:
    """Snap ``boxes`` (C, 4, normalised) of cells at logical ``grid`` places (row, col, rowspan, colspan)
    to the ink of ``page`` (H, W uint8 ink, as ``prepare_page``)."""
    height, width = page.shape
    n = len(grid)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(n, 4)
    out = Snapped(boxes.copy(), [[] for _ in range(n)])
    if n == 0:
        return out
    ink = binarize(page)
    filled = filled_areas(ink)  # for the text height, and where rows are not joined
    clean, text_height, horizontal_rule, vertical_rule = remove_rules(ink, filled)
    lines = text_lines(clean, text_height)
    if not lines:
        return out
    pixel = boxes * np.array([width, height, width, height])
    n_rows = max(r + rs for r, _, rs, _ in grid)
    anchors: list[float | None] = []
    for row in range(n_rows):
        centres = [(pixel[i, 1] + pixel[i, 3]) / 2 for i, (r, _, rs, _) in enumerate(grid) if r == row and rs == 1]
        anchors.append(float(np.median(centres)) if centres else None)
    line_words = [words(clean, top, bottom, text_height) for top, bottom in lines]
    alike = _line_likeness(line_words, width, text_height)
    first_costs = gap_costs(lines, alike, _ruled(lines, horizontal_rule))
    row_lines = align_rows(lines, anchors, *first_costs)
    line_boxes = [_line_box(top, bottom, text_height, height) for top, bottom in lines]

    # Across, the box head errs cell by cell: each column's extent is first the median of the
    # predicted boxes of its cells, then, where the page shows it, the ink of the column itself.
    reach = pixel[:, [0, 2]].copy()
    n_cols = max(c + cs for _, c, _, cs in grid)
    left, right = np.full(n_cols, np.nan), np.full(n_cols, np.nan)
    for col in range(n_cols):
        own = [i for i, (_, c, _, cs) in enumerate(grid) if c == col and cs == 1]
        if own:
            left[col], right[col] = np.median(pixel[own, 0]), np.median(pixel[own, 2])
    ink_left, ink_right, two_in_one = _column_alignment(grid, row_lines, line_words, (left + right) / 2, vertical_rule, text_height)
    on_page = ~np.isnan(ink_left)
    left[on_page], right[on_page] = ink_left[on_page], ink_right[on_page]
    # With the columns known, the lines can be judged by which columns they fill: align again.
    line_columns = filled_columns(line_words, left, right)
    shares = new_row_shares(lines, line_words, left, right)
    if shares is not None:
        # Costs: -log of the shares, weighted.
        join = first_costs[0] - np.log(1 - shares) * COLUMN_GAP_WEIGHT
        split = first_costs[1] - np.log(shares) * COLUMN_GAP_WEIGHT
        # A line with words in several columns is table content: leaving it out of every row costs
        # more for each column it fills (the box head's row positions drift down tall tables, and
        # lines were left unread so that the rows after them could follow those positions).
        skip = SKIP_LINE_COST + SKIP_COLUMN_COST * np.array([max(0, len(f) - 1) for f in line_columns])
        row_lines = align_rows(lines, anchors, join, split, skip=skip)
        # The box head's row positions drift down tall tables, mostly as a stretch: fitted to the
        # rows just found and aligned once more, the rows that the page leaves open follow them better.
        refitted = _refitted_anchors(anchors, row_lines, lines)
        if refitted is not None:
            anchors = refitted
            row_lines = align_rows(lines, anchors, join, split, skip=skip)
        # Rows the page shows as one: the last line of one and the first of the next are set as
        # the lines of one cell (``JOINED_ROW_SHARE``).  Not in a filled area: the words found in
        # light text on a dark band are fragments of letters (cTDaR t10053's header).
        joined = [
            r for r in range(n_rows - 1)
            if row_lines[r] is not None and row_lines[r + 1] is not None and row_lines[r][1] == row_lines[r + 1][0]
            and shares[row_lines[r][1] - 1] < JOINED_ROW_SHARE
        ]
        filled_rows = filled.any(axis=1)
        out.joined_rows = [r for r in joined if not any(filled_rows[slice(*lines[m])].any() for m in range(row_lines[r][0], row_lines[r + 1][1]))]
    for i, (_, c, _, cs) in enumerate(grid):
        if not np.isnan(left[c]) and not np.isnan(right[c + cs - 1]) and left[c] < right[c + cs - 1]:
            reach[i] = left[c], right[c + cs - 1]

    # Words of each row, each given to the cell of that row (spanning ones included) it overlaps most.
    cell_words: list[list[tuple[int, int, int, int]]] = [[] for _ in range(n)]
    for row, found in enumerate(row_lines):
        if found is None:
            continue
        members = [i for i, (r, _, rs, _) in enumerate(grid) if r <= row < r + rs]
        if not members:
            continue
        for m in range(*found):
            on_line: dict[int, list[tuple[int, int]]] = {}  # cell -> its words on this line
            for x0, x1 in line_words[m]:
                overlap = [min(x1, reach[i, 1]) - max(x0, reach[i, 0]) for i in members]
                best = int(np.argmax(overlap))
                if overlap[best] <= 0:  # no overlap: the nearest predicted box
                    centre = (x0 + x1) / 2
                    best = int(np.argmin([min(abs(centre - reach[i, 0]), abs(centre - reach[i, 1])) for i in members]))
                on_line.setdefault(members[best], []).append((x0, x1))
            for i, found_words in on_line.items():
                # Down, a cell's words are padded as a line about the ink of their own letters, not of
                # the whole text line: a line is often text of several heights side by side (figures
                # centred beside a label of two lines, whose ink joins them into one tall line).
                rows = np.zeros(lines[m][1] - lines[m][0], dtype=bool)
                for x0, x1 in found_words:
                    rows |= clean[lines[m][0]: lines[m][1], x0:x1].any(axis=1)
                inked = np.nonzero(rows)[0]
                top, bottom = _line_box(lines[m][0] + int(inked[0]), lines[m][0] + int(inked[-1]) + 1, text_height, height)
                cell_words[i].extend((x0, top, x1, bottom) for x0, x1 in found_words)
    given = [(j, w) for j in range(n) for w in cell_words[j]]  # every word, with the cell it went to
    for i, (r, _, rs, _) in enumerate(grid):
        rows_found = [row_lines[k] for k in range(r, min(r + rs, n_rows)) if row_lines[k] is not None]
        if not rows_found:
            continue
        if not cell_words[i]:
            top, bottom = line_boxes[min(a for a, _ in rows_found)][0], line_boxes[max(b for _, b in rows_found) - 1][1]
            out.boxes[i, [1, 3]] = top / height, bottom / height
            x0, x1 = pixel[i, 0], pixel[i, 2]
            others = [w for j, w in given if j != i and top <= (w[1] + w[3]) / 2 <= bottom]
            if any(min(x1, w[2]) - max(x0, w[0]) > 0.5 * (w[2] - w[0]) for w in others):
                out.read_elsewhere.append(i)
            continue
        # Across: the ink of the words; down: the text lines they are on (ascenders to descenders, as
        # the boxes the reader was trained on, not the ink of the cell's own letters).
        x0, x1 = min(w[0] for w in cell_words[i]), max(w[2] for w in cell_words[i])
        top, bottom = min(w[1] for w in cell_words[i]), max(w[3] for w in cell_words[i])
        out.boxes[i] = (x0 / width, top / height, x1 / width, bottom / height)
        out.pieces[i] = [(a / width, b / height, c / width, d / height) for a, b, c, d in _pieces(cell_words[i], text_height)]
    # Columns with no word in any cell, their own or spanning over them: on the report's sets every
    # such column was one the truth does not have (a one-off count, docs/model.md).
    out.empty_columns = [
        col for col in range(n_cols)
        if any(c == col and cs == 1 for _, c, _, cs in grid) and not any(cell_words[i] for i, (_, c, _, cs) in enumerate(grid) if c <= col < c + cs)
        or not on_page[col] and _inside_neighbour(col, grid, cell_words, ink_left, ink_right)
    ]
    out.symbol_columns = _symbol_columns(grid, cell_words, text_height)
    out.ruled_row = _first_ruled_row(row_lines, lines, ink, horizontal_rule)
    out.missing_rows = _missing_rows(row_lines, lines, line_words, line_columns, line_boxes, left, right, text_height, height)
    for col, gap_left, gap_right in two_in_one:
        gap = (gap_left, gap_right)
        across = [i for i, (_, c, _, cs) in enumerate(grid) if c + cs - 1 == col and _runs_across(cell_words[i], gap, text_height)]
        out.missing_columns.append(MissingColumn(col, (gap_left / width, gap_right / width), right[col] / width, across))
    if sum(found is not None for found in row_lines) >= JOIN_MIN_ROWS:
        out.joined_cells = _joined_cells(grid, cell_words, ink_left, ink_right, text_height)
    for i, (_, c, rs, cs) in enumerate(grid):
        if cs > 1 and rs == 1 and cell_words[i]:
            columns = _separate_columns(cell_words[i], left[c: c + cs], right[c: c + cs], text_height)
            if columns is not None:
                out.split_cells[i] = [(x0 / width, x1 / width) for x0, x1 in columns]
    return out


def _first_ruled_row(row_lines: list[tuple[int, int] | None], lines: list[tuple[int, int]], ink: np.ndarray,
                     horizontal_rule: np.ndarray) -> int | None:
    """The first row found with a horizontal rule between it and the row before it, the rule inked
    across most of the table (RULE_ACROSS of the ink's width: not a rule under a spanning head)."""
    columns = np.nonzero(ink.any(axis=0))[0]
    if not columns.size:
        return None
    extent = columns[-1] - columns[0] + 1
    found = [(r, span) for r, span in enumerate(row_lines) if span is not None]
    for (q, above), (r, below) in zip(found, found[1:]):
        gap = slice(lines[above[1] - 1][1], lines[below[0]][0])
        rule = horizontal_rule[gap]
        if rule.any() and ink[gap][rule].sum(axis=1).max() >= RULE_ACROSS * extent:
            return r if q == r - 1 else None  # (a row between without text: which side of it the rule runs is not known)
    return None


def _missing_rows(row_lines: list[tuple[int, int] | None], lines: list[tuple[int, int]], line_words: list[list[tuple[int, int]]],
                  filled: list[frozenset[int]], line_boxes: list[tuple[float, float]], left: np.ndarray, right: np.ndarray,
                  text_height: float, height: int) -> list[MissingRow]:
    """Rows the structure lacks (``Snapped.missing_rows``), two kinds:

    * a text line that no row took, alone between two rows that took lines, with a word in the first
      column, as far from the lines above and below as rows are from each other (a line of a cell's
      text that the alignment left out sits closer to its cell's other lines; a line above the
      first row is a title, one below the last a note);
    * a row whose lines hold two that each fill half the table's columns or more, mostly the same
      ones (lines of one row hold one such line; the wrapped lines of its labels fill one column):
      two rows the decoder wrote as one; the second starts a row of its own."""
    if len(left) < 2 or np.isnan(left[1]) or np.isnan(right[0]):
        return []
    taken = np.zeros(len(lines), dtype=bool)
    starts = {}  # first line of a row -> the row
    for r, found in enumerate(row_lines):
        if found is not None:
            taken[found[0]:found[1]] = True
            starts[found[0]] = r
    if len(starts) < 3:
        return []
    centres = np.array([(top + bottom) / 2 for top, bottom in lines])
    row_pitch = float(np.median(np.diff(centres[sorted(starts)])))
    missing = []
    for k in range(1, len(lines) - 1):
        if taken[k] or not taken[k - 1] or not taken[k + 1] or k + 1 not in starts:
            continue
        found = line_words[k]
        if not any(x1 - x0 >= text_height for x0, x1 in found):
            continue  # specks
        if min(x0 for x0, _ in found) > right[0]:
            continue  # no word in the first column
        if min(centres[k] - centres[k - 1], centres[k + 1] - centres[k]) < MISSING_ROW_GAP * row_pitch:
            continue
        label = max(x1 for _, x1 in found) <= left[1]  # the first column's alone: a section label
        missing.append(MissingRow(starts[k + 1], line_boxes[k][0] / height, line_boxes[k][1] / height, label, len(filled[k])))
    known = ~(np.isnan(left) | np.isnan(right))
    for r, found in enumerate(row_lines):
        if found is None or r + 1 < len(row_lines) and row_lines[r + 1] is None:
            continue
        full = [m for m in range(*found) if len(filled[m]) >= max(2, 0.5 * known.sum())]
        for a, b in zip(full, full[1:]):
            if len(filled[a] & filled[b]) >= 0.6 * len(filled[a] | filled[b]):
                missing.append(MissingRow(r + 1, line_boxes[b][0] / height, line_boxes[found[1] - 1][1] / height, False, len(filled[b])))
                break
    return missing


def _runs_across(cell_words: list[tuple[int, int, int, int]], gap: tuple[int, int], text_height: float) -> bool:
    """Whether a cell's text runs across a gutter ``gap`` (its left and right x): a phrase of it (words
    of one line no further apart than a word space or so, ``SPLIT_GAP``) reaches past both sides.  A
    head set flush right over a narrow column may reach into the gutter but not past it."""
    return any(x0 < gap[0] and x1 > gap[1] for x0, x1, _ in _phrases(cell_words, text_height, SPLIT_GAP))


def _symbol_columns(grid: list[tuple[int, int, int, int]], cell_words: list[list[tuple[int, int, int, int]]],
                    text_height: float) -> list[int]:
    """Columns (``Snapped.symbol_columns``), not the first, whose cells with words, two or more, none
    in the first row, each hold one word no wider than ``SYMBOL_WIDTH`` text heights with a cell of
    the next column beside it that has words: a currency sign in a column of its own (a column of
    one-digit counts has a head)."""
    at = {(r, c): i for i, (r, c, rs, cs) in enumerate(grid) if rs == 1 and cs == 1}
    n_cols = max(c + cs for _, c, _, cs in grid)
    out = []
    for col in range(1, n_cols - 1):
        inked = [i for i, (_, c, _, cs) in enumerate(grid) if c <= col < c + cs and cell_words[i]]
        if len(inked) < 2:
            continue
        signs = [
            i for i in inked
            if grid[i][1] == col and grid[i][3] == 1 and len(cell_words[i]) == 1
            and cell_words[i][0][2] - cell_words[i][0][0] <= SYMBOL_WIDTH * text_height
            and (grid[i][0], col + 1) in at and cell_words[at[(grid[i][0], col + 1)]]
        ]
        if len(signs) == len(inked) and all(grid[i][0] > 0 for i in signs):  # a sign is never a head
            out.append(col)
    return out


def _inside_neighbour(col: int, grid: list[tuple[int, int, int, int]], cell_words: list[list[tuple[int, int, int, int]]],
                      left: np.ndarray, right: np.ndarray) -> bool:
    """Whether a column that the page shows no ink of has words only in cells of its own (not
    spanning) and all of them inside the ink of one neighbouring column (``left``, ``right``: the
    columns' ink, NaN where not shown): one column the decoder wrote as two."""
    own = [w for i, (_, c, _, cs) in enumerate(grid) if c == col and cs == 1 for w in cell_words[i]]
    if not own or any(cell_words[i] for i, (_, c, _, cs) in enumerate(grid) if cs > 1 and c <= col < c + cs):
        return False
    for k in (col - 1, col + 1):
        if 0 <= k < len(left) and not np.isnan(left[k]) and all(left[k] <= x0 and x1 <= right[k] for x0, _, x1, _ in own):
            return True
    return False


def _phrases(cell_words: list[tuple[int, int, int, int]], text_height: float, gap: float) -> list[tuple[int, int, int]]:
    """The phrases of some words: (x0, x1, top) of each run of words on one line less than ``gap``
    text heights apart."""
    out = []
    for top in sorted({w[1] for w in cell_words}):
        line = sorted((x0, x1) for x0, t, x1, _ in cell_words if t == top)
        start, end = line[0]
        for x0, x1 in line[1:]:
            if x0 - end >= gap * text_height:
                out.append((start, end, top))
                start = x0
            end = max(end, x1)
        out.append((start, end, top))
    return out


def _joined_cells(grid: list[tuple[int, int, int, int]], cell_words: list[list[tuple[int, int, int, int]]], left: np.ndarray,
                  right: np.ndarray, text_height: float) -> list[tuple[int, int]]:
    """Pairs of cells side by side in one row (``Snapped.joined_cells``) where a phrase (words a word
    space apart, ``WORD_SPACE``: cells of a tight table are further apart) that starts in the left
    one's columns reaches half a text height or more into the ink of the right one's first column,
    and every word of the right one is part of such a phrase.  ``left``, ``right``: the columns'
    ink (NaN where the page does not show it)."""
    at = {(r, c): i for i, (r, c, rs, _) in enumerate(grid) if rs == 1}
    pairs = []
    for i, (r, c, rs, cs) in enumerate(grid):
        j = at.get((r, c + cs))
        if rs != 1 or j is None or not cell_words[i] or np.isnan(right[c + cs - 1]) or np.isnan(left[c + cs]):
            continue
        crossing = [
            (x0, x1, top) for x0, x1, top in _phrases(cell_words[i] + cell_words[j], text_height, WORD_SPACE)
            if x0 < right[c + cs - 1] and x1 > left[c + cs] + 0.5 * text_height and any(w[1] == top and x0 <= w[0] for w in cell_words[i])
        ]
        if crossing and all(any(top == w[1] and x0 <= w[0] and w[2] <= x1 for x0, x1, top in crossing) for w in cell_words[j]):
            pairs.append((i, j))
    return pairs


def _separate_columns(cell_words: list[tuple[int, int, int, int]], left: np.ndarray, right: np.ndarray,
                      text_height: float) -> list[tuple[float, float]] | None:
    """The extents of the columns a spanning cell spans, if its words are the text of separate cells
    (``Snapped.split_cells``): every word overlaps the ink of one column (with half a text height's
    slack) and no other, two columns or more have words, and on each line the words of neighbouring
    columns are further apart than a word space (a centred title over the columns has single spaces
    between its words)."""
    if np.isnan(left).any() or np.isnan(right).any():
        return None
    slack = 0.5 * text_height
    placed = []
    for x0, top, x1, _ in cell_words:
        inside = [k for k in range(len(left)) if left[k] - slack < x1 and x0 < right[k] + slack]
        if len(inside) != 1:
            return None
        placed.append((top, x0, x1, inside[0]))
    if len({k for *_, k in placed}) < 2:
        return None
    placed.sort()
    for (top_a, _, end_a, col_a), (top_b, start_b, _, col_b) in zip(placed, placed[1:]):
        if top_a == top_b and col_a != col_b and start_b - end_a < SPLIT_GAP * text_height:
            return None
    return [(float(a), float(b)) for a, b in zip(left, right)]


def band_cuts(page: np.ndarray, min_lines: int, lines_per_band: int) -> list[int]:
    """Pixel rows at which to cut a tall table into bands of about ``lines_per_band`` text lines, for
    decoding band by band (``beam.decode_image``); none if the page has fewer than ``min_lines`` lines.

    Each cut goes in the widest gap between lines (a horizontal rule counting as two text heights
    more) within a quarter band of where even bands would cut: rows are further apart than the lines
    of one cell, so the widest gap is most likely between two rows.
    """
    clean, text_height, horizontal_rule, _ = remove_rules(binarize(page))
    lines = text_lines(clean, text_height)
    if len(lines) < max(min_lines, 2):
        return []
    n_bands = -(-len(lines) // lines_per_band)
    per_band = len(lines) / n_bands
    # Gap m lies between line m - 1 and line m.
    score = [0.0, *(_gaps(lines) + 2 * text_height * _ruled(lines, horizontal_rule)).tolist()]
    cuts: list[int] = []
    for k in range(1, n_bands):
        target = k * per_band
        window = range(max(1, round(target - per_band / 4)), min(len(lines) - 1, round(target + per_band / 4)) + 1)
        best = max(window, key=lambda m: score[m])
        cut = (lines[best - 1][1] + lines[best][0]) // 2
        if not cuts or cut > cuts[-1]:
            cuts.append(cut)
    return cuts
