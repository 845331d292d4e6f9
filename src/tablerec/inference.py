"""Using a trained EDD: ``Predictor`` (load once, recognise many) and ``recognize`` (the shipped model).

    from tablerec import recognize
    table = recognize("table.png")          # -> Table: .to_html(), .structure, .cells[i].text / .bbox

    from tablerec.inference import Predictor
    predictor = Predictor(checkpoint="runs/x/last.pt", beam=3)
    table = predictor.recognize(image)       # a path or a PIL image
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import torch

from .model import EDD, load_model
from .model.beam import decode_image, decoded_to_table
from .table import Table

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "edd_default.pt"
MAX_PIXELS = 40_000_000  # a larger "table image" is refused rather than decoded (decompression bombs)
# The CTC reading's share in joint decoding of the cell text (``tablerec.model.ctc``), chosen on synthetic
# tables of seed 555 (docs/model.md); 0 is the attention decoder alone.
DEFAULT_CTC_WEIGHT = 0.4
# The cell text's beam: 3 reads better than greedy (TEDS +0.007 on held-out synthetic tables, +0.012 on the
# PubTabNet examples, structure unchanged) at about 1.2x greedy's time per table (docs/model.md).
DEFAULT_CELL_BEAM = 3
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")


class ImageError(ValueError):
    """An input that is not a usable image (missing, unreadable, corrupt, empty or too large)."""


def load_image(image_or_path: Any, max_pixels: int = MAX_PIXELS):
    """A fully decoded RGB PIL image from a path or a PIL image; :class:`ImageError` if that fails."""
    from PIL import Image

    if isinstance(image_or_path, Image.Image):
        image = image_or_path
    else:
        path = Path(image_or_path)
        if not path.is_file():
            raise ImageError(f"no such file: {path}")
        try:
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise ImageError(f"image too large: {w}x{h} pixels (limit {max_pixels})")
                im.load()
                image = im.copy()
        except ImageError:
            raise
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:  # PIL raises all of these
            raise ImageError(f"unreadable image {path}: {exc}") from None
    w, h = image.size
    if w < 2 or h < 2:
        raise ImageError(f"image too small: {w}x{h} pixels")
    if w * h > max_pixels:
        raise ImageError(f"image too large: {w}x{h} pixels (limit {max_pixels})")
    return image


class Predictor:
    """An EDD model ready for inference.

    ``checkpoint``: a training checkpoint (``RUN_DIR/last.pt``) or an exported
    one; ``None`` is the model shipped in ``tablerec/weights``.  ``device``:
    ``None`` picks CUDA, then MPS, then CPU.  ``beam``: the structure decoder's beam (1: greedy).
    ``cell_beam``: the cell text decoder's beam (``DEFAULT_CELL_BEAM``; 1: greedy).  ``snap``: move predicted cell boxes onto the text of
    the page before reading them (``tablerec.model.snap``).  ``ctc_weight``: the share of the crop's CTC
    reading in the cell text (joint decoding, ``tablerec.model.ctc``; models without a CTC head ignore it).
    ``even_rows``: keep every row as wide as the table's first row without a colspan
    (``tablerec.model.grid``); False lets the structure decoder write rows of any width.  ``bands``:
    decode the structure of a tall table (20 rows or more) band by band (``tablerec.model.beam``).
    ``row_groups``: a label beside empty first cells becomes a rowspan cell, where the table shows
    how it sets its labels (at the top of their rows, in the middle or at the foot), or the groups
    repeat, and a section label becomes one cell across the table (``tablerec.model.row_groups``).  ``structure_edits``: a row that the page shows as the lower
    lines of the row above is folded into it, a spanning cell whose words stand in separate columns is
    split, text that runs on into the next column makes one cell of the two, a column the page shows
    as two gets a column beside it, column heads written as the first
    body row under a spanning head go into the header, a column in which no cell has a word is
    dropped, a column of currency signs set apart from their figures ("$   45,687") is dropped into
    the figures' cells, a row the decoder left out (a section label, or the second of two rows written as
    one) is put back, and the header reaches down to a rule across the table under rows of heads
    (``tablerec.model.structure_edits``).
    """

    def __init__(
        self, checkpoint: str | os.PathLike | None = None, device: str | torch.device | None = None, beam: int = 1, snap: bool = True,
        cell_beam: int = DEFAULT_CELL_BEAM, ctc_weight: float = DEFAULT_CTC_WEIGHT, even_rows: bool = True, bands: bool = True,
        row_groups: bool = True, structure_edits: bool = True,
    ) -> None:
        path = Path(checkpoint) if checkpoint is not None else DEFAULT_WEIGHTS
        if not path.is_file():
            hint = " (the default model has not been exported: see scripts/train_default.sh)" if checkpoint is None else ""
            raise FileNotFoundError(f"no model checkpoint at {path}{hint}")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
        self.device = torch.device(device)
        self.checkpoint = path
        self.model: EDD = load_model(path, self.device)
        self.beam = max(1, int(beam))
        self.cell_beam = max(1, int(cell_beam))
        self.snap = snap
        self.even_rows = even_rows
        self.bands = bands
        self.row_groups = row_groups
        self.structure_edits = structure_edits
        if not 0.0 <= ctc_weight < 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1): {ctc_weight}")
        self.ctc_weight = float(ctc_weight)

    @torch.inference_mode()
    def recognize(self, image_or_path: Any, beam: int | None = None, cell_beam: int | None = None) -> Table:
        """The table in an image (a path or a PIL image): structure, cell text and cell boxes in image
        pixels.  ``beam``, ``cell_beam``: for this image instead of the predictor's."""
        image = load_image(image_or_path)
        filename = "" if not isinstance(image_or_path, (str, os.PathLike)) else Path(image_or_path).name
        decoded = decode_image(self.model, image, beam=beam or self.beam, device=self.device, snap=self.snap, cell_beam=cell_beam or self.cell_beam,
                               ctc_weight=self.ctc_weight, even_rows=self.even_rows, bands=self.bands,
                               row_groups=self.row_groups, structure_edits=self.structure_edits)
        return decoded_to_table(decoded, image.size, filename)

    def predict_record(self, path: str | os.PathLike) -> dict[str, Any]:
        """One ``tablerec predict`` output line: ``{filename, html, cells: [{bbox}], seconds}``."""
        start = time.perf_counter()
        table = self.recognize(path)
        return {
            "filename": Path(path).name,
            "html": table.to_html(),
            "cells": [{"bbox": list(c.bbox) if c.bbox is not None else None} for c in table.cells],
            "seconds": round(time.perf_counter() - start, 4),
        }


_default: Predictor | None = None
_default_lock = threading.Lock()


def default_predictor() -> Predictor:
    """The shipped model on the best device, loaded once per process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Predictor()
        return _default


def recognize(image_or_path: Any) -> Table:
    """The table in an image (path or PIL image), read by the shipped default model."""
    return default_predictor().recognize(image_or_path)


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given, and the image files inside each given directory (sorted)."""
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths.extend(sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES))
        else:
            paths.append(p)
    return paths
