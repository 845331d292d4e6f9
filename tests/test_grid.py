"""Structure decoding that keeps every row as wide as the first plain one (tablerec.model.grid)."""

from __future__ import annotations

import torch

from tablerec.model.beam import decode_structure
from tablerec.model.grid import GridRule
from tablerec.model.vocab import structure_vocab

VOCAB = structure_vocab()


def _forbidden(state) -> set[str]:
    mask = state.mask()
    return set() if mask is None else {VOCAB.tokens[i] for i in torch.nonzero(mask < 0).view(-1).tolist()}


def test_the_first_row_without_a_colspan_sets_the_width_and_rowspans_fill_slots():
    state = GridRule(VOCAB).new_state()
    # A header row with a colspan (its width is not trusted), then a plain row of three.
    for token in ["<thead>", "<tr>", "<td>", "<td", ' colspan="2"', ">", "</tr>", "<tr>", "<td>", "<td>"]:
        state.push(VOCAB.index[token])
    assert state.width is None and not _forbidden(state)
    state.push(VOCAB.index["<td>"])
    state.push(VOCAB.index["</tr>"])
    assert state.width == 3
    # A row opening with a cell two rows tall: "</tr>" is forbidden until three slots are filled,
    # and a colspan may not run past the end.
    for token in ["</thead>", "<tbody>", "<tr>", "<td", ' rowspan="2"', ">", "<td"]:
        state.push(VOCAB.index[token])
    assert ' colspan="2"' not in _forbidden(state) and ' colspan="3"' in _forbidden(state)
    state.push(VOCAB.index[">"])
    assert _forbidden(state) == {"</tr>"}
    state.push(VOCAB.index["<td>"])
    assert _forbidden(state) == {"<td>", "<td"}
    # The next row starts with its first slot covered by the rowspan: two cells fill it.
    state.push(VOCAB.index["</tr>"])
    state.push(VOCAB.index["<tr>"])
    assert state.column == 1
    state.push(VOCAB.index["<td>"])
    state.push(VOCAB.index["<td>"])
    assert _forbidden(state) == {"<td>", "<td"}


class _RowWriter:
    """A stand-in structure decoder that wants rows of 2, 4 and 1 cells (then </tr> and <td> as
    second and third choices); it reads its own history from the decoding cache, which beam search
    reorders like a real decoder's."""

    layers = [None]

    def memory_kv(self, memory):
        return []

    def __call__(self, ids, memory_kv, start, caches):
        cache = caches[0]
        history = ids if "k" not in cache else torch.cat([cache["k"], ids], dim=1)
        cache["k"] = cache["v"] = history
        logits = torch.zeros(len(ids), 1, len(VOCAB))
        logits[:, 0, VOCAB.index["</tr>"]] = 1.0
        logits[:, 0, VOCAB.index["<td>"]] = 0.5
        for row, seq in enumerate(history.tolist()):
            tokens = [VOCAB.tokens[i] for i in seq[1:]]
            rows_done, cells = tokens.count("</tr>"), 0
            if tokens and tokens[-1] in ("<td>", "<tr>"):
                cells = len(tokens) - 1 - max(i for i, t in enumerate(tokens) if t == "<tr>")
            if not tokens:
                want = "<tbody>"
            elif tokens[-1] == "</tbody>":
                want = "<eos>"
            elif tokens[-1] in ("<tbody>", "</tr>"):
                want = "<tr>" if rows_done < 3 else "</tbody>"
            else:
                want = "<td>" if cells < (2, 4, 1)[rows_done] else "</tr>"
            logits[row, 0, VOCAB.index[want]] = 5.0
        return logits, torch.zeros(len(ids), 1, 4)


class _Model:
    structure_decoder = _RowWriter()
    structure_vocab = VOCAB

    class config:
        max_structure_len = 40


def _row_widths(ids: list[int]) -> list[int]:
    widths, cells = [], 0
    for token in (VOCAB.tokens[i] for i in ids):
        if token == "<tr>":
            cells = 0
        elif token == "<td>":
            cells += 1
        elif token == "</tr>":
            widths.append(cells)
    return widths


def test_decoding_keeps_rows_even_greedy_and_in_beam_search():
    memory = torch.zeros(1, 1, 4)
    assert _row_widths(decode_structure(_Model(), memory, even_rows=False)[0]) == [2, 4, 1]
    assert _row_widths(decode_structure(_Model(), memory)[0]) == [2, 2, 2]
    for beam in (1, 2):
        ids, _, _ = decode_structure(_Model(), memory, beam=beam, force_beam=True)
        assert _row_widths(ids) == [2, 2, 2]


def test_rowspans_are_clipped_at_a_bands_end():
    from tablerec.model.beam import _clip_rowspans

    row = ["<tr>", "<td", ' rowspan="3"', ">", "<td", ' rowspan="2"', ' colspan="2"', ">", "<td>", "</tr>"]
    assert _clip_rowspans(row, 3) == row
    assert _clip_rowspans(row, 2) == ["<tr>", "<td", ' rowspan="2"', ">", "<td", ' rowspan="2"', ' colspan="2"', ">", "<td>", "</tr>"]
    assert _clip_rowspans(row, 1) == ["<tr>", "<td>", "<td", ' colspan="2"', ">", "<td>", "</tr>"]


def test_a_tall_table_is_decoded_in_bands_into_one_grid():
    from tablerec.inference import Predictor
    from tablerec.model import beam
    from tablerec.synth import SynthConfig, synth_table
    from tablerec.table import Table, logical_grid

    image, truth = synth_table(3, seed=11, config=SynthConfig(min_rows=34, max_rows=34, span_probability=0.0))
    predictor = Predictor(device="cpu")
    calls = []
    original = beam.decode_bands
    beam.decode_bands = lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs)
    try:
        table = predictor.recognize(image)
    finally:
        beam.decode_bands = original
    assert calls, "a table of 34 rows is decoded in bands"
    Table.from_html(table.to_html())
    places = logical_grid(table.structure)
    widths = {}
    for row, col, rowspan, colspan, _ in places:
        for r in range(row, row + rowspan):
            widths[r] = widths.get(r, 0) + colspan
    assert len(set(widths.values())) == 1, "every row as wide as the others"
    for cell in table.cells:
        x0, y0, x1, y1 = cell.bbox
        assert 0 <= x0 <= x1 <= image.width and 0 <= y0 <= y1 <= image.height
