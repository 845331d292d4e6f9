"""Decoding an image with a trained EDD: greedy and beam search for both decoders, and repair.

One image at a time: the structure decoder runs first (greedy, or a beam of
``beam`` hypotheses, each kept a grid by ``grid.GridState``; a tall table is
decoded again band by band), then every cell of the chosen structure is
decoded as one batch by the cell decoder.  Both decoders keep a KV cache, so a step costs
one token's worth of compute.  Whatever the decoders emit, the result is a
well-formed table: :func:`repair_structure` closes what is open and drops
stray tokens, :func:`repair_cell_tokens` balances inline tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..table import INLINE_TAG_TOKENS, logical_grid
from .ctc import CTCPrefixScorer
from .edd import EDD, crop_cells, prepare_image, prepare_page
from .grid import GridRule
from .row_groups import merge_row_groups, widen_section_rows
from .structure_edits import drop_columns, extend_header, insert_columns, insert_rows, join_cells, join_rows, promote_header_row, split_cells
from .snap import MissingColumn, MissingRow, Snapped, band_cuts, snap_boxes
from .vocab import expand_structure, opens_cell


@dataclass
class Decoded:
    structure: list[str]  # PubTabNet structure tokens (with </td>), well formed
    cells: list[list[str]]  # content tokens of each cell, inline tags balanced
    boxes: list[tuple[float, float, float, float]]  # normalised x0, y0, x1, y1 per cell
    structure_score: float = 0.0  # log-probability of the structure sequence
    # Per cell, whether snapping gave it words of the page (crop reading with snapping); else None.  A
    # cell read empty may still hold text the reader missed.
    inked: list[bool] | None = None


# Tall tables are decoded in bands: at 576 x 576 a table of 40 rows gives each row less than one
# row of the encoder's 36 x 36 features, and the structure decoder loses count (held-out tables of
# 20+ rows: 5 of 17 with the right row count).  When the structure decoded from the whole image has
# BAND_MIN_ROWS rows or more and the page BAND_MIN_LINES text lines or more, the page is cut between
# lines into bands of about BAND_LINES (``snap.band_cuts``), each band's structure is decoded from
# its own image at the whole table's width, and the rows are joined (docs/model.md, "Tall tables").
BAND_MIN_ROWS = 20
BAND_MIN_LINES = 24
BAND_LINES = 16


@torch.no_grad()
def decode_image(
    model: EDD, image, beam: int = 1, device: torch.device | str = "cpu", snap: bool = True, cell_beam: int | None = None,
    ctc_weight: float = 0.0, even_rows: bool = True, bands: bool = True, row_groups: bool = True, structure_edits: bool = True,
) -> Decoded:
    """Recognise one PIL image: prepares the model's input (and the page for crop reading) and decodes
    (``cell_beam``: the cell decoder's beam, by default ``beam``).  ``bands``: decode a tall table's
    structure band by band (crop-reading models only).  ``row_groups``: a label beside empty first
    cells becomes a rowspan cell (``row_groups.merge_row_groups``), and a section label one cell
    across the table (``row_groups.widen_section_rows``).  ``structure_edits``: a
    row the page shows as the lower lines of the row above is folded into it, a spanning cell whose
    words stand in separate columns is split, cells the page shows as one are joined, a column the
    page shows as two is split, column heads under a spanning head go into the header, a column
    without a word (or without ink of its own) is dropped and so is a column of currency signs, and
    a row the decoder left out is put back (``read_cells``)."""
    page = prepare_page(image, model.config).to(device) if model.config.reads_crops else None
    encoded = model.encoder(prepare_image(image, model.config).to(device).unsqueeze(0))
    # Whether a table is tall is told by a greedy read: a beam prefers a short hypothesis that ended (rows
    # left out) to long ones still going, and would call fewer tables tall than have the rows for it.
    tokens, cell_hidden, score, cell_memory, cell_grid = decode_table_structure(model, encoded, 1, False, even_rows)
    decoded = None
    tall = tokens.count("<tr>") >= BAND_MIN_ROWS
    if beam > 1:
        tokens, cell_hidden, score, cell_memory, cell_grid = decode_table_structure(model, encoded, beam, False, even_rows)
        tall = tall or tokens.count("<tr>") >= BAND_MIN_ROWS
    if bands and page is not None and tall:
        cuts = band_cuts(page[0].cpu().numpy(), BAND_MIN_LINES, BAND_LINES)
        if cuts:
            width = grid_width(tokens) if even_rows else None
            decoded = decode_bands(model, image, page, cuts, width, beam, device, snap, cell_beam, ctc_weight, even_rows, structure_edits)
    if decoded is None:
        boxes = model.box_head(cell_hidden) if len(cell_hidden) else None
        decoded = read_cells(model, tokens, cell_hidden, boxes, score, page, cell_memory, cell_grid, cell_beam or beam, False, snap, ctc_weight,
                             structure_edits)
    if row_groups:
        decoded.structure, decoded.cells, decoded.boxes, decoded.inked = widen_section_rows(decoded.structure, decoded.cells, decoded.boxes,
                                                                                            decoded.inked)
        decoded.structure, decoded.cells, decoded.boxes = merge_row_groups(decoded.structure, decoded.cells, decoded.boxes, decoded.inked)
        decoded.inked = None  # no longer one per cell
    return decoded


@torch.no_grad()
def decode(
    model: EDD, image: torch.Tensor, beam: int = 1, cell_beam: int | None = None, force_beam: bool = False, page: torch.Tensor | None = None,
    snap: bool = True, ctc_weight: float = 0.0, even_rows: bool = True,
) -> Decoded:
    """Recognise one prepared image ``(C, S, S)`` (see ``prepare_image``); crop reading also needs its
    ``page`` (see ``prepare_page``).

    ``beam`` 1 is greedy decoding; ``force_beam`` runs the beam search code even at beam 1 (tests).
    ``snap``: with crop reading, move the predicted cell boxes onto the page's text lines and words
    before cropping (``snap.snap_boxes``); the boxes returned are the snapped ones.  ``ctc_weight``:
    with crop reading and a CTC head, the CTC reading's share in the cell text (``read_crops``).
    ``even_rows``: every row of the structure as wide as the first row without a colspan (``grid``).
    """
    tokens, cell_hidden, score, cell_memory, cell_grid = decode_table_structure(model, model.encoder(image.unsqueeze(0)), beam, force_beam,
                                                                                 even_rows)
    boxes = model.box_head(cell_hidden) if len(cell_hidden) else None
    return read_cells(model, tokens, cell_hidden, boxes, score, page, cell_memory, cell_grid, cell_beam or beam, force_beam, snap, ctc_weight)


def decode_table_structure(
    model: EDD, encoded: tuple, beam: int = 1, force_beam: bool = False, even_rows: bool = True, width: int | None = None,
) -> tuple[list[str], torch.Tensor, float, torch.Tensor, tuple[int, int] | None]:
    """Decode the structure of an encoded image (``model.encoder``'s output for one prepared image):
    the repaired (compressed) structure tokens, the structure decoder's hidden state at each cell's
    opening ``(C, d)``, the structure's log-probability, and the cell memory and its grid (for models
    that read the table memory)."""
    memory, _, cell_memory, cell_grid = encoded
    ids, hidden, score = decode_structure(model, memory, beam, force_beam, even_rows, width)
    kept = repair_structure([model.structure_vocab.tokens[i] for i in ids])
    tokens = [t for t, _ in kept]
    open_idx = [src for i, (t, src) in enumerate(kept) if opens_cell(tokens, i)]
    cell_hidden = hidden[torch.tensor(open_idx, dtype=torch.long)] if open_idx else hidden[:0]
    return tokens, cell_hidden, score, cell_memory, cell_grid


def grid_width(tokens: list[str]) -> int:
    """Column slots of a structure (its widest row, spans counted)."""
    return max((col + colspan for _, col, _, colspan, _ in logical_grid(expand_structure(tokens))), default=0)


def read_cells(
    model: EDD, structure_tokens: list[str], cell_hidden: torch.Tensor, boxes: torch.Tensor | None, score: float,
    page: torch.Tensor | None, cell_memory: torch.Tensor | None, cell_grid, beam: int, force_beam: bool, snap: bool, ctc_weight: float,
    structure_edits: bool = True,
) -> Decoded:
    """The cell text of a decoded structure: from crops of the page (snapped first) or, for models that
    read the table memory, from ``cell_memory``.  ``structure_edits``: a row that snapping finds to be
    the lower lines of the row above is folded into it (``structure_edits.join_rows``), a spanning
    cell whose words stand in separate columns is made a cell per column (``structure_edits.split_cells``),
    two cells side by side whose text runs on from one into the other become one (``structure_edits.join_cells``),
    a column the page shows as two gets a column beside it (``structure_edits.insert_columns``), the
    first body row goes into the header if it holds the column heads under a spanning head
    (``structure_edits.promote_header_row``), a column in which no cell got a word is dropped
    (``structure_edits.drop_columns``), and so is a column of currency signs set apart from their
    figures, each figure's cell taking in its sign, a row the decoder left out, which snapping
    finds on the page, is put back (``structure_edits.insert_rows``), and the header reaches down to
    a rule across the table under rows of heads (``structure_edits.extend_header``)."""
    structure = expand_structure(structure_tokens)
    if boxes is None or not len(cell_hidden):
        return Decoded(structure, [], [], score)
    if model.config.reads_crops:
        if page is None:
            raise ValueError("this model reads cell crops: decode() needs the page (prepare_page)")
        pieces = None
        inked = None
        blank: set[int] = set()  # cells left empty, unread (``Snapped.read_elsewhere``)
        grid = [place[:4] for place in logical_grid(structure)] if snap else []
        if len(grid) == len(cell_hidden) > 0:  # one grid place per cell: always so for a repaired structure
            ink = page[0].cpu().numpy()

            def snap_to_page() -> Snapped:
                return snap_boxes(ink, boxes.float().cpu().numpy(), [place[:4] for place in logical_grid(structure)])

            snapped = snap_to_page()
            joined = join_rows(structure, snapped.joined_rows, snapped.has_ink.tolist()) if structure_edits and snapped.joined_rows else None
            if joined is not None:
                # A row the page shows as the lines of the row above: fold it in (its cells' boxes
                # into those of the cells they join, so that snapping anchors the row on both) and snap again.
                structure, into = joined
                boxes, cell_hidden = _merged_cells(into, boxes, cell_hidden)
                snapped = snap_to_page()
            split = split_cells(structure, list(snapped.split_cells)) if structure_edits and snapped.split_cells else None
            if split is not None:
                # A spanning cell whose words stand in separate columns: a cell per column, each
                # with the spanning cell's state and its column's extent, and snap again.
                structure, source = split
                boxes = boxes[torch.tensor(source, dtype=torch.long)].clone()
                for new, old in enumerate(source):
                    if old in snapped.split_cells:
                        k = source.index(old)
                        boxes[new, [0, 2]] = torch.tensor(snapped.split_cells[old][new - k], dtype=boxes.dtype)
                cell_hidden = cell_hidden[torch.tensor(source, dtype=torch.long)]
                snapped = snap_to_page()
            together = join_cells(structure, snapped.joined_cells) if structure_edits and snapped.joined_cells else None
            if together is not None:
                # Text that runs on into the next column: one cell spanning both, with the left
                # one's state and the union of their boxes, and snap again.
                structure, into = together
                boxes, cell_hidden = _merged_cells(into, boxes, cell_hidden)
                snapped = snap_to_page()
            if structure_edits and snapped.missing_columns:
                # A column the page shows as two: a new column in the gap, its cells with the state of
                # the cell beside them and a box on the right of the two, and snap again.
                structure, boxes, cell_hidden = _inserted_columns(structure, boxes, cell_hidden, snapped.missing_columns)
                snapped = snap_to_page()
            promoted = promote_header_row(structure, snapped.has_ink.tolist()) if structure_edits else None
            if promoted is not None:
                # The first body row is the header's second: the column heads under a spanning one.
                structure, kept = promoted
                boxes, cell_hidden = boxes[kept], cell_hidden[kept]
                snapped = snap_to_page()
            dropped = drop_columns(structure, snapped.empty_columns) if structure_edits and snapped.empty_columns else None
            if dropped is not None:
                # Columns without a word: the decoder counted one too many.  Drop them and snap again.
                structure, kept = dropped
                boxes, cell_hidden = boxes[kept], cell_hidden[kept]
                snapped = snap_to_page()
            signs = drop_columns(structure, snapped.symbol_columns) if structure_edits and snapped.symbol_columns else None
            if signs is not None:
                # Columns of currency signs set apart from their figures: drop them, each figure's
                # cell reaching left over its sign, and snap again.
                old_grid = logical_grid(structure)
                structure, kept = signs
                boxes = boxes.clone()
                left_of = {(r, c + 1): i for i, (r, c, _, cs, _) in enumerate(old_grid) if c in snapped.symbol_columns and cs == 1}
                for i, (r, c, _, _, _) in enumerate(old_grid):
                    sign = left_of.get((r, c))
                    if sign is not None:
                        boxes[i, 0] = min(float(boxes[i, 0]), float(boxes[sign, 0]))
                boxes, cell_hidden = boxes[kept], cell_hidden[kept]
                snapped = snap_to_page()
            inserted = insert_rows(structure, snapped.missing_rows, snapped.has_ink.tolist()) if structure_edits and snapped.missing_rows else None
            if inserted is not None:
                # Rows the decoder left out: give their cells boxes and states, and snap again.  A new
                # cell that gets no word stays empty, unread (its row's words went to its other cells).
                structure, source = inserted
                boxes, cell_hidden = _inserted_cells(structure, source, boxes, cell_hidden, snapped.missing_rows)
                snapped = snap_to_page()
                blank.update(i for i, origin in enumerate(source) if not isinstance(origin, int) and not snapped.pieces[i])
            extended = _extended_header(structure, snapped) if structure_edits else None
            if extended is not None:
                structure = extended  # cells unchanged: the header's last rows were the body's first
            boxes = torch.as_tensor(snapped.boxes, dtype=boxes.dtype, device=boxes.device)
            pieces = snapped.pieces
            inked = [bool(p) for p in pieces]
            blank |= set(snapped.read_elsewhere)
        cells = read_crops(model, page, boxes, cell_hidden, pieces, beam, force_beam, ctc_weight)
        cells = [[] if i in blank else tokens for i, tokens in enumerate(cells)]
    else:
        cell_ids = decode_cells(model, cell_memory, cell_grid, cell_hidden, boxes, beam, force_beam)
        cells = [repair_cell_tokens(model.cell_vocab.decode(c)) for c in cell_ids]
    box_list = [tuple(float(v) for v in b) for b in boxes.tolist()]
    return Decoded(structure, cells, box_list, score, inked if model.config.reads_crops else None)


# The header reaches down to a rule across the table at most this many rows below the decoder's header.
HEAD_RULE_ROWS = 2
HEAD_MAX_ROWS = 3


def _extended_header(structure: list[str], snapped: Snapped) -> list[str] | None:
    """``structure_edits.extend_header`` down to ``snapped.ruled_row``, if the rows it takes in are
    few, right under the header, with no word in their first column (a row label starts the body) and
    not the wrapped lines of the header's cells (``snapped.joined_rows``)."""
    grid = logical_grid(structure)
    head = {row for row, *_, in_head in grid if in_head}
    rows = snapped.ruled_row
    if not head or rows is None or not len(head) < rows <= min(len(head) + HEAD_RULE_ROWS, HEAD_MAX_ROWS):
        return None
    if any(r in snapped.joined_rows for r in range(len(head) - 1, rows - 1)):
        return None
    inked = snapped.has_ink
    if any(inked[i] for i, (row, col, *_) in enumerate(grid) if len(head) <= row < rows and col == 0):
        return None
    return extend_header(structure, rows)


def _merged_cells(into: list[int], boxes: torch.Tensor, cell_hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes and states after cells were merged (``into``: per old cell, the new cell it is part of):
    each new cell's box the union of its parts' boxes (so that snapping anchors it on all of them),
    its state that of its first part (the upper row's cell, the left cell)."""
    members = [[i for i, j in enumerate(into) if j == new] for new in range(max(into) + 1)]
    boxes = torch.stack([torch.cat([boxes[m, :2].min(0).values, boxes[m, 2:].max(0).values]) for m in members])
    return boxes, cell_hidden[torch.tensor([m[0] for m in members], dtype=torch.long)]


def _inserted_columns(
    structure: list[str], boxes: torch.Tensor, cell_hidden: torch.Tensor, missing: list[MissingColumn],
) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """``structure_edits.insert_columns`` for ``snap.Snapped.missing_columns``, with the boxes and
    states of the cells after it: a cell beside a new one ends at the gap, the new one runs from the
    gap to the column's right end and takes the state of the cell beside it; a cell that spans the
    gap reaches that end."""
    grid = logical_grid(structure)
    gap_of = {m.column: m for m in missing}
    structure, source = insert_columns(structure, [m.column for m in missing], [m.across for m in missing])
    beside_new = {origin[0] for origin in source if not isinstance(origin, int)}
    new_boxes, states = [], []
    for origin in source:
        old = origin if isinstance(origin, int) else origin[0]
        box = boxes[old].clone()
        _, col, _, colspan, _ = grid[old]
        m = gap_of.get(col + colspan - 1)
        if m is not None:
            if not isinstance(origin, int):
                box[0], box[2] = m.gap[1], m.right
            elif origin in beside_new:
                box[2] = m.gap[0]
            else:
                box[2] = max(float(box[2]), m.right)
        new_boxes.append(box)
        states.append(cell_hidden[old])
    return structure, torch.stack(new_boxes), torch.stack(states)


def _inserted_cells(
    structure: list[str], source: list, boxes: torch.Tensor, cell_hidden: torch.Tensor, missing: list[MissingRow],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes and structure-decoder states for the cells of ``structure`` after ``insert_rows``
    (``source``: per cell, its old index or (entry of ``missing``, column, colspan)).  An old cell
    keeps its own; a new one takes the state of the next old cell (the row below's) and a box on its
    row's line, across its columns (the median of the old cells' boxes in each)."""
    columns: dict[int, list[torch.Tensor]] = {}
    for i, (_, col, _, colspan, _) in enumerate(logical_grid(structure)):
        if isinstance(source[i], int) and colspan == 1:
            columns.setdefault(col, []).append(boxes[source[i]])
    last_old = max(origin for origin in source if isinstance(origin, int))
    new_boxes, states = [], []
    for i, origin in enumerate(source):
        if isinstance(origin, int):
            new_boxes.append(boxes[origin])
            states.append(cell_hidden[origin])
            continue
        k, col, colspan = origin
        below = next((o for o in source[i:] if isinstance(o, int)), last_old)
        spanned = [torch.stack(columns[c]) for c in range(col, col + colspan) if c in columns]
        x0, x1 = (min(b[:, 0].median() for b in spanned), max(b[:, 2].median() for b in spanned)) if spanned else (boxes[below, 0], boxes[below, 2])
        top, bottom = missing[k].top, missing[k].bottom
        new_boxes.append(torch.stack([torch.as_tensor(v, dtype=boxes.dtype) for v in (x0, top, x1, bottom)]))
        states.append(cell_hidden[below])
    return torch.stack(new_boxes), torch.stack(states)


@torch.no_grad()
def decode_bands(
    model: EDD, image, page: torch.Tensor, cuts: list[int], width: int | None, beam: int = 1, device: torch.device | str = "cpu",
    snap: bool = True, cell_beam: int | None = None, ctc_weight: float = 0.0, even_rows: bool = True, structure_edits: bool = True,
) -> Decoded | None:
    """Decode a tall table's structure band by band (``cuts``: pixel rows of ``page``; ``width``: the
    column slots every band's rows must fill, from the structure of the whole table), join the rows
    (the first band's header rows stay the header; rowspans are clipped at their band's end) and read
    the cells on the whole page.  None if no band holds a row."""
    page_height = page.shape[1]
    edges = [0, *cuts, page_height]
    rows: list[list[str]] = []
    header_rows = 0
    hidden_parts, box_parts = [], []
    score = 0.0
    for band, (top, bottom) in enumerate(zip(edges, edges[1:])):
        y0, y1 = round(top * image.height / page_height), round(bottom * image.height / page_height)
        band_image = prepare_image(image.crop((0, y0, image.width, y1)), model.config).to(device)
        tokens, cell_hidden, band_score, _, _ = decode_table_structure(model, model.encoder(band_image.unsqueeze(0)), beam, False, even_rows, width)
        band_rows = _rows(tokens)
        if not band_rows or not len(cell_hidden):
            continue
        if band == 0:
            header_rows = sum(1 for _, in_head in band_rows if in_head)
        rows += [_clip_rowspans(row, len(band_rows) - i) for i, (row, _) in enumerate(band_rows)]
        boxes = model.box_head(cell_hidden)
        boxes[:, [1, 3]] = (y0 + boxes[:, [1, 3]] * (y1 - y0)) / image.height  # band to page coordinates
        hidden_parts.append(cell_hidden)
        box_parts.append(boxes)
        score += band_score
    if not hidden_parts:
        return None
    structure_tokens = []
    if header_rows:
        structure_tokens += ["<thead>", *sum(rows[:header_rows], []), "</thead>"]
    structure_tokens += ["<tbody>", *sum(rows[header_rows:], []), "</tbody>"]
    return read_cells(model, structure_tokens, torch.cat(hidden_parts), torch.cat(box_parts), score, page, None, None,
                      cell_beam or beam, False, snap, ctc_weight, structure_edits)


def _rows(tokens: list[str]) -> list[tuple[list[str], bool]]:
    """The rows of a repaired structure: (tokens from ``<tr>`` to ``</tr>``, in the header)."""
    rows: list[tuple[list[str], bool]] = []
    in_head = False
    for token in tokens:
        if token in ("<thead>", "</thead>"):
            in_head = token == "<thead>"
        elif token == "<tr>":
            rows.append(([token], in_head))
        elif rows and token not in ("<tbody>", "</tbody>"):
            rows[-1][0].append(token)
    return rows


def _clip_rowspans(row: list[str], rows_left: int) -> list[str]:
    """A row's tokens with every rowspan cut to the ``rows_left`` rows from it to its band's end."""
    out: list[str] = []
    for token in row:
        if token.startswith(" rowspan="):
            n = min(int(token.split('"')[1]), rows_left)
            if n < 2:
                continue
            token = f' rowspan="{n}"'
        if token == ">" and out and out[-1] == "<td":
            out[-1] = "<td>"  # every span of the opening was cut
            continue
        out.append(token)
    return out


def read_crops(
    model: EDD, page: torch.Tensor, boxes: torch.Tensor, cell_hidden: torch.Tensor,
    pieces: list[list[tuple[float, float, float, float]]] | None = None, beam: int = 1, force_beam: bool = False,
    ctc_weight: float = 0.0,
) -> list[list[str]]:
    """Content tokens of every cell, read from crops of ``page`` at ``boxes`` (C, 4, normalised).

    With ``pieces`` (from ``snap_boxes``), a cell of several pieces (text lines, parts of a long
    line) is read piece by piece, all pieces of the table in one batch, and the readings joined by
    spaces: a crop of one line shows the reader text at the size it learnt, where a crop of the whole
    cell shrinks it.  ``ctc_weight`` > 0 (models with a CTC head): joint CTC/attention decoding.
    """
    owner: list[int] = []
    read_boxes: list = []
    has_text: list[bool] = []
    for i in range(boxes.shape[0]):
        cell_pieces = pieces[i] if pieces is not None and len(pieces[i]) > 1 else [boxes[i].tolist()]
        owner += [i] * len(cell_pieces)
        read_boxes += cell_pieces
        has_text += [pieces is not None and len(pieces[i]) > 0] * len(cell_pieces)
    read_boxes_t = torch.tensor(read_boxes, dtype=boxes.dtype, device=boxes.device)
    sizes = torch.tensor([[page.shape[2], page.shape[1]]], device=page.device)
    crops = crop_cells(page.unsqueeze(0), sizes, read_boxes_t.unsqueeze(0), model.config)[0]
    owner_t = torch.tensor(owner, dtype=torch.long, device=boxes.device)
    crop_memory = model.crop_encoder(crops.unsqueeze(1))
    ctc_log_probs = model.crop_ctc_log_probs(crop_memory) if ctc_weight > 0 and model.crop_ctc_head is not None else None
    ids = decode_cells(model, crop_memory, None, cell_hidden[owner_t], read_boxes_t, beam, force_beam,
                       has_text=torch.tensor(has_text, device=boxes.device), ctc_log_probs=ctc_log_probs, ctc_weight=ctc_weight)
    readings: list[list[list[str]]] = [[] for _ in range(boxes.shape[0])]
    for i, piece_ids in zip(owner, ids):
        readings[i].append(repair_cell_tokens(model.cell_vocab.decode(piece_ids)))
    return [join_pieces(r) for r in readings]


def join_pieces(readings: list[list[str]]) -> list[str]:
    """One cell's tokens from the readings of its pieces: joined by a space, with an inline tag that
    closes at the end of one piece and opens again at the start of the next (a bold cell read in
    two pieces) kept open across the join; empty readings dropped."""
    out: list[str] = []
    for tokens in (r for r in readings if r):
        if not out:
            out = list(tokens)
            continue
        closing: list[str] = []
        while out and out[-1] in INLINE_TAG_TOKENS and out[-1].startswith("</"):
            closing.insert(0, out.pop())
        opening = []
        rest = list(tokens)
        while rest and rest[0] in INLINE_TAG_TOKENS and not rest[0].startswith("</"):
            opening.append(rest.pop(0))
        # the outermost closer against the outermost opener, inwards, so nesting stays proper
        while closing and opening and closing[-1] == "</" + opening[0][1:]:
            closing.pop()
            opening.pop(0)
        out += closing + [" "] + opening + rest
    return out


# ---- structure decoder --------------------------------------------------------------------


def decode_structure(
    model: EDD, memory: torch.Tensor, beam: int = 1, force_beam: bool = False, even_rows: bool = True, width: int | None = None,
) -> tuple[list[int], torch.Tensor, float]:
    """Structure token ids (no <sos>/<eos>), the hidden state that emitted each, and the sequence
    log-probability.  ``even_rows``: every row as wide as the first without a colspan, or as
    ``width`` column slots if given (``grid.GridState``)."""
    dec = model.structure_decoder
    vocab = model.structure_vocab
    max_len = model.config.max_structure_len
    memory_kv = dec.memory_kv(memory)
    if beam > 1:
        memory_kv = [(k.expand(beam, -1, -1, -1), v.expand(beam, -1, -1, -1)) for k, v in memory_kv]
    caches = [dict() for _ in dec.layers]
    rule = GridRule(vocab) if even_rows else None
    grids = [rule.new_state(width) for _ in range(max(beam, 1))] if rule else []

    def step(ids: torch.Tensor | None, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        if ids is None:
            ids = torch.full((beam, 1), vocab.sos_id, dtype=torch.long, device=memory.device)
        else:
            for grid, token_id in zip(grids, ids.view(-1).tolist()):
                grid.push(token_id)
        logits, hidden = dec(ids.view(-1, 1), memory_kv, start=t, caches=caches)
        logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
        for row, grid in enumerate(grids):
            mask = grid.mask()
            if mask is not None:
                logp[row] += mask.to(logp.device)
        return logp, hidden[:, -1]

    def reorder(index: torch.Tensor) -> None:
        for cache in caches:
            cache["k"], cache["v"] = cache["k"][index], cache["v"][index]
        grids[:] = [grids[i].copy() for i in index.tolist()]

    if beam <= 1 and not force_beam:
        return _greedy_single(step, max_len, vocab.eos_id)
    seqs = beam_search(step, reorder, groups=1, beam=beam, max_len=max_len, eos_id=vocab.eos_id, keep_aux=True)
    ids, aux, score = seqs[0]
    return ids, aux, score


def _greedy_single(step: Callable, max_len: int, eos_id: int) -> tuple[list[int], torch.Tensor, float]:
    ids: list[int] = []
    hiddens: list[torch.Tensor] = []
    score = 0.0
    current = None
    for t in range(max_len + 1):
        logp, hidden = step(current, t)
        if t == max_len:  # length limit: the sequence ends here
            break
        best = int(logp[0].argmax())
        score += float(logp[0, best])
        if best == eos_id:
            break
        ids.append(best)
        hiddens.append(hidden[0])
        current = torch.tensor([[best]], device=logp.device)
    d = hidden.shape[-1]
    return ids, (torch.stack(hiddens) if hiddens else torch.zeros(0, d)), score


# ---- cell decoder ----------------------------------------------------------------------------


def decode_cells(
    model: EDD, memory: torch.Tensor, grid: tuple[int, int] | None, cell_hidden: torch.Tensor, boxes: torch.Tensor, beam: int = 1,
    force_beam: bool = False, has_text: torch.Tensor | None = None, ctc_log_probs: torch.Tensor | None = None, ctc_weight: float = 0.0,
) -> list[list[int]]:
    """Content token ids of every cell, all cells of the table decoded as one batch.

    ``memory`` is the table's ``(1, K, d)``, or with crop reading one row per cell ``(C, P, d)``.
    ``has_text`` (C,) bool: cells known to hold text (snapping found words in them) may not end
    before their first token.  ``ctc_log_probs`` (C, W, V), with ``ctc_weight`` > 0: joint decoding,
    each token ranked by ``(1 - ctc_weight) * attention + ctc_weight * CTC`` (see ``ctc``).
    """
    dec = model.cell_decoder
    n_cells = cell_hidden.shape[0]
    rows = n_cells * beam
    max_len = model.config.max_cell_len
    eos_id = model.cell_vocab.eos_id
    per_cell = model.config.reads_crops
    # Table memory: one copy, shared by all cells (cross-attention is per table).  Crop memory: one copy
    # per cell, shared by the cell's hypotheses (cross-attention per cell, its beam as one query block),
    # not a copy per hypothesis: copying crop memories as the beam reorders cost a third of the time.
    # As cells end, their memories stay (the live cells' queries are scattered to their slots) until
    # at most half are live: copying the live ones at every ending cost a tenth.
    memory_kv = dec.memory_kv(memory)
    bias = None if per_cell else dec.box_bias(boxes.unsqueeze(0), grid)  # (1, C, K)
    if bias is not None and beam > 1:
        bias = bias.repeat_interleave(beam, dim=1)
    start_hidden = cell_hidden.repeat_interleave(beam, dim=0) if beam > 1 else cell_hidden
    caches = [dict() for _ in dec.layers]
    state = {"bias": bias, "rows": torch.arange(rows, device=memory.device), "memory_kv": memory_kv,
             "slot": torch.arange(n_cells, device=memory.device)}  # crop reading: each live cell's memory slot
    ctc = None
    if ctc_log_probs is not None and ctc_weight > 0:
        ctc = CTCPrefixScorer(ctc_log_probs, model.ctc_skip, eos_id, beam=beam)

    def step(ids: torch.Tensor | None, t: int) -> torch.Tensor:
        n = state["rows"].shape[0]
        is_start = torch.full((n, 1), ids is None, dtype=torch.bool, device=memory.device)
        token_ids = ids.view(-1, 1) if ids is not None else torch.zeros(n, 1, dtype=torch.long, device=memory.device)
        positions = torch.full((n, 1), t, dtype=torch.long, device=memory.device)
        x = dec.inputs(start_hidden[state["rows"]].unsqueeze(1), token_ids, is_start, positions)
        cross_shape, cross_scatter = (1, n), None
        if per_cell:
            slots = state["memory_kv"][0][0].shape[0]
            if n // beam == slots:  # every memory slot live, in order
                cross_shape = (slots, beam)
            else:
                rows_now = torch.arange(n, device=memory.device)
                cross_shape, cross_scatter = None, (rows_now, state["slot"].repeat_interleave(beam) * beam + rows_now % beam, (slots, beam))
        logits = dec(x, state["memory_kv"], state["bias"], caches=caches, cross_shape=cross_shape, cross_scatter=cross_scatter)
        logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
        if t == 0 and has_text is not None:
            logp[has_text.repeat_interleave(beam)[state["rows"]], eos_id] = float("-inf")
        return ctc.scores(ids, logp, ctc_weight) if ctc is not None else logp

    def reorder(index: torch.Tensor) -> None:
        for cache in caches:
            cache["k"], cache["v"] = cache["k"][index], cache["v"][index]
        if state["bias"] is not None:
            state["bias"] = state["bias"][:, index]
        state["rows"] = state["rows"][index]
        if per_cell:
            # Rows come in blocks of `beam`, one block per cell still decoding (beam_search).
            state["slot"] = state["slot"][index[::beam] // beam]
            if 2 * state["slot"].shape[0] <= state["memory_kv"][0][0].shape[0]:
                state["memory_kv"] = [(k[state["slot"]], v[state["slot"]]) for k, v in state["memory_kv"]]
                state["slot"] = torch.arange(state["slot"].shape[0], device=memory.device)
        if ctc is not None:
            ctc.reorder(index)

    if beam <= 1 and not force_beam:
        return _greedy_batch(step, reorder, n_cells, max_len, eos_id, memory.device)
    return [ids for ids, _, _ in beam_search(lambda i, t: (step(i, t), None), reorder, n_cells, beam, max_len, eos_id)]


def _greedy_batch(step: Callable, reorder: Callable, n: int, max_len: int, eos_id: int, device) -> list[list[int]]:
    """Greedy decoding of n sequences at once; finished ones leave the batch (and its caches)."""
    out: list[list[int]] = [[] for _ in range(n)]
    active = torch.arange(n, device=device)
    current = None
    for t in range(max_len + 1):
        logp = step(current, t)
        if t == max_len:
            break
        best = logp.argmax(-1)
        alive = best != eos_id
        for row, token in zip(active[alive].tolist(), best[alive].tolist()):
            out[row].append(token)
        if not bool(alive.any()):
            break
        if not bool(alive.all()):
            keep = alive.nonzero().squeeze(1)
            reorder(keep)
            active, best = active[keep], best[keep]
        current = best.view(-1, 1)
    return out


# ---- beam search --------------------------------------------------------------------------------


def beam_search(
    step: Callable[[torch.Tensor | None, int], tuple[torch.Tensor, torch.Tensor | None]],
    reorder: Callable[[torch.Tensor], None],
    groups: int,
    beam: int,
    max_len: int,
    eos_id: int,
    keep_aux: bool = False,
    length_penalty: float = 1.0,
) -> list[tuple[list[int], torch.Tensor | None, float]]:
    """Beam search over ``groups`` independent sequences, ``beam`` hypotheses each.

    ``step(ids, t)`` gives log-probabilities ``(rows, V)`` for the rows still in the batch (and an aux
    vector per row, kept along each hypothesis if ``keep_aux``); ``reorder(index)`` re-indexes the
    caches after hypotheses are selected: the new row ``r`` continues old row ``index[r]``.  Rows are
    ``g*beam + k`` over the groups not yet done; a group is done when ``beam`` hypotheses have ended
    and its best live one scores no better (length-normalised, at its current length) than the
    ``beam``-th best ended one, and it leaves the batch then (as in greedy decoding: a table's short
    cells do not wait for its longest).  Stopping at the first ``beam`` endings would return the
    hypotheses that end early: structures short of rows.  Hypotheses are ranked by
    ``score / length**length_penalty``.  Returns ``(ids, aux (T, d)
    or None, score)`` per group.
    """
    active = list(range(groups))  # group ids still decoding, in row order
    scores = torch.full((groups, beam), float("-inf"))
    scores[:, 0] = 0.0
    tokens = torch.zeros(groups * beam, 0, dtype=torch.long)
    aux_hist: torch.Tensor | None = None
    finished: list[list[tuple[float, list[int], torch.Tensor | None, float]]] = [[] for _ in range(groups)]
    ids = None
    for t in range(max_len + 1):
        logp, aux = step(ids, t)
        logp = logp.cpu()
        vocab_size = logp.shape[-1]
        if t == max_len:  # length limit: only <eos> may follow
            forced = torch.full_like(logp, float("-inf"))
            forced[:, eos_id] = logp[:, eos_id]
            logp = forced
        if keep_aux and aux is not None:
            aux_step = aux.unsqueeze(1)
            aux_hist = aux_step if aux_hist is None else torch.cat([aux_hist, aux_step], dim=1)
        n = len(active)
        cand = (scores.unsqueeze(-1) + logp.view(n, beam, vocab_size)).view(n, -1)
        top, idx = cand.topk(min(2 * beam, cand.shape[1]), dim=1)
        keep_rows, keep_scores, keep_tokens, still = [], [], [], []
        for a, (g, group_top, group_idx) in enumerate(zip(active, top.tolist(), idx.tolist())):
            rows, picked_scores, picked_tokens = [], [], []
            for score, j in zip(group_top, group_idx):
                if score == float("-inf"):
                    break
                b, w = divmod(j, vocab_size)
                row = a * beam + b
                if w == eos_id:
                    length = t + 1
                    hyp_aux = aux_hist[row, :t] if keep_aux and aux_hist is not None else None
                    finished[g].append((score / length**length_penalty, tokens[row].tolist(), hyp_aux, score))
                    # Only the best `beam` ended ones can be returned or decide the stop: keep those
                    # (a stable sort, so ties keep their order), not every ending along the way.
                    finished[g].sort(key=lambda f: f[0], reverse=True)
                    del finished[g][beam:]
                    continue
                rows.append(row)
                picked_scores.append(score)
                picked_tokens.append(w)
                if len(rows) == beam:
                    break
            if not rows or (len(finished[g]) == beam and max(picked_scores) / (t + 1) ** length_penalty <= finished[g][-1][0]):
                continue  # done: the group leaves the batch
            # Fewer than beam live hypotheses: pad with copies of the first, scored -inf (never chosen).
            pad = beam - len(rows)
            keep_rows += rows + [rows[0]] * pad
            keep_scores.append(picked_scores + [float("-inf")] * pad)
            keep_tokens += picked_tokens + [eos_id] * pad
            still.append(g)
        if not still:
            break
        index = torch.tensor(keep_rows, dtype=torch.long)
        tokens = torch.cat([tokens[index], torch.tensor(keep_tokens, dtype=torch.long).view(-1, 1)], dim=1)
        if aux_hist is not None:
            aux_hist = aux_hist[index.to(aux_hist.device)]
        reorder(index.to(logp.device if aux is None else aux.device))
        active = still
        scores = torch.tensor(keep_scores)
        ids = torch.tensor(keep_tokens, dtype=torch.long).view(-1, 1)
    results = []
    for g in range(groups):
        if not finished[g]:  # cannot happen with the forced <eos>, kept for safety
            results.append(([], None, float("-inf")))
            continue
        _, seq, hyp_aux, raw = max(finished[g], key=lambda f: f[0])
        results.append((seq, hyp_aux, raw))
    return results


# ---- repair -----------------------------------------------------------------------------------


def repair_structure(tokens: list[str]) -> list[tuple[str, int]]:
    """Make a compressed structure sequence well formed: ``(token, source index or -1 if inserted)``.

    Closes open ``<tr>``, ``<thead>``, ``<tbody>``; opens a row for a cell
    outside one; drops stray closers, span attributes outside a ``<td``
    opening, and a ``<td`` opening that never reaches its ``>``.  Implied
    ``</td>`` (after each cell opening) are not in the output; explicit ones are dropped.
    """
    out: list[tuple[str, int]] = []
    section: str | None = None
    in_row = False
    pending: list[tuple[str, int]] | None = None  # "<td" and its span tokens until ">"

    def close_row() -> None:
        nonlocal in_row
        if in_row:
            out.append(("</tr>", -1))
            in_row = False

    def close_section() -> None:
        nonlocal section
        close_row()
        if section is not None:
            out.append((f"</{section}>", -1))
            section = None

    def open_row_for_cell() -> None:
        nonlocal in_row
        if not in_row:
            out.append(("<tr>", -1))
            in_row = True

    for i, tok in enumerate(tokens):
        if pending is not None:
            if tok.startswith((" colspan=", " rowspan=")):
                if not any(p[0].split("=")[0] == tok.split("=")[0] for p in pending[1:]):
                    pending.append((tok, i))
                continue
            if tok == ">":
                out.extend(pending)
                out.append((">", i))
                pending = None
                continue
            pending = None  # an opening that never closed: drop it, then read tok normally
        if tok in ("<thead>", "<tbody>"):
            close_section()
            section = tok[1:-1]
            out.append((tok, i))
        elif tok in ("</thead>", "</tbody>"):
            if section == tok[2:-1]:
                close_row()
                out.append((tok, i))
                section = None
        elif tok == "<tr>":
            close_row()
            out.append((tok, i))
            in_row = True
        elif tok == "</tr>":
            if in_row:
                out.append((tok, i))
                in_row = False
        elif tok == "<td>":
            open_row_for_cell()
            out.append((tok, i))
        elif tok == "<td":
            open_row_for_cell()
            pending = [(tok, i)]
        # anything else (">" or spans outside an opening, explicit "</td>", specials) is stray
    close_section()
    close_row()
    return out


def repair_cell_tokens(tokens: list[str]) -> list[str]:
    """Balance inline tags in a cell: drop closers of unopened tags, close what is still open, and drop
    pairs that enclose nothing (``<b></b>``: what is left when the reader's tokens inside were specials)."""
    out: list[str] = []
    stack: list[str] = []
    for tok in tokens:
        if tok in INLINE_TAG_TOKENS:
            if tok.startswith("</"):
                name = tok[2:-1]
                if name not in stack:
                    continue
                while stack:  # close inner tags first so nesting stays proper
                    top = stack.pop()
                    out.append(f"</{top}>")
                    if top == name:
                        break
                continue
            stack.append(tok[1:-1])
        out.append(tok)
    out.extend(f"</{name}>" for name in reversed(stack))
    kept: list[str] = []
    for tok in out:
        if tok.startswith("</") and tok in INLINE_TAG_TOKENS and kept and kept[-1] == "<" + tok[2:]:
            kept.pop()  # an empty pair (inner ones first, so "<b><i></i></b>" goes whole)
        else:
            kept.append(tok)
    return kept


def decoded_to_table(decoded: Decoded, image_size: tuple[int, int], filename: str = ""):
    """A :class:`Table` from a decoding, boxes scaled back to the original image's pixels."""
    from ..table import Cell, Table

    width, height = image_size
    cells = [
        Cell(tokens=list(tokens), bbox=(round(b[0] * width, 1), round(b[1] * height, 1), round(b[2] * width, 1), round(b[3] * height, 1)))
        for tokens, b in zip(decoded.cells, decoded.boxes)
    ]
    return Table(list(decoded.structure), cells, filename=filename)
