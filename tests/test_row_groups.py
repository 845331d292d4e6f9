"""Row groups: a repeated label over empty first cells becomes rowspans (tablerec.model.row_groups)."""

from __future__ import annotations


def test_a_repeated_label_over_empty_first_cells_becomes_rowspans():
    from tablerec.model.row_groups import merge_row_groups
    from tablerec.table import Table

    def table(rows):
        html = "<table><tbody>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows) + "</tbody></table>"
        t = Table.from_html(html)
        return t.structure, [c.tokens for c in t.cells], [(0.0, 0.1 * i, 1.0, 0.1 * i + 0.05) for i in range(len(t.cells))]

    grouped = [["A", "1", "2"], ["", "3", "4"], ["", "5", "6"], ["B", "7", "8"], ["", "9", "0"]]
    structure, cells, boxes = merge_row_groups(*table(grouped))
    merged = Table.from_html("<table>" + "".join(structure) + "</table>")
    assert [t for t in structure if "rowspan" in t] == [' rowspan="3"', ' rowspan="2"']
    assert ["".join(c) for c in cells] == ["A", "1", "2", "3", "4", "5", "6", "B", "7", "8", "9", "0"]
    assert len(boxes) == len(cells) and boxes[0][3] > 0.1  # the label's box covers its group
    assert merged.structure == structure
    # One group alone, or a table that already has rowspans, is left as it is.
    once = table([["A", "1"], ["", "3"], ["C", "5"]])
    assert merge_row_groups(*once) == once
    spanned = Table.from_html('<table><tbody><tr><td rowspan="2">A</td><td>1</td></tr><tr><td>2</td></tr>'
                              '<tr><td>B</td><td>3</td></tr><tr><td></td><td>4</td></tr><tr><td>C</td><td>5</td></tr>'
                              '<tr><td></td><td>6</td></tr></tbody></table>')
    args = (spanned.structure, [c.tokens for c in spanned.cells], [(0.0, 0.0, 1.0, 1.0)] * len(spanned.cells))
    assert merge_row_groups(*args) == args
