"""Row groups: a label followed by empty first cells is one cell spanning those rows.

Scientific tables group body rows under a label in the first column ("DHS WI" over three models,
PubTabNet PMC5332562_005_00), and PubTabNet's annotations make that label one cell with a rowspan.
The structure decoder rarely writes those rowspans: it gives each row its own first cell and the
label's rows below come out empty.  Once the cell text is read, ``merge_row_groups`` turns such a
pattern back into rowspans, but only where it repeats (two groups or more in a body), only in a
table without rowspans of its own, and only over rows that hold other cells.
"""

from __future__ import annotations

MIN_GROUPS = 2  # a single label over empty cells is as often a label over truly empty cells


def _has_text(tokens: list[str]) -> bool:
    return any(len(t) == 1 and not t.isspace() for t in tokens)


def merge_row_groups(
    structure: list[str], cells: list[list[str]], boxes: list[tuple[float, float, float, float]],
) -> tuple[list[str], list[list[str]], list[tuple[float, float, float, float]]]:
    """``structure`` (expanded PubTabNet tokens), its ``cells`` (content tokens) and ``boxes`` with
    each repeated row group's label made a rowspan cell (its box the union of the group's first
    cells) and the empty first cells under it removed.  Returned unchanged where nothing applies."""
    if any(t.startswith(" rowspan=") for t in structure):
        return structure, cells, boxes
    # Per body row: (index in structure of its first cell's opening, that cell's index, cells in the row).
    rows: list[list[tuple[int, int, int]]] = []  # per tbody: its rows
    cell = -1
    in_body = False
    first: tuple[int, int] | None = None
    n_cells = 0
    for i, token in enumerate(structure):
        if token == "<tbody>":
            in_body = True
            rows.append([])
        elif token == "</tbody>":
            in_body = False
        elif token == "<tr>":
            first, n_cells = None, 0
        elif token in ("<td>", "<td"):
            cell += 1
            n_cells += 1
            if first is None:
                colspan = token == "<td" and structure[i + 1].startswith(" colspan=")
                first = (i, cell) if not colspan else (-1, cell)
        elif token == "</tr>" and in_body and first is not None:
            rows[-1].append((first[0], first[1], n_cells))
    merges: list[tuple[int, int, list[int]]] = []  # (label's token index, label cell, cells removed)
    for body in rows:
        groups = []
        r = 0
        while r < len(body):
            token_index, label, _ = body[r]
            below = []
            if token_index >= 0 and _has_text(cells[label]):
                while r + 1 + len(below) < len(body):
                    next_index, next_cell, next_cells = body[r + 1 + len(below)]
                    if next_index < 0 or next_cells < 2 or _has_text(cells[next_cell]):
                        break
                    below.append(next_cell)
            if below:
                groups.append((token_index, label, below))
            r += 1 + len(below)
        if len(groups) >= MIN_GROUPS:
            merges += groups
    if not merges:
        return structure, cells, boxes
    removed = {c for _, _, below in merges for c in below}
    label_span = {token_index: (label, below) for token_index, label, below in merges}
    out: list[str] = []
    cell = -1
    skip_close = False
    for i, token in enumerate(structure):
        if token in ("<td>", "<td"):
            cell += 1
            if cell in removed:
                skip_close = True  # the removed cells are plain "<td>" "</td>"
                continue
        if skip_close and token == "</td>":
            skip_close = False
            continue
        if i in label_span:
            out += ["<td", f' rowspan="{len(label_span[i][1]) + 1}"', ">"]
            continue
        out.append(token)
    new_boxes = list(boxes)
    for label, below in label_span.values():
        group = [boxes[label], *(boxes[c] for c in below)]
        new_boxes[label] = (min(b[0] for b in group), min(b[1] for b in group), max(b[2] for b in group), max(b[3] for b in group))
    keep = [c for c in range(len(cells)) if c not in removed]
    return out, [cells[c] for c in keep], [new_boxes[c] for c in keep]
