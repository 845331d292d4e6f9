"""Row groups: a label beside empty first cells becomes a rowspan (tablerec.model.row_groups)."""

from __future__ import annotations

from tablerec.model.row_groups import merge_row_groups
from tablerec.table import Table


def table(rows, label_rows=None, lines=None):
    """Structure, cells and boxes of a body of ``rows``: row r's text at y 0.1 r .. 0.1 r + 0.05;
    ``label_rows``: text -> the (fractional) row its line stands at; ``lines``: text -> its lines."""
    html = "<table><tbody>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows) + "</tbody></table>"
    t = Table.from_html(html)
    boxes = []
    for r, row in enumerate(rows):
        for k, text in enumerate(row):
            y = 0.1 * (label_rows or {}).get(text, r)
            boxes.append((0.3 * k, y, 0.3 * k + 0.2, y + 0.05 * (lines or {}).get(text, 1)))
    return t.structure, [c.tokens for c in t.cells], boxes


def spans(structure):
    return [t for t in structure if "rowspan" in t]


def test_a_repeated_label_over_empty_first_cells_becomes_rowspans():
    grouped = [["A", "1", "2"], ["", "3", "4"], ["", "5", "6"], ["B", "7", "8"], ["", "9", "0"]]
    structure, cells, boxes = merge_row_groups(*table(grouped))
    merged = Table.from_html("<table>" + "".join(structure) + "</table>")
    assert spans(structure) == [' rowspan="3"', ' rowspan="2"']
    assert ["".join(c) for c in cells] == ["A", "1", "2", "3", "4", "5", "6", "B", "7", "8", "9", "0"]
    assert len(boxes) == len(cells) and boxes[0][3] > 0.2  # the label's box covers its group
    assert merged.structure == structure
    # One group alone, or a table that already has rowspans, is left as it is.
    once = table([["A", "1"], ["", "3"], ["C", "5"]])
    assert merge_row_groups(*once) == once
    spanned = Table.from_html('<table><tbody><tr><td rowspan="2">A</td><td>1</td></tr><tr><td>2</td></tr>'
                              '<tr><td>B</td><td>3</td></tr><tr><td></td><td>4</td></tr><tr><td>C</td><td>5</td></tr>'
                              '<tr><td></td><td>6</td></tr></tbody></table>')
    args = (spanned.structure, [c.tokens for c in spanned.cells], [(0.0, 0.0, 1.0, 1.0)] * len(spanned.cells))
    assert merge_row_groups(*args) == args


def test_labels_set_in_the_middle_or_at_the_foot_of_their_rows_span_them():
    # Set in the middle: "A" centred on rows 1-3 stands in row 2; "B" centred on rows 4-5 stands between them.
    middle = [["X", "-", "-"], ["", "1", "2"], ["A", "3", "4"], ["", "5", "6"], ["", "7", "8"], ["B", "9", "0"]]
    structure, cells, _ = merge_row_groups(*table(middle, {"A": 2, "B": 4.5}))
    assert spans(structure) == [' rowspan="3"', ' rowspan="2"']
    assert ["".join(c) for c in cells] == ["X", "-", "-", "A", "1", "2", "3", "4", "5", "6", "B", "7", "8", "9", "0"]
    # Empty first cells atop the body are units under the heads, not a group.
    assert merge_row_groups(*table(middle[1:], {"A": 1, "B": 3.5})) == table(middle[1:], {"A": 1, "B": 3.5})
    assert Table.from_html("<table>" + "".join(structure) + "</table>").structure == structure
    # At the foot: the table sets its text at the foot of a row ("5" beside a label of two lines, "W Z",
    # stands at the foot of the row), and a single group is then enough.
    foot = [["W Z", "5"], ["X", "1"], ["", "2"], ["", "3"], ["A", "4"]]
    at_foot = {"5": 0.5, "X": 1.5, "1": 1.5, "2": 2.5, "3": 3.5, "A": 4.5, "4": 4.5}
    structure, cells, _ = merge_row_groups(*table(foot, at_foot, {"W Z": 2}))
    assert spans(structure) == [' rowspan="3"']
    assert ["".join(c) for c in cells] == ["W Z", "5", "X", "1", "A", "2", "3", "4"]
    # Without a row that shows how the table sets its text, the same cells may as well be "X" over two
    # empty cells (at the top, which is merged only where it repeats): left as they are.
    assert merge_row_groups(*table(foot)) == table(foot)
    # A first cell read empty on words of the page is text the reader missed, not an empty cell.
    inked = [False] * 4 + [True] * 6
    assert merge_row_groups(*table(foot, at_foot, {"W Z": 2}), inked) == table(foot, at_foot, {"W Z": 2})


def test_section_labels_are_made_one_cell_across_the_table():
    from tablerec.model.row_groups import widen_section_rows

    def parts(html):
        t = Table.from_html("<table><tbody>" + html + "</tbody></table>")
        return t.structure, [c.tokens for c in t.cells], [(0.1 * i, 0.1 * i, 0.1 * i + 0.05, 0.1 * i + 0.05) for i in range(len(t.cells))]

    def across(structure):
        return "".join(structure).count(' colspan="3"')

    rows = "<tr><td>A</td><td>1</td><td>2</td></tr>"
    # A label spanning two of three columns, the rest of its row empty: a section label across the table.
    partial = parts(rows + '<tr><td colspan="2">Smoking status</td><td></td></tr>' + rows)
    structure, cells, boxes, inked = widen_section_rows(*partial)
    assert across(structure) == 1 and len(cells) == len(boxes) == 7 and inked is None
    assert Table.from_html("<table>" + "".join(structure) + "</table>").structure == structure
    # Where one section label is set across the table, a label beside empty cells is another one.
    alike = parts('<tr><td colspan="3">Assets</td></tr>' + rows + "<tr><td>Liabilities</td><td></td><td></td></tr>" + rows)
    structure, cells, _, inked = widen_section_rows(*alike, [True] * 5 + [False, False] + [True] * 3)
    assert across(structure) == 2 and "".join(cells[4]) == "Liabilities" and inked == [True] * 8
    # Not where the empty cells hold words the reader missed; nor without a label across the table
    # (tables set section labels beside empty cells as often), or where the row across the table is
    # one of figures (a row the decoder wrote as one cell).
    assert widen_section_rows(*alike, [True] * 10)[0] == alike[0]
    alone = parts(rows + "<tr><td>Liabilities</td><td></td><td></td></tr>" + rows)
    assert widen_section_rows(*alone)[0] == alone[0]
    figures = parts('<tr><td colspan="3">Total 1,234</td></tr>' + rows + "<tr><td>Liabilities</td><td></td><td></td></tr>")
    assert widen_section_rows(*figures)[0] == figures[0]
