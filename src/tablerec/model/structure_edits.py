"""Structure edits that the page calls for, made after snapping and before the cells are read.

Rows the page joins: a wrapped header ("Year ended" over "December 31") or a label of two lines
often comes out of the structure decoder as a row per line, most of all on cTDaR's financial
tables.  Snapping sees it: the last line of one row and the first of the next are set as the lines
of one cell (one line's columns within the other's, closer together than rows are;
``snap.Snapped.joined_rows``).  ``join_rows`` removes the lower row and gives its columns to the
cells above it, so that the cell is read whole.  A row is joined only where that is simple and
safe: both rows in the body (a header's rows often differ in their spans: joined on cTDaR, they
kept the upper row's cells where the lower row's were right), no cell of the lower row spanning
rows, and every cell of it exactly under a cell of the row above (the same columns).

Cells the page splits: the decoder sometimes writes one cell across the table where the page has a
cell per column, a units row ("(RMB'000)" over every column of figures) most of all.  Snapping sees
words that each stand in one column, wider apart than word spaces (``snap.Snapped.split_cells``),
and ``split_cells`` makes a plain cell of each column the spanning cell covered.

Columns the page does not have: a logical column in which no cell got a word
(``snap.Snapped.empty_columns``) was, on every test set, one the truth lacks; ``drop_columns``
removes it.
"""

from __future__ import annotations

from ..table import logical_grid


def join_rows(structure: list[str], joined: list[int]) -> tuple[list[str], list[int]] | None:
    """``structure`` (expanded PubTabNet tokens) with each row ``r + 1`` for ``r`` in ``joined``
    folded into row ``r``.  Returns the new structure and, per cell of the old one, the index of the
    new cell it is now part of (a kept cell: itself, renumbered); None if no row could be joined."""
    n_cells = sum(1 for t in structure if t in ("<td>", "<td"))
    into = list(range(n_cells))  # old cell -> current cell
    changed = False
    for r in sorted(set(joined), reverse=True):  # bottom up: a chain of joins folds into its top row
        result = _join_one(structure, r)
        if result is None:
            continue
        structure, mapping = result
        into = [mapping[c] for c in into]
        changed = True
    return (structure, into) if changed else None


def _join_one(structure: list[str], r: int) -> tuple[list[str], list[int]] | None:
    """Fold row ``r + 1`` into row ``r``: (new structure, old cell -> new cell), or None if unsafe."""
    grid = logical_grid(structure)
    covering = [i for i, (row, _, rowspan, _, _) in enumerate(grid) if row <= r < row + rowspan]
    lower = [i for i, (row, *_) in enumerate(grid) if row == r + 1]
    n_rows = max((row + rowspan for row, _, rowspan, _, _ in grid), default=0)
    if not covering or r + 1 >= n_rows:
        return None
    if any(grid[i][4] for i in covering + lower):
        return None  # header rows: their cells of several lines are often rows of their own
    target: dict[int, int] = {}
    for i in lower:
        _, col, rowspan, colspan, _ = grid[i]
        above = [j for j in covering if grid[j][1] == col and grid[j][3] == colspan]
        if rowspan > 1 or len(above) != 1:
            return None  # not a cell exactly under one of the row above: the two rows disagree on the columns
        target[i] = above[0]
    # Cells from above that span over row r + 1 lose that row.
    shrink = {j for j in covering if grid[j][0] + grid[j][2] > r + 1}
    out: list[str | list[str]] = []
    row, cell = -1, -1
    skipping = False
    for item in _items(structure):
        if item == "<tr>":
            row += 1
            skipping = row == r + 1
        if isinstance(item, list):
            cell += 1
            if cell in shrink:
                item = _with_span(item, "rowspan", _span(item, "rowspan") - 1)
        if skipping:
            skipping = item != "</tr>"
            continue
        out.append(item)
    renumber: dict[int, int] = {}
    for i in range(len(grid)):
        if i not in target:
            renumber[i] = len(renumber)
    return _tokens(out), [renumber[target.get(i, i)] for i in range(len(grid))]


def split_cells(structure: list[str], split: list[int]) -> tuple[list[str], list[int]] | None:
    """``structure`` (expanded tokens) with each cell in ``split`` (spanning columns, not rows) made
    one plain cell per column it spans.  Returns the new structure and, per new cell, the old cell it
    comes from; None if no cell could be split."""
    split = set(split)
    out: list[str | list[str]] = []
    source: list[int] = []
    cell = -1
    changed = False
    for item in _items(structure):
        if isinstance(item, list):
            cell += 1
            colspan = _span(item, "colspan")
            if cell in split and colspan is not None and _span(item, "rowspan") is None:
                out += [[], "</td>"] * (colspan - 1) + [[]]  # the last cell's </td> follows
                source += [cell] * colspan
                changed = True
                continue
            source.append(cell)
        out.append(item)
    return (_tokens(out), source) if changed else None


def drop_columns(structure: list[str], columns: list[int]) -> tuple[list[str], list[int]] | None:
    """``structure`` (expanded tokens) without the logical ``columns``: their cells removed, cells
    spanning over them narrowed.  Returns the new structure and the old index of each cell kept;
    None if nothing was dropped (a column whose removal would leave a row without a cell is kept)."""
    grid = logical_grid(structure)

    def widths(dropped: set[int]) -> list[int]:
        return [colspan - sum(1 for k in range(c, c + colspan) if k in dropped) for _, c, _, colspan, _ in grid]

    dropped: set[int] = set()
    for col in sorted(set(columns)):
        width = widths(dropped | {col})
        if all(any(width[i] for i, place in enumerate(grid) if place[0] == row) for row in {place[0] for place in grid}):
            dropped.add(col)
    if not dropped:
        return None
    width = widths(dropped)
    out: list[str | list[str]] = []
    cell = -1
    skipping = False
    for item in _items(structure):
        if isinstance(item, list):
            cell += 1
            skipping = width[cell] == 0
            if width[cell] != grid[cell][3]:
                item = _with_span(item, "colspan", width[cell])
        if skipping:
            skipping = item != "</td>"  # a removed cell: its opening and its </td>
            continue
        out.append(item)
    return _tokens(out), [i for i, w in enumerate(width) if w > 0]


# Expanded structure tokens with each cell opening ("<td>", or "<td" + attributes + ">") as one item:
# the list of its attribute tokens ([] for "<td>"), so that an edit can read or change a cell's spans.

def _items(structure: list[str]) -> list[str | list[str]]:
    items: list[str | list[str]] = []
    opening: list[str] | None = None
    for token in structure:
        if opening is not None:
            if token == ">":
                items.append(opening)
                opening = None
            else:
                opening.append(token)
        elif token == "<td":
            opening = []
        else:
            items.append([] if token == "<td>" else token)
    return items


def _tokens(items: list[str | list[str]]) -> list[str]:
    tokens: list[str] = []
    for item in items:
        if isinstance(item, list):
            tokens += ["<td", *item, ">"] if item else ["<td>"]
        else:
            tokens.append(item)
    return tokens


def _span(attributes: list[str], name: str) -> int | None:
    """A cell opening's ``rowspan`` or ``colspan``, None if it has none."""
    for attribute in attributes:
        if attribute.startswith(f" {name}="):
            return int(attribute.split('"')[1])
    return None


def _with_span(attributes: list[str], name: str, n: int) -> list[str]:
    """A cell opening's attributes with its ``rowspan`` or ``colspan`` set to ``n`` (left out at 1)."""
    prefix = f" {name}="
    if n > 1:
        return [f'{prefix}"{n}"' if a.startswith(prefix) else a for a in attributes]
    return [a for a in attributes if not a.startswith(prefix)]
