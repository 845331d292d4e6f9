"""Snapping predicted cell boxes to the page's text (tablerec.model.snap)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tablerec.model.edd import EDDConfig, prepare_page
from tablerec.model.snap import snap_boxes
from tablerec.synth import synth_table
from tablerec.table import logical_grid


def _drifted(boxes: np.ndarray, line: float, height: int) -> np.ndarray:
    """What the box head does wrong: rows drift down the table (here to a line at the bottom) and
    boxes come out too tall."""
    out = boxes.copy()
    centre_y = (out[:, 1] + out[:, 3]) / 2
    shift = 1.0 * line / height * centre_y / max(centre_y.max(), 1e-9)
    half = (out[:, 3] - out[:, 1]) * 1.8 / 2
    out[:, 1], out[:, 3] = centre_y + shift - half, centre_y + shift + half
    return out.clip(0, 1)


def _synth_case(index: int, seed: int):
    """A synthetic table's page (as the reader sees it), image height, the table, its grid places, the
    cells with text, and every cell's true normalised box (``_with_empty_cells_placed``)."""
    image, table = synth_table(index, seed=seed)
    page = prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()
    width, height = image.size
    grid = [place[:4] for place in logical_grid(table.structure)]
    cells = [i for i, c in enumerate(table.cells) if c.bbox is not None and c.text.strip()]
    truth = np.array([[v / s for v, s in zip(c.bbox, (width, height, width, height))] if c.bbox else [np.nan] * 4 for c in table.cells])
    return page, height, table, grid, cells, _with_empty_cells_placed(truth, grid)


def _with_empty_cells_placed(truth: np.ndarray, grid: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The box head gives empty cells (NaN rows of ``truth``) a box too: on their row, in their
    column (the median across of the column's other cells)."""
    filled = truth.copy()
    for i, (row, col, *_) in enumerate(grid):
        if np.isnan(truth[i, 0]):
            same_row = [j for j, place in enumerate(grid) if place[0] == row and not np.isnan(truth[j, 0])]
            same_col = [j for j, place in enumerate(grid) if place[1] == col and place[3] == 1 and not np.isnan(truth[j, 0])]
            filled[i] = np.nanmean(truth[same_row], axis=0) if same_row else (0.0, 0.0, 1.0, 1.0)
            if same_col:
                filled[i, [0, 2]] = np.median(truth[same_col][:, [0, 2]], axis=0)
    return filled


def _share_on_their_line(boxes: np.ndarray, truth: np.ndarray, line: float, height: int) -> float:
    error = np.abs((boxes[:, 1] + boxes[:, 3]) / 2 - (truth[:, 1] + truth[:, 3]) / 2) * height
    return float((error < 0.5 * line).mean())


def test_snapping_puts_drifted_boxes_back_on_their_text_lines():
    before, after = [], []
    for index in range(12):
        page, height, table, grid, cells, truth = _synth_case(index, seed=31)
        line = float(np.median([table.cells[i].bbox[3] - table.cells[i].bbox[1] for i in cells]))
        predicted = _drifted(truth, line, height)
        snapped = snap_boxes(page, predicted, grid)
        before.append(_share_on_their_line(predicted[cells], truth[cells], line, height))
        after.append(_share_on_their_line(snapped.boxes[cells], truth[cells], line, height))
        assert snapped.has_ink[cells].mean() > 0.8  # cells with text are found to have ink
    assert np.mean(before) < 0.6  # the drift really moves boxes off their lines ...
    assert np.mean(after) > 0.9  # ... and snapping puts them back


def test_snapping_a_blank_page_or_no_cells_keeps_the_boxes():
    page = prepare_page(Image.new("L", (200, 100), 255), EDDConfig())[0].numpy()
    boxes = np.array([[0.1, 0.1, 0.4, 0.3], [0.5, 0.1, 0.9, 0.3]])
    snapped = snap_boxes(page, boxes, [(0, 0, 1, 1), (0, 1, 1, 1)])
    assert np.allclose(snapped.boxes, boxes) and not snapped.has_ink.any()
    assert snap_boxes(page, np.zeros((0, 4)), []).boxes.shape == (0, 4)


def test_snapped_boxes_are_as_tall_as_the_boxes_the_reader_learnt_on():
    # A line's ink is shorter than its annotated (font line) box; the crop would show the reader larger
    # text than it was trained on.  Snapped single-line boxes come out about as tall as the true ones.
    cfg = EDDConfig(page_max_side=1024)
    ratios = []
    for index in range(6):
        image, table = synth_table(index, seed=31)
        page = prepare_page(image, cfg)[0].numpy()
        width, height = image.size
        grid = [place[:4] for place in logical_grid(table.structure)]
        truth = np.array([[v / s for v, s in zip(c.bbox, (width, height, width, height))] if c.bbox else (0.0, 0.0, 1.0, 1.0) for c in table.cells])
        snapped = snap_boxes(page, truth, grid)
        line = np.median([c.bbox[3] - c.bbox[1] for c in table.cells if c.bbox])
        for i, c in enumerate(table.cells):
            if c.bbox and c.text.strip() and snapped.has_ink[i] and c.bbox[3] - c.bbox[1] < 1.3 * line:
                ratios.append((snapped.boxes[i, 3] - snapped.boxes[i, 1]) / (truth[i, 3] - truth[i, 1]))
    assert len(ratios) > 100
    assert 0.9 < np.median(ratios) < 1.15


def test_cells_of_several_lines_or_one_long_line_are_read_in_pieces():
    from PIL import ImageDraw, ImageFont

    image = Image.new("L", (900, 80), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    draw.text((10, 10), "alpha beta", font=font, fill=0)
    draw.text((10, 30), "gamma", font=font, fill=0)
    long_line = "one two three four five six seven eight nine ten eleven twelve thirteen"
    draw.text((200, 10), long_line, font=font, fill=0)  # on the first line: text lines run across the page
    page = prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()
    boxes = np.array([[0.0, 0.05, 0.2, 0.6], [0.2, 0.1, 1.0, 0.5]])
    snapped = snap_boxes(page, boxes, [(0, 0, 1, 1), (0, 1, 1, 1)])
    first, second = snapped.pieces
    assert len(first) == 2 and first[0][3] <= first[1][1] + 1e-9  # two lines, top one first
    assert len(second) >= 2  # one line of ~70 characters: more than a crop holds
    assert all(abs(p[1] - second[0][1]) < 1e-9 for p in second)  # all on the same line, left to right
    assert all(a[2] < b[0] for a, b in zip(second, second[1:]))
    left, _, right, _ = draw.textbbox((200, 10), long_line, font=font)
    assert abs(second[0][0] * 900 - left) < 3 and abs(second[-1][2] * 900 - right) < 3  # together they cover the line


def test_snapping_puts_boxes_drifted_across_back_in_their_columns():
    # The box head also errs across, by up to a column in wide tables; the page's column ink says
    # where each column is.  Every box is moved right by half the mean column pitch (snapping by the
    # predicted columns alone, as before the column ink, put 50 % of the cells back).
    before, after = [], []
    for index in range(12):
        page, _, _, grid, cells, truth = _synth_case(index, seed=32)
        n_cols = max(c + cs for _, c, _, cs in grid)
        predicted = truth.copy()
        predicted[:, [0, 2]] += 0.5 / n_cols
        snapped = snap_boxes(page, predicted.clip(0, 1), grid)
        for boxes, out in ((predicted, before), (snapped.boxes, after)):
            centre = (boxes[cells, 0] + boxes[cells, 2]) / 2
            out.append(float(((centre >= truth[cells, 0]) & (centre <= truth[cells, 2])).mean()))
    assert np.mean(before) < 0.2
    assert np.mean(after) > 0.85


def test_rows_never_take_lines_across_a_horizontal_rule():
    # Two lines as close as the lines of one cell: without a rule the alignment may join them (one
    # row of two lines, the next row empty); a rule between them makes them two rows.
    from tablerec.model.snap import align_rows, gap_costs

    lines = [(10, 20), (22, 32), (60, 70)]
    anchors = [21.0, 40.0]
    ruled = np.array([True, False])
    rows = align_rows(lines, anchors, *gap_costs(lines, np.array([0.0, 0.0]), ruled))
    assert rows[0] == (0, 1) and rows[1] is not None and rows[1][0] == 1


def test_wrapped_label_lines_of_a_wide_table_are_judged_as_one_row():
    # Eight columns; a row whose first line fills all of them, then two wrapped lines of the two
    # label columns alone, then the next row.  The two label lines fill the same two columns, but
    # not half the table's: they are not taken for two rows; the full lines after them are.
    from tablerec.model.snap import new_row_shares

    left = np.arange(8) * 100.0
    right = left + 60
    full = [(int(a), int(b)) for a, b in zip(left, right)]
    labels = full[:2]
    lines = [(10, 20), (24, 34), (38, 48), (60, 70), (74, 84)]
    line_words = [full, labels, labels, full, full]
    shares = new_row_shares(lines, line_words, left, right)
    assert shares[1] < 0.5  # the two label lines: one row
    assert shares[3] > 0.5  # two full lines a row gap apart: two rows


def test_a_bold_word_is_not_a_rule_but_a_thin_line_is():
    from PIL import ImageDraw

    from tablerec.model.snap import binarize, remove_rules

    image = Image.new("L", (400, 60), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 10, 300, 16), fill=0)  # a solid bar 7 px tall: as thick as bold letters
    draw.line((20, 40, 380, 40), fill=0, width=1)  # a rule
    for x in range(20, 380, 40):  # text-like ink so the text height is not taken from the bar
        draw.rectangle((x, 46, x + 2, 53), fill=0)
    page = prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()
    _, _, horizontal, _ = remove_rules(binarize(page))
    scale = page.shape[0] / 60
    rows = np.nonzero(horizontal)[0] / scale
    assert len(rows) > 0 and all(abs(y - 40) <= 2 for y in rows)


def test_a_shaded_header_band_does_not_count_as_tall_text():
    # White header text on a dark band 20 px tall over body text 8 px tall: the band's vertical ink
    # runs outnumber the letters' and once made the text height (and every line box) the band's.
    from PIL import ImageDraw

    from tablerec.model.snap import binarize, remove_rules

    image = Image.new("L", (400, 120), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 399, 19), fill=60)
    for x in range(20, 380, 40):
        draw.rectangle((x, 6, x + 2, 13), fill=255)  # header letters, white on the band
        for top in range(30, 110, 16):
            draw.rectangle((x, top, x + 2, top + 7), fill=0)  # body letters, 8 px tall
    page = prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()
    _, text_height, _, _ = remove_rules(binarize(page))
    assert abs(text_height / (page.shape[0] / 120) - 8) <= 1.5


def test_tall_tables_are_cut_between_rows_not_inside_a_cell():
    from PIL import ImageDraw

    from tablerec.model.snap import band_cuts

    # 20 rows of two text lines each (a cell of two lines): lines 4 px apart inside a row, 14 between.
    image = Image.new("L", (300, 20 * 34 + 20), 255)
    draw = ImageDraw.Draw(image)
    rows = []
    for r in range(20):
        top = 10 + 34 * r
        rows.append((top, top + 20))
        for line_top in (top, top + 12):
            for x in range(20, 280, 30):
                draw.rectangle((x, line_top, x + 12, line_top + 7), fill=0)
    page = prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()
    assert band_cuts(page, min_lines=41, lines_per_band=16) == []  # 40 lines: too few to cut
    cuts = band_cuts(page, min_lines=24, lines_per_band=16)
    assert len(cuts) == 2  # 40 lines, bands of at most 16: three bands
    scale = page.shape[0] / image.height
    for cut in cuts:
        y = cut / scale
        assert not any(top - 1 <= y <= bottom + 1 for top, bottom in rows), f"cut at {y:.0f} inside a row"


def test_two_columns_set_closer_than_a_word_gap_are_two_columns():
    # A right-aligned number column ends 6 px (half a text height) before a left-aligned text column
    # starts, so their ink runs join into one; the box head puts two columns' centres in it, so it is
    # cut, at the gap that rows have ink right beside on both sides, not at the nearer-to-the-middle
    # gap inside the text column (where two right-aligned entries begin).
    from tablerec.model.snap import column_extents

    number_starts = [140, 140, 150, 170, 155, 165]
    text_words = [[(206, 330)], [(206, 330)], [(206, 280)], [(206, 310)], [(336, 420)], [(336, 420)]]
    line_words = [[(10, 90), (start, 200), *text] for start, text in zip(number_starts, text_words)]
    grid = [(row, col, 1, 1) for row in range(6) for col in range(3)]
    row_lines = [(row, row + 1) for row in range(6)]
    anchors = np.array([50.0, 175.0, 380.0])  # the text column's centre is pulled right by its right-aligned cells
    left, right = column_extents(grid, row_lines, line_words, anchors, np.zeros(500, dtype=bool), 13.0)
    assert (left[1], right[1]) == (140, 200)
    assert (left[2], right[2]) == (206, 420)


def test_a_cell_without_words_on_its_neighbours_words_is_not_read_again():
    # Three columns predicted where the page has two: the second and third columns' boxes lie on the
    # same words.  The words go to one of them; the other, read, would read them a second time.
    from PIL import ImageDraw

    image = Image.new("L", (400, 120), 255)
    draw = ImageDraw.Draw(image)
    for top in (20, 50, 80):
        for x0, x1 in ((20, 60), (66, 100), (200, 260)):  # a two-word label, a value
            for x in range(x0, x1, 4):  # letter-like strokes (a solid block is a shaded area)
                draw.rectangle((x, top, x + 1, top + 9), fill=0)
    page = prepare_page(image, EDDConfig(page_max_side=1024))[0].numpy()
    grid = [(row, col, 1, 1) for row in range(3) for col in range(3)]
    boxes = np.array([[x0 / 400, (top - 3) / 120, x1 / 400, (top + 13) / 120]
                      for top in (20, 50, 80) for x0, x1 in ((18, 102), (195, 262), (198, 265))])
    snapped = snap_boxes(page, boxes, grid)
    for row in range(3):
        label, second, third = 3 * row, 3 * row + 1, 3 * row + 2
        assert snapped.has_ink[label] and snapped.has_ink[second] != snapped.has_ink[third]
        assert label not in snapped.read_elsewhere
        assert (second if snapped.has_ink[third] else third) in snapped.read_elsewhere
    assert len(snapped.read_elsewhere) == 3


def test_the_foot_of_a_long_line_of_serif_text_is_not_a_rule():
    # A long line whose letters' feet fill its baseline row across most of the table: that row is as
    # dense as a rule, but a text body stands on it.  Two real rules, one clear of text and one with
    # text a pixel above and below (a small table set tight), stay rules.
    from tablerec.model.snap import remove_rules

    ink = np.zeros((70, 300), dtype=bool)
    ink[10:17, 0:270:3] = True  # letter strokes
    ink[17, 0:220] = True  # their feet
    ink[18, 5:300:40] = True  # a few descenders
    ink[30, :] = True  # a rule in the clear
    ink[40:47, 0:300:3] = True  # tight text above a rule
    ink[48, :] = True
    ink[50:57, 0:300:3] = True  # and below it
    _, _, horizontal, _ = remove_rules(ink)
    assert not horizontal[17]
    assert horizontal[30] and horizontal[48]


def test_small_blurred_text_is_not_a_rule():
    # Text about 5 pixels tall, bold and blurred: its letters' bodies fill 3 pixel rows across most of
    # the table in runs longer than five text heights.  Those rows were taken for a rule (thin, long)
    # and removed, which cut every such line in two; rules 1 and 2 pixels thick stay rules.
    from tablerec.model.snap import remove_rules

    ink = np.zeros((60, 300), dtype=bool)
    ink[20, 0:280:4] = True  # the tops of some letters
    for x in range(0, 280, 33):
        ink[21:24, x: x + 30] = True  # letters' bodies, merged into runs of 30 pixels
    ink[19:24, 0:280:8] = True  # ascenders (the text height, 5)
    ink[40:42, :] = True  # a rule 2 pixels thick
    ink[50, :] = True  # and a hairline
    _, text_height, horizontal, _ = remove_rules(ink)
    assert text_height == 5
    assert not horizontal[19:25].any()
    assert horizontal[40] and horizontal[50]


def test_a_line_that_fills_columns_costs_more_to_leave_out():
    # Three lines for two rows, joining the middle one to either row dearer than leaving it out: by
    # default it is left out; at the cost of leaving out lines that fill several columns it joins a row.
    from tablerec.model.snap import align_rows

    lines = [(0, 10), (20, 30), (40, 50)]
    anchors = [5.0, 45.0]
    join, split = np.array([5.0, 5.0]), np.zeros(2)
    assert align_rows(lines, anchors, join, split) == [(0, 1), (2, 3)]
    rows = align_rows(lines, anchors, join, split, skip=np.full(3, 10.0))
    assert rows in ([(0, 2), (2, 3)], [(0, 1), (1, 3)])


def test_a_figure_centred_beside_a_label_of_two_lines_gets_a_box_one_line_tall():
    # The label's two lines and the figure between them make one tall text line on the page; the
    # figure's box is padded about its own letters (as the reader learnt boxes), not the whole line.
    page = np.zeros((100, 200), dtype=np.uint8)

    def word(x: int, top: int) -> None:  # letters: strokes 8 pixels tall
        page[top: top + 8, x: x + 30: 3] = 255

    word(10, 10), word(120, 10)  # the header
    word(10, 40), word(10, 52), word(120, 46)  # a label of two lines, its figure centred beside it
    word(10, 75), word(120, 75)  # a row of one line
    grid = [(r, c, 1, 1) for r in range(3) for c in range(2)]
    tops = [10, 10, 40, 46, 75, 75]
    heights = [8, 8, 20, 8, 8, 8]
    boxes = np.array([[(10 if c == 0 else 120) / 200, t / 100, (40 if c == 0 else 150) / 200, (t + h) / 100]
                      for (_, c, _, _), t, h in zip(grid, tops, heights)])
    snapped = snap_boxes(page, boxes, grid).boxes * 100
    top, bottom = snapped[3, 1], snapped[3, 3]
    assert top <= 46 and bottom >= 54 and bottom - top <= 1.8 * 8  # the figure: one line box about its ink
    assert snapped[2, 1] <= 40 and snapped[2, 3] >= 60  # the label: both its lines


def test_row_anchors_are_refitted_to_the_rows_found():
    # The box head's row positions shrink towards the top of a tall table (here to 0.8 of the true
    # centres): fitted to the rows the alignment found, the unfound row's anchor lands on its line too.
    from tablerec.model.snap import _refitted_anchors

    lines = [(top, top + 8) for top in range(10, 410, 20)]  # 20 lines, 20 pixels apart
    centres = [(top + bottom) / 2 for top, bottom in lines]
    anchors = [0.8 * c for c in centres]
    row_lines = [(r, r + 1) for r in range(20)]
    row_lines[15] = None  # a row the alignment left without lines
    refitted = _refitted_anchors(anchors, row_lines, lines)
    assert abs(refitted[15] - centres[15]) < 1.0 and abs(anchors[15] - centres[15]) > 50
    assert _refitted_anchors(anchors[:3], row_lines[:3], lines) is None  # too few rows to fit
