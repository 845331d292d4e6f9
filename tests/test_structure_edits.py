"""Structure edits the page calls for: a cell's second line decoded as a row of its own is folded
back; a spanning cell whose words stand in separate columns is split; a column the page shows as
two is split, and the column heads under a spanning head go into the header."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tablerec.model.edd import EDDConfig, prepare_page
from tablerec.model.structure_edits import (drop_columns, extend_header, insert_columns, insert_rows, join_cells, join_rows, promote_header_row,
                                            split_cells)
from tablerec.model.snap import MissingRow, snap_boxes
from tablerec.table import logical_grid


def _structure(rows: list[list[str]], head: int = 0) -> list[str]:
    """Expanded structure tokens from rows of cell openings ('<td>' or '<td rowspan="2">')."""
    out: list[str] = []

    def row_tokens(row: list[str]) -> list[str]:
        tokens = ["<tr>"]
        for opening in row:
            if opening == "<td>":
                tokens += ["<td>", "</td>"]
            else:
                tokens += ["<td", " " + opening[4:-1], ">", "</td>"]
        return tokens + ["</tr>"]

    if head:
        out += ["<thead>", *sum((row_tokens(r) for r in rows[:head]), []), "</thead>"]
    out += ["<tbody>", *sum((row_tokens(r) for r in rows[head:]), []), "</tbody>"]
    return out


def test_a_row_is_folded_into_the_row_above():
    structure = _structure([["<td>", "<td>"], ["<td>", "<td>"], ["<td>", "<td>"]])
    new, into = join_rows(structure, [0])
    assert new == _structure([["<td>", "<td>"], ["<td>", "<td>"]])
    assert into == [0, 1, 0, 1, 2, 3]  # the second row's cells are now part of the first row's


def test_a_chain_of_joins_folds_into_its_top_row_and_rowspans_shrink():
    structure = _structure([['<td rowspan="3">', "<td>"], ["<td>"], ["<td>"], ["<td>", "<td>"]])
    new, into = join_rows(structure, [0, 1])
    assert new == _structure([["<td>", "<td>"], ["<td>", "<td>"]])
    assert into == [0, 1, 1, 1, 2, 3]


def test_the_first_body_row_is_folded_into_the_header_if_it_is_a_heads_wrapped_line():
    # A head wrapped onto a second line ("Peasant meowing" / "boasted") that the decoder made the
    # first body row: one word, under the head, in a row of six cells.
    structure = _structure([["<td>"] * 6, ["<td>"] * 6, ["<td>"] * 6], head=1)
    words = [True] * 6 + [False, False, False, False, True, False] + [True] * 6
    new, into = join_rows(structure, [0], words)
    assert new == _structure([["<td>"] * 6, ["<td>"] * 6], head=1)
    assert into[6:12] == [0, 1, 2, 3, 4, 5]
    assert join_rows(structure, [0]) is None  # without the words: the header is left alone
    # A label in the first column starts a section; words in half the row are heads of their own.
    assert join_rows(structure, [0], [True] * 6 + [True] + [False] * 5 + [True] * 6) is None
    assert join_rows(structure, [0], [True] * 6 + [False, True, True, True, False, False] + [True] * 6) is None


def test_rows_are_joined_in_the_body_only_and_where_their_columns_agree():
    header_and_body = _structure([["<td>", "<td>"], ["<td>", "<td>"]], head=1)
    assert join_rows(header_and_body, [0]) is None
    header = _structure([["<td>", "<td>"], ["<td>", "<td>"], ["<td>", "<td>"]], head=2)
    assert join_rows(header, [0]) is None
    spanning_below = _structure([["<td>", "<td>"], ['<td colspan="2">']])
    assert join_rows(spanning_below, [0]) is None
    spanning_above = _structure([['<td colspan="2">'], ["<td>", "<td>"]])
    assert join_rows(spanning_above, [0]) is None
    assert join_rows(spanning_below, [5]) is None  # no such row


def _font(size: int):
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default()


XS = (10, 150, 240, 320)  # the four columns' left edges


def _wrapped_label_page() -> np.ndarray:
    """Four columns; the first row's label wraps onto a second line ("continued"), set as close as
    the lines of one cell; two more rows."""
    image = Image.new("L", (400, 130), 255)
    draw = ImageDraw.Draw(image)
    font = _font(14)
    draw.text((XS[0], 10), "Wrapped label", font=font, fill=0)
    for x, text in zip(XS[1:], ("12.5", "3,410", "0.82")):
        draw.text((x, 10), text, font=font, fill=0)
    draw.text((XS[0], 27), "continued here", font=font, fill=0)
    for y, values in ((62, ("7.1", "2,003", "0.44")), (96, ("9.8", "1,977", "0.51"))):
        draw.text((XS[0], y), "Another row", font=font, fill=0)
        for x, text in zip(XS[1:], values):
            draw.text((x, y), text, font=font, fill=0)
    return prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()


def _decoded_as_four_rows() -> tuple[list[str], np.ndarray]:
    """What the decoder made of it: four rows of four cells, the label's second line a row of its
    own; the box head's boxes where it thought each row was, each column at its text."""
    structure = _structure([["<td>"] * 4] * 4)
    tops = (10, 27, 62, 96)
    boxes = np.array([[XS[c] / 400, tops[r] / 130, (XS[c] + 70) / 400, (tops[r] + 16) / 130] for r in range(4) for c in range(4)])
    return structure, boxes


def test_snapping_reports_a_wrapped_label_decoded_as_its_own_row():
    page = _wrapped_label_page()
    structure, boxes = _decoded_as_four_rows()
    grid = [place[:4] for place in logical_grid(structure)]
    snapped = snap_boxes(page, boxes, grid)
    assert snapped.joined_rows == [0]
    new, into = join_rows(structure, snapped.joined_rows)
    assert new.count("<tr>") == 3
    joined = snap_boxes(page, boxes[[into.index(k) for k in range(max(into) + 1)]], [p[:4] for p in logical_grid(new)])
    assert len(joined.pieces[0]) == 2  # the label is read from both its lines



def test_no_rows_are_joined_on_a_dark_band(ctdar):
    # cTDaR t10053's header is light text on a dark band, which binarises to fragments of letters
    # that looked like the first body row's upper lines: joined, the table lost a row.
    from tablerec.inference import Predictor

    table = Predictor().recognize(ctdar / "images" / "cTDaR_t10053_0.png")
    assert table.n_rows == 6


def test_a_spanning_cell_is_split_into_its_columns():
    structure = _structure([["<td>", '<td colspan="3">'], ["<td>", "<td>", "<td>", "<td>"]])
    new, source = split_cells(structure, [1])
    assert new == _structure([["<td>"] * 4] * 2)
    assert source == [0, 1, 1, 1, 2, 3, 4, 5]
    assert split_cells(structure, [0]) is None  # not a spanning cell
    assert split_cells(_structure([['<td rowspan="2" colspan="2">'], []]), [0]) is None  # spans rows too


def test_snapping_reports_a_spanning_cell_whose_words_stand_in_separate_columns():
    # A title centred over three columns stays one cell; a units row that the decoder made one
    # spanning cell, "(RMB)" under each column, is three cells.
    image = Image.new("L", (400, 130), 255)
    draw = ImageDraw.Draw(image)
    font = _font(14)
    draw.text((170, 8), "As of December 31", font=font, fill=0)
    for x in XS[1:]:
        draw.text((x, 30), "(RMB)", font=font, fill=0)
    for y, values in ((62, ("7.1", "2,003", "0.44")), (96, ("9.8", "1,977", "0.51"))):
        draw.text((XS[0], y), "A row", font=font, fill=0)
        for x, text in zip(XS[1:], values):
            draw.text((x, y), text, font=font, fill=0)
    page = prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()
    structure = _structure([["<td>", '<td colspan="3">'], ["<td>", '<td colspan="3">'], ["<td>"] * 4, ["<td>"] * 4])
    grid = [place[:4] for place in logical_grid(structure)]
    tops = (8, 30, 62, 96)
    boxes = []
    for r, c, _, cs in grid:
        right = XS[c + cs - 1] + 70 if c + cs < 4 else 395
        boxes.append([XS[c] / 400, tops[r] / 130, right / 400, (tops[r] + 16) / 130])
    snapped = snap_boxes(page, np.array(boxes), grid)
    assert list(snapped.split_cells) == [3]  # the units row's spanning cell, not the title
    assert len(snapped.split_cells[3]) == 3


def test_empty_columns_are_dropped_and_spans_over_them_narrowed():
    structure = _structure([["<td>", "<td>", "<td>"], ['<td colspan="3">'], ["<td>", "<td>", "<td>"]])
    new, keep = drop_columns(structure, [1])
    assert new == _structure([["<td>", "<td>"], ['<td colspan="2">'], ["<td>", "<td>"]])
    assert keep == [0, 2, 3, 4, 6]
    # A column is kept where dropping it would leave a row without a cell.
    assert drop_columns(_structure([["<td>", "<td>"], ["<td>"]]), [0]) is None


def test_snapping_reports_a_column_without_words():
    # Three columns drawn; the decoder counted four (its third column holds nothing on the page).
    image = Image.new("L", (400, 100), 255)
    draw = ImageDraw.Draw(image)
    font = _font(14)
    for y in (10, 40, 70):
        for x, text in ((10, "Label"), (150, "12.5"), (320, "0.82")):
            draw.text((x, y), text, font=font, fill=0)
    page = prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()
    structure = _structure([["<td>"] * 4] * 3)
    grid = [place[:4] for place in logical_grid(structure)]
    xs = (10, 150, 240, 320)
    boxes = np.array([[xs[c] / 400, (10 + 30 * r) / 100, (xs[c] + 60) / 400, (26 + 30 * r) / 100] for r in range(3) for c in range(4)])
    assert snap_boxes(page, boxes, grid).empty_columns == [2]


def test_a_missing_row_is_inserted_as_the_table_sets_its_section_rows():
    structure = _structure([["<td>", "<td>", "<td>"], ["<td>", "<td>", "<td>"], ["<td>", "<td>", "<td>"]], head=1)
    # No section row of its own: one cell across the table, before body row 2.
    new, source = insert_rows(structure, [MissingRow(2, 0.5, 0.6, True, 1)], [True] * 9)
    assert new == _structure([["<td>"] * 3, ["<td>"] * 3, ['<td colspan="3">'], ["<td>"] * 3], head=1)
    assert source == [0, 1, 2, 3, 4, 5, (0, 0, 3), 6, 7, 8]
    # A body row that is a label beside empty cells: the new row is set so too.
    has_words = [True, True, True, True, False, False, True, True, True]
    new, source = insert_rows(structure, [MissingRow(2, 0.5, 0.6, True, 1)], has_words)
    assert new == _structure([["<td>"] * 3] * 4, head=1)
    assert source[6:9] == [(0, 0, 1), (0, 1, 1), (0, 2, 1)]
    # A row of the body (not a section label): a cell per column, also after the last row.
    new, source = insert_rows(structure, [MissingRow(2, 0.5, 0.6, False, 3), MissingRow(3, 0.8, 0.9, False, 3)], [True] * 9)
    assert new == _structure([["<td>"] * 3] * 5, head=1)
    assert source[-3:] == [(1, 0, 1), (1, 1, 1), (1, 2, 1)]
    # Not in the header, not inside a cell spanning rows; right under the header, a section label or
    # a label with a figure or two beside it only (a line across the columns there is as often the
    # header's second line).
    assert insert_rows(structure, [MissingRow(0, 0.0, 0.1, True, 1)], [True] * 9) is None
    assert insert_rows(structure, [MissingRow(1, 0.2, 0.3, False, 3)], [True] * 9) is None
    assert insert_rows(structure, [MissingRow(1, 0.2, 0.3, False, 2)], [True] * 9) is not None
    assert insert_rows(structure, [MissingRow(1, 0.2, 0.3, True, 1)], [True] * 9) is not None
    spanning = _structure([["<td>", "<td>"], ['<td rowspan="2">', "<td>"], ["<td>"]], head=1)
    assert insert_rows(spanning, [MissingRow(2, 0.6, 0.7, True, 1)], [True] * 5) is None


def _section_page(label_y: int) -> np.ndarray:
    """A header and four body rows 30 px apart; a section label alone in the first column at
    ``label_y``, between the second and third body rows."""
    image = Image.new("L", (400, 190), 255)
    draw = ImageDraw.Draw(image)
    font = _font(14)
    for x, text in zip(XS, ("Group", "Mean", "SD", "n")):
        draw.text((x, 8), text, font=font, fill=0)
    for y, values in ((38, ("7.1", "2,003", "0.44")), (68, ("9.8", "1,977", "0.51")),
                      (128, ("6.3", "1,412", "0.39")), (158, ("8.0", "2,110", "0.47"))):
        draw.text((XS[0], y), "A row", font=font, fill=0)
        for x, text in zip(XS[1:], values):
            draw.text((x, y), text, font=font, fill=0)
    draw.text((XS[0], label_y), "Section", font=font, fill=0)
    return prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()


def test_snapping_reports_a_section_label_that_no_row_took():
    # The decoder wrote the header and the four body rows, not the section label's row.
    structure = _structure([["<td>"] * 4] * 5, head=1)
    grid = [place[:4] for place in logical_grid(structure)]
    tops = (8, 38, 68, 128, 158)
    boxes = np.array([[XS[c] / 400, tops[r] / 190, (XS[c] + 60) / 400, (tops[r] + 16) / 190] for r, c, _, _ in grid])
    snapped = snap_boxes(_section_page(98), boxes, grid)
    assert [(m.row, m.label, m.columns) for m in snapped.missing_rows] == [(3, True, 1)]  # before the third body row
    top, bottom = snapped.missing_rows[0].top, snapped.missing_rows[0].bottom
    assert top < 106 / 190 < bottom
    # A second line of the label of the row above, set as close as a cell's lines, is no row.
    snapped = snap_boxes(_section_page(84), boxes, grid)
    assert snapped.missing_rows == []


def test_snapping_reports_two_rows_decoded_as_one():
    # Rows of a label wrapped over two lines (valign top): the decoder wrote the second and third
    # body rows as one row; its lines hold two that fill every column.
    image = Image.new("L", (400, 200), 255)
    draw = ImageDraw.Draw(image)
    font = _font(14)
    for x, text in zip(XS, ("Group", "Mean", "SD", "n")):
        draw.text((x, 8), text, font=font, fill=0)
    for y, values in ((40, ("7.1", "2,003", "0.44")), (80, ("9.8", "1,977", "0.51")), (120, ("6.3", "1,412", "0.39")),
                      (160, ("8.0", "2,110", "0.47"))):
        draw.text((XS[0], y), "A label", font=font, fill=0)
        draw.text((XS[0], y + 17), "wrapped", font=font, fill=0)
        for x, text in zip(XS[1:], values):
            draw.text((x, y), text, font=font, fill=0)
    page = prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()
    structure = _structure([["<td>"] * 4] * 4, head=1)
    grid = [place[:4] for place in logical_grid(structure)]
    spans = ((8, 24), (40, 74), (80, 154), (160, 194))
    boxes = np.array([[XS[c] / 400, spans[r][0] / 200, (XS[c] + 60) / 400, spans[r][1] / 200] for r, c, _, _ in grid])
    snapped = snap_boxes(page, boxes, grid)
    assert [(m.row, m.label, m.columns) for m in snapped.missing_rows] == [(3, False, 4)]
    top = snapped.missing_rows[0].top
    assert 110 / 200 < top < 125 / 200  # from the third body row's first line
    new, source = insert_rows(structure, snapped.missing_rows, snapped.has_ink.tolist())
    assert new.count("<tr>") == 5


def test_a_column_is_inserted_beside_the_cells_of_the_column_it_splits():
    structure = _structure([["<td>", "<td>", "<td>"], ['<td rowspan="2">', "<td>", "<td>"], ["<td>", "<td>"],
                            ['<td colspan="3">']], head=1)
    # Column 0 is two columns; the header cell of column 0 (cell 0) runs across into the new one.
    new, source = insert_columns(structure, [0], [[0]])
    assert new == _structure([['<td colspan="2">', "<td>", "<td>"], ['<td rowspan="2">', '<td rowspan="2">', "<td>", "<td>"],
                              ["<td>", "<td>"], ['<td colspan="4">']], head=1)
    assert source == [0, 1, 2, 3, (3, 0), 4, 5, 6, 7, 8]
    # Two columns at once, right to left: the new cells come from the cells beside them.
    new, source = insert_columns(_structure([["<td>", "<td>"]]), [0, 1], [[], []])
    assert new == _structure([["<td>"] * 4])
    assert source == [0, (0, 0), 1, (1, 0)]


def test_the_column_heads_under_a_spanning_head_go_into_the_header():
    # The decoder wrote "Change | Doubtless" under "Operating profit" as the first body row, with
    # empty cells under the heads beside it.
    structure = _structure([["<td>", '<td colspan="2">', "<td>"], ["<td>"] * 4, ["<td>"] * 4], head=1)
    has_words = [True, True, True, False, True, True, False] + [True] * 4
    new, kept = promote_header_row(structure, has_words)
    assert new == _structure([['<td rowspan="2">', '<td colspan="2">', '<td rowspan="2">'], ["<td>", "<td>"], ["<td>"] * 4], head=2)
    assert kept == [0, 1, 2, 4, 5, 7, 8, 9, 10]
    # A body row with a label (words beside the spanning head's columns) is a body row.
    assert promote_header_row(structure, [True] * 11) is None
    # No head spanning columns: nothing to stand under.
    plain = _structure([["<td>"] * 4, ["<td>"] * 4, ["<td>"] * 4], head=1)
    assert promote_header_row(plain, [True] * 4 + has_words[3:]) is None
    # No header, or no body left: nothing moves.
    assert promote_header_row(_structure([["<td>", '<td colspan="2">', "<td>"], ["<td>"] * 4]), has_words[:8]) is None
    assert promote_header_row(_structure([["<td>", '<td colspan="2">', "<td>"], ["<td>"] * 4], head=1), has_words[:7]) is None


def _grid_and_boxes(structure: list[str], xs, size: tuple[int, int], first_top: int, pitch: int):
    """The grid places of ``structure`` and a box per cell on a page of ``size`` (width, height):
    column c spans ``xs[c]``, row r's text line is 16 pixels tall from ``first_top + pitch * r``."""
    width, height = size
    grid = [place[:4] for place in logical_grid(structure)]
    tops = [first_top + pitch * r for r, *_ in grid]
    return grid, np.array([[xs[c][0] / width, top / height, xs[c][1] / width, (top + 16) / height] for (_, c, _, _), top in zip(grid, tops)])


def _two_columns_in_one_page(small_gap: bool = False) -> np.ndarray:
    """A label column, two columns of figures under one head ("Operating profit") and a last column;
    ``small_gap``: the two are one column of "7.1 (2.0)" instead, a word space apart."""
    image = Image.new("L", (460, 190), 255)
    draw = ImageDraw.Draw(image)
    font = _font(14)
    draw.text((10, 8), "Item", font=font, fill=0)
    draw.text((150, 8), "Operating profit", font=font, fill=0)
    draw.text((380, 8), "Total", font=font, fill=0)
    for y, (a, b, c) in enumerate((("7.1", "2,003", "0.44"), ("9.8", "1,977", "0.51"), ("6.3", "1,412", "0.39"),
                                   ("8.0", "2,110", "0.47"), ("5.5", "1,020", "0.12"))):
        draw.text((10, 40 + 30 * y), "A row", font=font, fill=0)
        if small_gap:
            draw.text((150, 40 + 30 * y), f"{a} ({b})", font=font, fill=0)
        else:
            draw.text((150, 40 + 30 * y), a, font=font, fill=0)
            draw.text((250, 40 + 30 * y), b, font=font, fill=0)
        draw.text((380, 40 + 30 * y), c, font=font, fill=0)
    return prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()


def test_snapping_reports_a_column_the_page_shows_as_two():
    # The decoder wrote three columns; the page has four, two of them under one head.
    structure = _structure([["<td>"] * 3] * 6, head=1)
    grid, boxes = _grid_and_boxes(structure, ((10, 80), (150, 300), (380, 440)), (460, 190), 8, 30)
    snapped = snap_boxes(_two_columns_in_one_page(), boxes, grid)
    assert len(snapped.missing_columns) == 1
    missing = snapped.missing_columns[0]
    assert missing.column == 1 and missing.across == [1]  # the head over both runs across the gap
    assert 165 / 460 < missing.gap[0] < missing.gap[1] < 252 / 460  # between "7.1" and "2,003"
    new, _ = insert_columns(structure, [missing.column], [missing.across])
    assert new[:8] == ["<thead>", "<tr>", "<td>", "</td>", "<td", ' colspan="2"', ">", "</td>"]
    # A column of figures with a bracketed second figure a word space away is one column.
    assert snap_boxes(_two_columns_in_one_page(small_gap=True), boxes, grid).missing_columns == []


def test_cells_side_by_side_are_joined_into_one_spanning_both():
    structure = _structure([["<td>"] * 4, ["<td>"] * 4])
    new, into = join_cells(structure, [(4, 5), (5, 6)])  # a chain folds into its first cell
    assert new == _structure([["<td>"] * 4, ['<td colspan="3">', "<td>"]])
    assert into == [0, 1, 2, 3, 4, 4, 4, 5]
    assert join_cells(structure, [(0, 5)]) is None  # not side by side
    assert join_cells(_structure([['<td rowspan="2">', "<td>"], ["<td>"]]), [(0, 1)]) is None  # spans rows


def _running_on_page(run_on: bool) -> np.ndarray:
    """Five rows of a label and three figures.  ``run_on``: in the third row the label runs on past
    the start of the second column's figures, which that row lacks; else a tight table: every
    label is followed by its row's first figure about a text height later."""
    image = Image.new("L", (400, 170), 255)
    draw = ImageDraw.Draw(image)
    font = _font(14)
    for r in range(5):
        y = 8 + 32 * r
        if run_on and r == 2:
            draw.text((10, y), "A label that runs on and on", font=font, fill=0)
        elif run_on:
            draw.text((10, y), "Label", font=font, fill=0)
            draw.text((130, y), "12.5", font=font, fill=0)
        else:
            draw.text((10, y), "A long label", font=font, fill=0)
            draw.text((10 + int(draw.textlength("A long label", font=font)) + 12, y), "12.5", font=font, fill=0)
        for x, text in ((240, "3,410"), (320, "0.82")):
            draw.text((x, y), text, font=font, fill=0)
    return prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()


def test_snapping_reports_text_that_runs_on_into_the_next_column():
    structure = _structure([["<td>"] * 4] * 5)
    grid, boxes = _grid_and_boxes(structure, ((10, 100), (130, 200), (240, 300), (320, 380)), (400, 170), 8, 32)
    snapped = snap_boxes(_running_on_page(run_on=True), boxes, grid)
    assert snapped.joined_cells == [(8, 9)]  # the third row's label and the empty cell beside it
    # Label and figure a text height apart, not a word space: two cells, not one running on.
    assert snap_boxes(_running_on_page(run_on=False), boxes, grid).joined_cells == []


def _currency_page(head_over_signs: str) -> np.ndarray:
    """A label column and two columns of figures, each figure with a "$" set apart at its column's
    left (as in annual reports), under heads "2016" and "2015" (``head_over_signs`` above each sign)."""
    image = Image.new("L", (440, 140), 255)
    draw = ImageDraw.Draw(image)
    font = _font(14)
    for x, head in ((190, head_over_signs), (250, "2016"), (330, head_over_signs), (390, "2015")):
        if head:
            draw.text((x, 8), head, font=font, fill=0)
    for r, (a, b) in enumerate((("45,687", "53,394"), ("8.35", "9.28"), ("8.31", "9.22"))):
        y = 40 + 32 * r
        draw.text((10, y), "Net income", font=font, fill=0)
        for sign_x, x, text in ((190, 250, a), (330, 390, b)):
            draw.text((sign_x, y), "$", font=font, fill=0)
            draw.text((x, y), text, font=font, fill=0)
    return prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()


def test_snapping_reports_columns_of_currency_signs():
    # The decoder gave each "$" a column of its own; the truth (cTDaR's annotations) keeps the sign
    # in its figure's cell.
    structure = _structure([["<td>"] * 5] * 4, head=1)
    grid, boxes = _grid_and_boxes(structure, ((10, 100), (190, 200), (250, 310), (330, 340), (390, 430)), (440, 140), 8, 32)
    snapped = snap_boxes(_currency_page(""), boxes, grid)
    assert snapped.symbol_columns == [1, 3]
    new, _ = drop_columns(structure, snapped.symbol_columns)
    assert new == _structure([["<td>"] * 3] * 4, head=1)
    # A column of one-digit counts under a head of its own ("n") is a column.
    assert snap_boxes(_currency_page("n"), boxes, grid).symbol_columns == []


def test_a_column_without_ink_of_its_own_whose_words_lie_in_its_neighbours_is_one_column():
    # cTDaR t10040: the decoder wrote the label column as two; the page shows the labels' ink as one
    # column (x 24-212, given to logical column 1), and column 0, which the page shows no ink of,
    # got some of the labels' words by the box head's boxes.
    from tablerec.model.snap import _inside_neighbour

    grid = [(r, c, 1, 1) for r in range(2) for c in range(3)]
    left, right = np.array([np.nan, 24.0, 241.0]), np.array([np.nan, 212.0, 276.0])
    words = [[(30, 69, 65, 86)], [(68, 69, 131, 86)], [(249, 69, 265, 86)], [(40, 105, 92, 122)], [(104, 105, 212, 122)], [(245, 105, 271, 122)]]
    assert _inside_neighbour(0, grid, words, left, right)
    # A word of column 0 outside its neighbour's ink: a column of its own.
    words[3] = [(2, 105, 20, 122)]
    assert not _inside_neighbour(0, grid, words, left, right)
    # No words: not this rule's (an empty column is dropped as such).
    assert not _inside_neighbour(0, grid, [[] for _ in range(6)], left, right)


def test_the_header_reaches_down_to_the_rule_across_the_table():
    structure = _structure([['<td colspan="2">', "<td>"], ["<td>"] * 3, ["<td>"] * 3, ["<td>"] * 3], head=1)
    assert extend_header(structure, 2) == _structure([['<td colspan="2">', "<td>"], ["<td>"] * 3, ["<td>"] * 3, ["<td>"] * 3], head=2)
    # Not shorter than it is, never the whole table, and not in a table without a header.
    assert extend_header(structure, 1) is None and extend_header(structure, 4) is None
    assert extend_header(_structure([["<td>"] * 3] * 3), 2) is None


def _ruled_header_page(rule_under: int, rule_width: int = 420) -> np.ndarray:
    """Four rows of text ("Group" over "A | B" heads, then figures), a rule across the table
    ``rule_width`` wide under row ``rule_under`` - 1."""
    image = Image.new("L", (460, 160), 255)
    draw = ImageDraw.Draw(image)
    font = _font(14)
    rows = [("", "Group", ""), ("", "Mean", "SD"), ("Cases", "7.1", "0.44"), ("Controls", "9.8", "0.51")]
    for r, cells in enumerate(rows):
        for x, text in zip((10, 200, 350), cells):
            draw.text((x, 10 + 35 * r), text, font=font, fill=0)
    y = 10 + 35 * rule_under - 7
    draw.line((20, y, 20 + rule_width, y), fill=0, width=1)
    return prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()


def test_snapping_reports_the_first_row_under_a_rule_across_the_table():
    structure = _structure([["<td>"] * 3] * 4, head=1)
    grid, boxes = _grid_and_boxes(structure, ((10, 90), (200, 260), (350, 400)), (460, 160), 10, 35)
    assert snap_boxes(_ruled_header_page(2), boxes, grid).ruled_row == 2
    # A rule under a spanning head alone (a third of the table wide) is not the header's.
    assert snap_boxes(_ruled_header_page(1, rule_width=120), boxes, grid).ruled_row is None


def test_the_header_takes_in_only_rows_of_heads_above_the_rule():
    from tablerec.model.beam import _extended_header
    from tablerec.model.snap import Snapped

    structure = _structure([['<td colspan="2">', "<td>"], ["<td>"] * 3, ["<td>"] * 3, ["<td>"] * 3], head=1)

    def snapped(ruled_row, has_words, joined=()):
        pieces = [[(0.0, 0.0, 0.1, 0.1)] if w else [] for w in has_words]
        return Snapped(np.zeros((len(has_words), 4)), pieces, joined_rows=list(joined), ruled_row=ruled_row)

    heads = [True, True, False, True, True] + [True] * 6  # row 1: "Mean | SD" under the spanning head, its first cell empty
    assert _extended_header(structure, snapped(2, heads)) == extend_header(structure, 2)
    assert _extended_header(structure, snapped(2, [True] * 11)) is None  # a row label: the body's first row
    assert _extended_header(structure, snapped(2, heads, joined=[0])) is None  # the heads' wrapped lines
    two = heads[:5] + [False, True, True] + [True] * 3  # rows 1 and 2 both of heads
    assert _extended_header(structure, snapped(3, two)) == extend_header(structure, 3)
    assert _extended_header(structure, snapped(None, heads)) is None
