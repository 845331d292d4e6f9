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

Rows the decoder left out: a line of the page that no row of the structure took, most often a section
label ("Investing activities") over the rows below it, or the second of two rows the decoder wrote as
one (``snap.Snapped.missing_rows``).  ``insert_rows`` gives each a row: a cell per column, except for a
section label where the table sets no other section row as a label beside empty cells: one cell
across the table.  Not inside a cell spanning rows, not in the header, and, right under the header,
only a section label or a label with a figure or two beside it (a line across the columns there is as
often the header's second line).

Cells the page joins: text that runs on from one cell past the start of the next column's ink
belongs to one cell spanning both (a table's columns are as wide as their widest cell); the decoder
seldom writes a body cell spanning some columns but not all (``snap.Snapped.joined_cells``), and
``join_cells`` makes the two one.

Columns the decoder left out: the page shows the ink of one logical column as two columns, each
filled in most rows (``snap.Snapped.missing_columns``), most often under a header that spans both,
which the decoder wrote as one cell over one column.  ``insert_columns`` puts a column in the gap: a
cell whose text runs across the gap (that header) spans it, every other cell of the column gets a
new cell beside it.

The header's second row: the column heads under a head that spans columns ("Change | Doubtless"
under "Operating profit") often come out of the decoder as the first body row, with empty cells
under the heads beside them.  ``promote_header_row`` moves that row into the header and lets the
heads beside span down over it.

The header's last rows: a header of two or three rows (a spanning head over "Mean | SD") often comes
out of the decoder with only its first row in the header.  Many tables rule the header off from the
body with a rule across the table (``snap.Snapped.ruled_row``); ``extend_header`` makes the header
reach down to it, where the rows it takes in are few, have no word in their first column (a row
label starts the body) and are not the wrapped lines of the heads above (``beam._extended_header``).

Columns the page does not have: a logical column in which no cell got a word
(``snap.Snapped.empty_columns``) was, on every test set, one the truth lacks; ``drop_columns``
removes it, and so a column the page shows no ink of whose words all lie in the ink of a
neighbouring column (one column the decoder wrote as two).  A column of currency signs set apart from their figures ("$   45,687", in
annual reports; ``snap.Snapped.symbol_columns``) is dropped too: the truth keeps each sign in its
figure's cell, which is made to reach over it.
"""

from __future__ import annotations

from ..table import logical_grid
from .snap import MissingRow


def join_rows(structure: list[str], joined: list[int], has_words: list[bool] | None = None) -> tuple[list[str], list[int]] | None:
    """``structure`` (expanded PubTabNet tokens) with each row ``r + 1`` for ``r`` in ``joined``
    folded into row ``r``.  Returns the new structure and, per cell of the old one, the index of the
    new cell it is now part of (a kept cell: itself, renumbered); None if no row could be joined.

    Rows join in the body only, but for the first body row under the header's last: a head wrapped
    onto a line that the decoder made a row of its own.  That row is folded into the header only if
    ``has_words`` (per cell, whether snapping gave it words) shows words in a third of its cells or
    fewer, none in the first column (a label there starts a section; heads under a spanning head
    fill more of the row)."""
    grid = logical_grid(structure)
    into_head = None
    head = [row for row, *_, in_head in grid if in_head]
    if has_words is not None and head and max(head) in joined:
        lower = [i for i, (row, *_) in enumerate(grid) if row == max(head) + 1]
        filled = [i for i in lower if has_words[i]]
        if lower and filled and 3 * len(filled) <= len(lower) and all(grid[i][1] > 0 for i in filled):
            into_head = max(head)
    n_cells = len(grid)
    into = list(range(n_cells))  # old cell -> current cell
    changed = False
    for r in sorted(set(joined), reverse=True):  # bottom up: a chain of joins folds into its top row
        result = _join_one(structure, r, r == into_head)
        if result is None:
            continue
        structure, mapping = result
        into = [mapping[c] for c in into]
        changed = True
    return (structure, into) if changed else None


def _join_one(structure: list[str], r: int, into_head: bool = False) -> tuple[list[str], list[int]] | None:
    """Fold row ``r + 1`` into row ``r``: (new structure, old cell -> new cell), or None if unsafe
    (``into_head``: row ``r`` may be the header's last row)."""
    grid = logical_grid(structure)
    covering = [i for i, (row, _, rowspan, _, _) in enumerate(grid) if row <= r < row + rowspan]
    lower = [i for i, (row, *_) in enumerate(grid) if row == r + 1]
    n_rows = max((row + rowspan for row, _, rowspan, _, _ in grid), default=0)
    if not covering or r + 1 >= n_rows:
        return None
    if any(grid[i][4] for i in lower) or any(grid[i][4] for i in covering) and not (into_head and all(grid[i][4] for i in covering)):
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


def join_cells(structure: list[str], pairs: list[tuple[int, int]]) -> tuple[list[str], list[int]] | None:
    """``structure`` (expanded tokens) with the right cell of each pair ``(i, j)`` (side by side in a
    row, neither spanning rows) folded into the left one, which spans its columns too; chains fold
    into their first cell.  Returns the new structure and, per old cell, the new cell it is now
    (part of); None if no pair was joined."""
    grid = logical_grid(structure)
    into = list(range(len(grid)))
    for i, j in sorted(pairs):
        if grid[i][2] == grid[j][2] == 1 and grid[i][0] == grid[j][0] and grid[i][1] + grid[i][3] == grid[j][1]:
            into[j] = into[i]
    if into == list(range(len(grid))):
        return None
    width = [0] * len(grid)
    for k, root in enumerate(into):
        width[root] += grid[k][3]
    roots = sorted(set(into))
    return _respanned(structure, width, {k for k, root in enumerate(into) if root != k}), [roots.index(root) for root in into]


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
    return _respanned(structure, width, {i for i, w in enumerate(width) if w == 0}), [i for i, w in enumerate(width) if w > 0]


def insert_columns(structure: list[str], columns: list[int], across: list[list[int]]) -> tuple[list[str], list[int | tuple[int, int]]]:
    """``structure`` (expanded tokens) with a new logical column after each of ``columns``; the cells
    ending in such a column whose text runs across into the new one (``across``, one list per entry of
    ``columns``) span it, every other cell ending there gets a new cell after it (as many rows tall),
    and a cell spanning past it spans the new one too.  Returns the new structure and, per cell of it,
    its old index or, for a new cell, ``(old index of the cell beside it, 0)``."""
    source: list[int | tuple[int, int]] = list(range(len(logical_grid(structure))))
    for col, spans_it in sorted(zip(columns, across), reverse=True):  # right to left: columns to the left keep their numbers
        grid = logical_grid(structure)
        spans_it = {i for i, origin in enumerate(source) if origin in spans_it}
        out: list[str | list[str]] = []
        new_source: list[int | tuple[int, int]] = []
        cell = -1
        pending: list[str] | None = None  # the cell whose </td> is to be followed by a new cell
        for item in _items(structure):
            if isinstance(item, list):
                cell += 1
                _, c, rowspan, colspan, _ = grid[cell]
                new_source.append(source[cell])
                if c <= col < c + colspan - 1 or (c + colspan - 1 == col and cell in spans_it):
                    item = _with_span(item, "colspan", colspan + 1)
                elif c + colspan - 1 == col:
                    pending = [' rowspan="%d"' % rowspan] if rowspan > 1 else []
                    new_source.append((source[cell] if isinstance(source[cell], int) else source[cell][0], 0))
            out.append(item)
            if item == "</td>" and pending is not None:
                out += [pending, "</td>"]
                pending = None
        structure, source = _tokens(out), new_source
    return structure, source


def promote_header_row(structure: list[str], has_words: list[bool]) -> tuple[list[str], list[int]] | None:
    """``structure`` (expanded tokens) with its first body row moved into the header if it is the
    header's second row: the last header row has cells spanning columns, and the body row has words
    under those alone; beside them it has only empty plain cells, each right
    under a plain header cell that ends above it, which then spans down over it instead.  Returns
    the new structure and the old index of each cell kept; None if the rows are not so."""
    grid = logical_grid(structure)
    head = [row for row, *_, in_head in grid if in_head]
    if not head:
        return None
    last = max(head)
    spanned = {col for row, c, rowspan, colspan, in_head in grid if in_head and colspan > 1 and row + rowspan - 1 == last
                for col in range(c, c + colspan)}
    lower = [i for i, (row, *_) in enumerate(grid) if row == last + 1]
    if not spanned or not lower or any(grid[i][4] for i in lower):
        return None
    under = [i for i in lower if grid[i][1] in spanned]
    beside = [i for i in lower if i not in under]
    if not any(has_words[i] for i in under) or any(grid[i][1] + grid[i][3] - 1 not in spanned for i in under):
        return None
    grow: list[int] = []
    for i in beside:
        _, col, rowspan, colspan, _ = grid[i]
        above = [j for j, (row, c, rs, cs, _) in enumerate(grid) if c == col and cs == 1 and row + rs - 1 == last]
        if has_words[i] or rowspan > 1 or colspan > 1 or len(above) != 1:
            return None
        grow.append(above[0])
    out: list[str | list[str]] = []
    cell = -1
    skipping = False
    row = -1
    for item in _items(structure):
        if item in ("</thead>", "<tbody>"):
            continue  # put back after the promoted row
        if item == "<tr>":
            row += 1
        if isinstance(item, list):
            cell += 1
            skipping = cell in beside
            if cell in grow:
                item = _with_span(item, "rowspan", grid[cell][2] + 1)
        if skipping:
            skipping = item != "</td>"
            continue
        out.append(item)
        if item == "</tr>" and row == last + 1:
            out += ["</thead>", "<tbody>"]
    if out[-2:] == ["<tbody>", "</tbody>"]:
        return None  # the body would be empty
    return _tokens(out), [i for i in range(len(grid)) if i not in beside]


def extend_header(structure: list[str], rows: int) -> list[str] | None:
    """``structure`` (expanded tokens) with its header made ``rows`` rows long, the body rows under it
    moved in; None if the header has no row or ``rows`` rows already, or the body would be left empty."""
    grid = logical_grid(structure)
    head = {row for row, *_, in_head in grid if in_head}
    n_rows = max((row + rowspan for row, _, rowspan, _, _ in grid), default=0)
    if not head or rows <= len(head) or rows >= n_rows or "<thead>" not in structure:
        return None
    out: list[str] = []
    row = -1
    for token in structure:
        if token in ("</thead>", "<tbody>"):
            continue  # put back after the header's new last row
        if token == "<tr>":
            row += 1
        out.append(token)
        if token == "</tr>" and row == rows - 1:
            out += ["</thead>", "<tbody>"]
    return out


HEAD_LINE_COLUMNS = 2  # right under the header, a line filling more columns than this may be the header's


def insert_rows(structure: list[str], missing: list[MissingRow],
                has_words: list[bool]) -> tuple[list[str], list[int | tuple[int, int, int]]] | None:
    """``structure`` (expanded tokens) with a new body row before logical row ``r`` (or after the last)
    for each ``(r, top, bottom, label, columns)`` of ``missing`` (``label``: a section label, its words
    in the first column alone; ``columns``: how many columns its words fill; ``has_words``: per cell,
    whether snapping gave it words).  Returns the
    new structure and, per cell of it, the old cell's index or, for a new cell, (its entry in
    ``missing``, its column, its colspan); None if no row was inserted."""
    grid = logical_grid(structure)
    if not grid:
        return None
    n_rows = max(row + rowspan for row, _, rowspan, _, _ in grid)
    n_cols = max(col + colspan for _, col, _, colspan, _ in grid)
    head_rows = {row for row, _, _, _, in_head in grid if in_head}
    body_starts = {row for row, *_ in grid} - head_rows
    # How the table sets its other section rows: a label beside empty cells, or one cell across.  A
    # cell across is the safer guess: against a label beside empty cells it costs TEDS about what
    # leaving the row out does, while a label beside empty cells against a cell across costs more.
    cells_of: dict[int, list[int]] = {}
    for i, (row, *_rest) in enumerate(grid):
        cells_of.setdefault(row, []).append(i)
    beside_empty = any(
        len(cells) == n_cols > 1 and has_words[cells[0]] and not any(has_words[i] for i in cells[1:])
        for row, cells in cells_of.items() if row in body_starts
    )
    across = any(col == 0 and colspan == n_cols and not in_head for _, col, _, colspan, in_head in grid)
    as_label = beside_empty and not across
    before: dict[int, int] = {}
    first_body = min(body_starts, default=n_rows)
    for k, (r, _, _, label, columns) in enumerate(missing):
        inside_span = any(row < r < row + rowspan for row, _, rowspan, _, _ in grid)
        # Right under the header, a line across the columns is as often the header's second line (a
        # label with a figure or two beside it is not: held-out 0's "Control ... 1.1 (0.3)").
        under_header = r == first_body and bool(head_rows) and not label and columns > HEAD_LINE_COLUMNS
        if 0 < r <= n_rows and (r in body_starts or r == n_rows) and not inside_span and not under_header and r not in before:
            before[r] = k
    out: list[str] = []
    source: list[int | tuple[int, int, int]] = []

    def add_row(k: int) -> None:
        if missing[k][3] and not as_label:  # a section label: one cell across the table
            out.extend(["<tr>", "<td", f' colspan="{n_cols}"', ">", "</td>", "</tr>"])
            source.append((k, 0, n_cols))
        else:
            out.extend(["<tr>", *(["<td>", "</td>"] * n_cols), "</tr>"])
            source.extend((k, col, 1) for col in range(n_cols))

    row, cell = -1, -1
    for token in structure:
        if token == "<tr>":
            row += 1
            if row in before:
                add_row(before.pop(row))
        elif token in ("<td>", "<td"):
            cell += 1
            source.append(cell)
        elif token == "</tbody>" and row == n_rows - 1 and n_rows in before:
            add_row(before.pop(n_rows))  # after the last row
        out.append(token)
    return (out, source) if len(source) > cell + 1 else None


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


def _respanned(structure: list[str], colspans: list[int], removed: set[int]) -> list[str]:
    """``structure`` (expanded tokens) with the cells in ``removed`` left out (opening and ``</td>``)
    and every other cell spanning ``colspans[cell]`` columns."""
    out: list[str | list[str]] = []
    cell = -1
    skipping = False
    for item in _items(structure):
        if isinstance(item, list):
            cell += 1
            skipping = cell in removed
            if not skipping and colspans[cell] != (_span(item, "colspan") or 1):
                item = _with_span(item, "colspan", colspans[cell])
        if skipping:
            skipping = item != "</td>"
            continue
        out.append(item)
    return _tokens(out)


def _span(attributes: list[str], name: str) -> int | None:
    """A cell opening's ``rowspan`` or ``colspan``, None if it has none."""
    for attribute in attributes:
        if attribute.startswith(f" {name}="):
            return int(attribute.split('"')[1])
    return None


def _with_span(attributes: list[str], name: str, n: int) -> list[str]:
    """A cell opening's attributes with its ``rowspan`` or ``colspan`` set to ``n`` (left out at 1;
    added where the cell had none: a rowspan first, a colspan last)."""
    prefix = f" {name}="
    if n <= 1:
        return [a for a in attributes if not a.startswith(prefix)]
    if not any(a.startswith(prefix) for a in attributes):
        return [f'{prefix}"{n}"', *attributes] if name == "rowspan" else [*attributes, f'{prefix}"{n}"']
    return [f'{prefix}"{n}"' if a.startswith(prefix) else a for a in attributes]
