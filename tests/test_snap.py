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


def _share_on_their_line(boxes: np.ndarray, truth: np.ndarray, line: float, height: int) -> float:
    error = np.abs((boxes[:, 1] + boxes[:, 3]) / 2 - (truth[:, 1] + truth[:, 3]) / 2) * height
    return float((error < 0.5 * line).mean())


def test_snapping_puts_drifted_boxes_back_on_their_text_lines():
    cfg = EDDConfig(page_max_side=1024)
    before, after = [], []
    for index in range(12):
        image, table = synth_table(index, seed=31)
        page = prepare_page(image, cfg)[0].numpy()
        width, height = image.size
        cells = [i for i, c in enumerate(table.cells) if c.bbox is not None and c.text.strip()]
        grid = [place[:4] for place in logical_grid(table.structure)]
        truth = np.array([[v / s for v, s in zip(c.bbox, (width, height, width, height))] if c.bbox else [np.nan] * 4 for c in table.cells])
        for i, (row, *_) in enumerate(grid):  # the box head gives empty cells a box too: on their row
            if np.isnan(truth[i, 0]):
                same_row = [j for j, place in enumerate(grid) if place[0] == row and not np.isnan(truth[j, 0])]
                truth[i] = np.nanmean(truth[same_row], axis=0) if same_row else (0.0, 0.0, 1.0, 1.0)
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
