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
