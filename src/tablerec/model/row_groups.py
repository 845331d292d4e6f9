"""Row groups: a label beside empty first cells is one cell spanning those rows; a section label is
one cell across the table.

Scientific tables group body rows under a label in the first column ("DHS WI" over three models,
PubTabNet PMC5332562_005_00), and PubTabNet's annotations make that label one cell with a rowspan.
The structure decoder rarely writes those rowspans: it gives each row its own first cell, the label
goes to the row its text stands in, and the group's other first cells come out empty.  Once the cell
text is read, ``merge_row_groups`` turns such a pattern back into rowspans.

Where the label stands in its group depends on how the table sets its cells: at the top (the label
then empty cells below it), in the middle (empty cells on both sides) or at the foot (empty cells,
then the label; synthetic tables set their cells top : middle : foot as 5 : 4 : 1).  Each of the
three is tried on the whole table; one is taken if its groups leave no empty first cell over and
put every label at its place (its top at the group's top, its middle at the middle, its foot at the
foot, judged by the other cells' boxes), and if the table's rows of several lines show that setting
(where a single-line cell stands in a taller row) or, where none does, if it fits clearly better
than the other two.  Otherwise, as before the settings were told apart, labels over empty cells
below them are merged where they repeat (two groups or more in a body): a single label over empty
cells is as often a label over truly empty cells.  Only tables without rowspans of their own are
changed, only rows that hold other cells, and never empty first cells atop a body (units or years
under the column heads) or first cells read empty on words of the page (text the reader missed).

Section labels ("Current assets") head a group of rows from a row of their own.  The decoder writes
most of them as a label beside empty cells (held-out synthetic tables: 98 rows of a single plain
text cell predicted, 66 in the truth, and 6 rows of one cell across the table against 46), and some
as a cell spanning part of the row, which no annotated table has.  ``widen_section_rows`` makes the
latter one cell across the table, and, where a table sets a label across the table (tables set their
section labels alike), its labels beside empty cells too.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..table import logical_grid

MIN_GROUPS = 2  # labels at the top of their group: a single one over empty cells is as often a label over truly empty cells
# How far (in text lines) a label may stand from its place in the group (top, middle or foot) and
# still tell how the table sets its labels.
FIT = 0.5
ALIGNMENTS = ("top", "middle", "bottom")
# A row shows how the table sets its cells where it is this many text lines tall or more (a cell of
# two lines) and holds a cell of one line (this many lines tall at most); a text line here is the
# median height of the boxes of cells with text.
TALL_ROW = 1.6
ONE_LINE = 1.3

Box = tuple[float, float, float, float]


def _has_text(tokens: list[str]) -> bool:
    return any(len(t) == 1 and not t.isspace() for t in tokens)


@dataclass
class _Row:
    first_token: int  # index in the structure of the first cell's opening token
    first_cell: int
    cells: list[int]  # every cell of the row
    kind: str  # "label" (first cell has text), "empty" (first cell empty, other cells beside it), "other"


def _body_rows(structure: list[str], cells: list[list[str]], inked: list[bool] | None = None) -> list[list[_Row]]:
    """Per tbody, its rows (``inked``: per cell, whether the page shows words in it)."""
    bodies: list[list[_Row]] = []
    cell = -1
    in_body = False
    row: list[int] = []
    first_token = -1
    spanning = False
    for i, token in enumerate(structure):
        if token == "<tbody>":
            in_body = True
            bodies.append([])
        elif token == "</tbody>":
            in_body = False
        elif token == "<tr>":
            row, first_token, spanning = [], -1, False
        elif token in ("<td>", "<td"):
            cell += 1
            if not row:
                first_token = i
                spanning = token == "<td" and structure[i + 1].startswith(" colspan=")
            row.append(cell)
        elif token == "</tr>" and in_body and row:
            if spanning or len(row) < 2 or (inked is not None and inked[row[0]] and not _has_text(cells[row[0]])):
                kind = "other"  # (a first cell read empty on words of the page: text the reader missed)
            else:
                kind = "label" if _has_text(cells[row[0]]) else "empty"
            # Rows with an empty first cell atop a body (before any first cell with text) are the heads'
            # matter (units or years under the column heads), not a label's group.
            if kind == "empty" and not any(_has_text(cells[r.first_cell]) for r in bodies[-1]):
                kind = "other"
            bodies[-1].append(_Row(first_token, row[0], row, kind))
    return bodies


def _segments(body: list[_Row]) -> list[list[_Row]]:
    """Runs of rows between rows that cannot be in a group (a spanning first cell, a single cell)."""
    out: list[list[_Row]] = [[]]
    for row in body:
        if row.kind == "other":
            out.append([])
        else:
            out[-1].append(row)
    return [s for s in out if s]


class _Geometry:
    """Where each row's other cells' text lies (normalised y), and how tall a text line is."""

    def __init__(self, bodies: list[list[_Row]], cells: list[list[str]], boxes: list[Box]):
        self.boxes = boxes
        heights = [b[3] - b[1] for c, b in enumerate(boxes) if _has_text(cells[c]) and b[3] > b[1]]
        self.line = statistics.median(heights) if heights else 0.0
        self.extent: dict[int, tuple[float, float]] = {}
        for body in bodies:
            for row in body:
                others = [c for c in row.cells[1:] if _has_text(cells[c])] or row.cells[1:] or row.cells
                self.extent[row.first_cell] = (min(boxes[c][1] for c in others), max(boxes[c][3] for c in others))

    def valign(self, bodies: list[list[_Row]], cells: list[list[str]]) -> str | None:
        """How the table sets a line of text in a taller row (top, middle, bottom), by the majority of
        its single-line cells in body rows of several lines; None where no row shows it."""
        if self.line <= 0:
            return None
        votes = {a: 0 for a in ALIGNMENTS}
        for body in bodies:
            for r, row in enumerate(body):
                # A label beside empty first cells may stand between rows: it says nothing of its row.
                beside = [body[n].kind for n in (r - 1, r + 1) if 0 <= n < len(body)]
                texts = [c for c in row.cells if _has_text(cells[c]) and not (c == row.first_cell and "empty" in beside)]
                if not texts:
                    continue
                top, bottom = min(self.boxes[c][1] for c in texts), max(self.boxes[c][3] for c in texts)
                if bottom - top < TALL_ROW * self.line:
                    continue
                for c in texts:
                    y0, y1 = self.boxes[c][1], self.boxes[c][3]
                    if y1 - y0 <= ONE_LINE * self.line:
                        off = {"top": abs(y0 - top), "middle": abs((y0 + y1) - (top + bottom)) / 2, "bottom": abs(y1 - bottom)}
                        votes[min(off, key=off.get)] += 1
        best = max(votes, key=votes.get)
        return best if votes[best] else None

    def misfit(self, alignment: str, label: int, group: list[int]) -> float:
        """How far (text lines) the label ``label`` stands from its place in the rows whose first cells are ``group``."""
        if self.line <= 0:
            return float("inf")
        top, bottom = self.extent[group[0]][0], self.extent[group[-1]][1]
        y0, y1 = self.boxes[label][1], self.boxes[label][3]
        if alignment == "top":
            return abs(y0 - top) / self.line
        if alignment == "bottom":
            return abs(y1 - bottom) / self.line
        return abs((y0 + y1) - (top + bottom)) / 2 / self.line


def _partition(segment: list[_Row], alignment: str, geometry: _Geometry) -> tuple[list[list[_Row]], int]:
    """The groups (each one label row and the empty rows it spans) of one segment under ``alignment``,
    and how many empty rows no label could take."""
    labels = [i for i, row in enumerate(segment) if row.kind == "label"]
    if not labels:
        return [], len(segment)
    if alignment == "top":  # each label takes the empty rows below it
        return [segment[s:e] for s, e in zip(labels, labels[1:] + [len(segment)])], labels[0]
    if alignment == "bottom":  # and here those above it
        ends = [i + 1 for i in labels]
        return [segment[s:e] for s, e in zip([0] + ends[:-1], ends)], len(segment) - ends[-1]
    # Middle: the empty rows between two labels are shared out, each label taking as many below as
    # puts it nearest the middle of its group.
    groups = []
    start = 0
    for k, i in enumerate(labels):
        if k == len(labels) - 1:
            end = len(segment)
        else:
            end = min(range(i + 1, labels[k + 1] + 1),
                      key=lambda e: geometry.misfit("middle", segment[i].first_cell, [r.first_cell for r in segment[start:e]]))
        groups.append(segment[start:end])
        start = end
    return groups, 0


def merge_row_groups(
    structure: list[str], cells: list[list[str]], boxes: list[Box], inked: list[bool] | None = None,
) -> tuple[list[str], list[list[str]], list[Box]]:
    """``structure`` (expanded PubTabNet tokens), its ``cells`` (content tokens) and ``boxes`` with
    each row group's label made a rowspan cell (its box the union of the group's first cells) and the
    empty first cells beside it removed.  ``inked`` (per cell, whether the page shows words in it):
    a first cell read empty on words is not an empty cell.  Returned unchanged where nothing applies."""
    if any(t.startswith(" rowspan=") for t in structure):
        return structure, cells, boxes
    bodies = _body_rows(structure, cells, inked)
    geometry = _Geometry(bodies, cells, boxes)
    explained: dict[str, tuple[float, list[list[_Row]]]] = {}  # alignment -> (largest misfit, groups), where no empty cell is left
    for alignment in ALIGNMENTS:
        groups: list[list[_Row]] = []
        unexplained = 0
        for body in bodies:
            for segment in _segments(body):
                found, left = _partition(segment, alignment, geometry)
                groups += found
                unexplained += left
        spanning = [g for g in groups if len(g) > 1]
        if spanning and not unexplained:
            # Every label must stand at its place, a label of a single row too: one standing between two
            # rows is no label set at the top.
            misfits = [geometry.misfit(alignment, next(r.first_cell for r in g if r.kind == "label"), [r.first_cell for r in g]) for g in groups]
            explained[alignment] = (max(misfits), spanning)
    # The table's own setting, where its rows of several lines show it; else the alignment that puts
    # the labels clearly nearer their places than any other ("A / - / B", single lines, is A over an
    # empty cell or B at the foot alike: left to the rule before alignments were told apart).
    fitting = {a: v for a, v in explained.items() if v[0] <= FIT and (a != "top" or len(v[1]) >= MIN_GROUPS)}
    voted = geometry.valign(bodies, cells)
    ranked = sorted(explained, key=lambda a: explained[a][0])
    if voted is not None:
        choice = voted
    elif ranked and (len(ranked) == 1 or explained[ranked[1]][0] - explained[ranked[0]][0] >= FIT / 2) \
            and len(explained[ranked[0]][1]) >= MIN_GROUPS:  # (empty cells atop a body, alone, are most often units under the heads)
        choice = ranked[0]
    else:
        choice = None
    merges = fitting[choice][1] if choice in fitting else _top_groups(bodies)
    if not merges:
        return structure, cells, boxes
    return _merged(structure, cells, boxes, merges)


def _top_groups(bodies: list[list[_Row]]) -> list[list[_Row]]:
    """Labels over the empty cells below them, in bodies with two such groups or more, wherever the
    table's other first cells stand (the rule before the alignments were told apart)."""
    merges = []
    for body in bodies:
        groups = []
        r = 0
        while r < len(body):
            group = [body[r]]
            if body[r].kind == "label":
                while r + len(group) < len(body) and body[r + len(group)].kind == "empty":
                    group.append(body[r + len(group)])
            if len(group) > 1:
                groups.append(group)
            r += len(group)
        if len(groups) >= MIN_GROUPS:
            merges += groups
    return merges


def _merged(structure: list[str], cells: list[list[str]], boxes: list[Box], groups: list[list[_Row]]) -> tuple[list[str], list[list[str]], list[Box]]:
    """The table with each group's first cells made one: the label's cell, opened where the group's
    first row opens its first cell, spanning the group's rows (its box the union of theirs)."""
    spanning: dict[int, tuple[int, int]] = {}  # token index of a group's first cell -> (the label's cell, rows)
    removed: set[int] = set()  # the group's other first cells (plain "<td>" "</td>": no spans in the table)
    boxes = list(boxes)
    for group in groups:
        label = next(r.first_cell for r in group if r.kind == "label")
        spanning[group[0].first_token] = (label, len(group))
        removed |= {r.first_cell for r in group[1:]}
        union = [boxes[r.first_cell] for r in group]
        boxes[label] = (min(b[0] for b in union), min(b[1] for b in union), max(b[2] for b in union), max(b[3] for b in union))
    out: list[str] = []
    order: list[int] = []  # the cells, in their new order
    cell = -1
    skip_close = False
    for i, token in enumerate(structure):
        if token in ("<td>", "<td"):
            cell += 1
            if i in spanning:
                label, n = spanning[i]
                out += ["<td", f' rowspan="{n}"', ">"]
                order.append(label)
                continue
            if cell in removed:
                skip_close = True
                continue
            order.append(cell)
        elif skip_close and token == "</td>":
            skip_close = False
            continue
        out.append(token)
    return out, [cells[c] for c in order], [boxes[c] for c in order]


def widen_section_rows(
    structure: list[str], cells: list[list[str]], boxes: list[Box], inked: list[bool] | None = None,
) -> tuple[list[str], list[list[str]], list[Box], list[bool] | None]:
    """Section rows made one cell across the table.  A body row whose only text is one cell spanning
    some of the columns but not all is a section label (no annotated table on the test sets has such
    a row); and where a table sets one section label across the table, its other rows of a single
    label in the first column beside empty cells are section labels too (tables set their sections
    alike; so too where a label spanning part of its row was widened).  ``inked`` (per cell): a cell
    read empty on words of the page is not empty; it is returned for the cells returned.  Returned
    unchanged where nothing applies."""
    grid = logical_grid(structure)
    if len(cells) != len(grid) or any(rowspan > 1 for _, _, rowspan, _, _ in grid):
        return structure, cells, boxes, inked
    n_cols = max((col + colspan for _, col, _, colspan, _ in grid), default=0)
    rows: dict[int, list[int]] = {}
    for k, (row, _, _, _, in_head) in enumerate(grid):
        if not in_head:
            rows.setdefault(row, []).append(k)

    def filled(k: int) -> bool:
        return _has_text(cells[k]) or (inked is not None and k < len(inked) and inked[k])

    widen: dict[int, int] = {}  # row -> its text cell
    across = False  # a section row across the table already
    label_only: dict[int, int] = {}
    for row, members in rows.items():
        texts = [k for k in members if filled(k)]
        if len(members) == 1 and grid[members[0]][3] == n_cols > 1 and not any(t.isdigit() for t in cells[members[0]]):
            across = True  # (a label of words: a row of figures the decoder wrote as one cell says nothing of sections)
        if len(texts) != 1 or len(members) < 2:
            continue
        colspan = grid[texts[0]][3]
        if 1 < colspan < n_cols:
            widen[row] = texts[0]
        elif colspan == 1 and texts[0] == members[0] and grid[texts[0]][1] == 0:
            label_only[row] = texts[0]
    if across or widen:
        widen.update(label_only)
    if not widen:
        return structure, cells, boxes, inked
    boxes = list(boxes)
    for row, kept in widen.items():
        union = [boxes[k] for k in rows[row]]
        boxes[kept] = (min(b[0] for b in union), min(b[1] for b in union), max(b[2] for b in union), max(b[3] for b in union))
    out: list[str] = []
    order: list[int] = []  # the cells kept, in order
    row, cell = -1, -1
    widening = False  # inside a row being made one cell across: its own cells give way
    for token in structure:
        if token == "<tr>":
            row += 1
            widening = row in widen
            if widening:
                out += ["<tr>", "<td", f' colspan="{n_cols}"', ">", "</td>"]
                order.append(widen[row])
                continue
        elif token in ("<td>", "<td"):
            cell += 1
            if not widening:
                order.append(cell)
        elif token == "</tr>":
            widening = False
        if not widening:
            out.append(token)
    return out, [cells[k] for k in order], [boxes[k] for k in order], None if inked is None else [inked[k] for k in order]
