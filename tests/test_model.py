"""The EDD model: vocabularies, shapes and masks, training layout == decoding layout, search, repair."""

from __future__ import annotations

import random

import torch

from tablerec.model import EDDConfig, create_model, prepare_image
from tablerec.model.beam import decode, decoded_to_table, repair_cell_tokens, repair_structure
from tablerec.model.vocab import cell_opening_positions, cell_vocab, compress_structure, expand_structure, structure_vocab
from tablerec.pubtabnet import _structure_problems, read_tables
from tablerec.table import Table
from tablerec.training import TrainConfig, collate, encode_example

TINY = EDDConfig(
    image_size=64, stem_width=8, encoder_widths=(16, 32), encoder_depths=(1, 1), encoder_strides=(2, 2),
    d_model=32, n_heads=2, structure_layers=2, cell_layers=2, max_structure_len=60, max_cell_len=12,
)


def small_table(n_rows: int = 2, texts=("a", "bc", "", "d<")) -> tuple[object, Table]:
    from PIL import Image

    html = "<table><thead><tr><td>" + "</td><td>".join(texts[:2]) + "</td></tr></thead><tbody>"
    html += "".join("<tr><td colspan=\"2\">" + texts[(2 + r) % len(texts)] + "</td></tr>" for r in range(n_rows - 1))
    html += "</tbody></table>"
    table = Table.from_html(html)
    for i, cell in enumerate(table.cells):
        if cell.tokens:
            cell.bbox = (5 + i, 5 + 2 * i, 30 + i, 20 + 2 * i)
    return Image.new("RGB", (80, 40), "white"), table


def batch_of(model, examples, cfg=None):
    rng = random.Random(0)
    cfg = cfg or TrainConfig()
    return collate([encode_example(im, t, model.config, model.structure_vocab, model.cell_vocab, rng, cfg) for im, t in examples])


# ---- vocabularies ----------------------------------------------------------------------------------


def test_compressed_structure_round_trips_and_covers_real_tokens(pubtabnet_examples):
    svocab, cvocab = structure_vocab(), cell_vocab()
    for table in read_tables(pubtabnet_examples / "annotations.jsonl"):
        compressed = compress_structure(table.structure)
        assert "</td>" not in compressed
        assert expand_structure(compressed) == table.structure
        assert len(cell_opening_positions(compressed)) == len(table.cells)
        assert svocab.unk_id not in svocab.encode(compressed)
        for cell in table.cells:
            assert cvocab.decode(cvocab.encode(cell.tokens)) == cell.tokens


# ---- shapes and masks ----------------------------------------------------------------------------------


def test_forward_losses_are_finite_and_backward_reaches_every_parameter():
    torch.manual_seed(0)
    model = create_model(TINY)
    batch = batch_of(model, [small_table(2), small_table(3)])
    assert batch["images"].shape == (2, 1, 64, 64)
    assert batch["cell_in"].shape == batch["cell_seg"].shape == batch["cell_out"].shape
    out = model(batch)
    for key in ("loss", "structure", "cell", "box"):
        assert torch.isfinite(out[key]), key
    out["loss"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_fine_cell_memory_variant_trains_and_decodes():
    from dataclasses import replace

    torch.manual_seed(0)
    model = create_model(replace(TINY, cell_fine_memory=True))
    memory, grid, cell_memory, cell_grid = model.encoder(torch.rand(2, 1, 64, 64))
    assert grid == (8, 8) and cell_grid == (16, 16) and cell_memory.shape == (2, 256, TINY.d_model)
    out = model(batch_of(model, [small_table(2), small_table(3)]))
    out["loss"].backward()
    decoded = decode(model.eval(), torch.rand(1, 64, 64))
    Table.from_html(decoded_to_table(decoded, (100, 50)).to_html())


def test_packed_cells_do_not_see_each_other():
    """Changing one cell's tokens changes nothing in the other cells' logits (block-diagonal mask)."""
    torch.manual_seed(0)
    model = create_model(TINY).eval()
    batch = batch_of(model, [small_table(3)], TrainConfig(box_jitter=0.0))
    logits = {}

    def capture(module, inputs, output):
        logits["x"] = output

    handle = model.cell_decoder.head.register_forward_hook(capture)
    model(batch)
    before = logits["x"].clone()
    seg = batch["cell_seg"][0]
    other = batch["cell_in"].clone()
    last_cell = int(seg.max())
    positions = ((seg == last_cell) & ~batch["cell_is_start"][0]).nonzero().flatten()
    other[0, positions] = 5
    model({**batch, "cell_in": other})
    handle.remove()
    untouched = seg != last_cell
    assert torch.allclose(before[0, untouched], logits["x"][0, untouched], atol=1e-5)


def test_training_layout_equals_incremental_decoding():
    """Teacher-forced logits equal the logits of step-by-step decoding with the KV caches."""
    torch.manual_seed(0)
    model = create_model(TINY).eval()
    image, table = small_table(3)
    batch = batch_of(model, [(image, table)], TrainConfig(box_jitter=0.0, max_cells_per_table=100))
    with torch.no_grad():
        memory, grid, _, _ = model.encoder(batch["images"])
        kv = model.structure_decoder.memory_kv(memory)
        full, hidden = model.structure_decoder(batch["structure_in"], kv)
        caches = [dict() for _ in model.structure_decoder.layers]
        steps = [model.structure_decoder(batch["structure_in"][:, t : t + 1], kv, start=t, caches=caches)[0] for t in range(batch["structure_in"].shape[1])]
    assert torch.allclose(full, torch.cat(steps, dim=1), atol=1e-4)


def test_beam_one_equals_greedy():
    torch.manual_seed(1)
    model = create_model(TINY).eval()
    # Push the untrained model towards short, cell-bearing sequences so the test exercises both decoders.
    with torch.no_grad():
        model.structure_decoder.head.bias[model.structure_vocab.index["<td>"]] += 3.0
        model.structure_decoder.head.bias[model.structure_vocab.eos_id] += 2.5
    x = torch.rand(1, 64, 64)
    greedy = decode(model, x, beam=1)
    beam1 = decode(model, x, beam=1, force_beam=True)
    assert greedy.structure == beam1.structure
    assert greedy.cells == beam1.cells
    assert greedy.cells, "the test needs at least one cell"
    beam3 = decode(model, x, beam=3)
    assert beam3.structure_score >= greedy.structure_score - 1e-4 or len(beam3.structure) != len(greedy.structure)


def test_beam_search_finds_the_best_sequence_and_drops_finished_groups():
    # A toy language: group g's best sequence is g+1 tokens of 1 then <eos> (id 0); each step sees only
    # the rows of groups still decoding, and reorder keeps that bookkeeping right.
    from tablerec.model.beam import beam_search

    groups, beam, vocab = 3, 2, 4
    state = {"group": torch.arange(groups).repeat_interleave(beam), "seen": []}

    def step(ids, t):
        state["seen"].append(len(state["group"]))
        logp = torch.full((len(state["group"]), vocab), -5.0)
        logp[:, 1] = -0.1
        logp[state["group"] + 1 == t, 0] = -0.01  # <eos> is best once the group has its tokens
        logp[state["group"] + 1 == t, 1] = -6.0
        return logp, None

    def reorder(index):
        state["group"] = state["group"][index]

    results = beam_search(step, reorder, groups, beam, max_len=10, eos_id=0)
    assert [ids for ids, _, _ in results] == [[1], [1, 1], [1, 1, 1]]
    assert state["seen"][:2] == [6, 6] and state["seen"][-1] == 2  # the shorter groups left the batch


def test_beam_search_waits_for_a_longer_better_hypothesis():
    # Two short hypotheses end first ("<eos>" at once, and "b <eos>"); "a a <eos>" ends a step later with a
    # better length-normalised score.  A search that stopped at the first `beam` endings returned "b".
    from tablerec.model.beam import beam_search

    table = {(): [-1.2, -0.4, -2.0], (1,): [-2.0, -0.05, -9.0], (2,): [-0.1, -9.0, -9.0], (1, 1): [-0.05, -9.0, -9.0]}
    prefixes = [(), ()]

    def step(ids, t):
        if ids is not None:
            prefixes[:] = [p + (int(i),) for p, i in zip(prefixes, ids.flatten().tolist())]
        return torch.tensor([table.get(p, [0.0, -9.0, -9.0]) for p in prefixes]), None

    def reorder(index):
        prefixes[:] = [prefixes[i] for i in index.tolist()]

    [(ids, _, score)] = beam_search(step, reorder, groups=1, beam=2, max_len=10, eos_id=0)
    assert ids == [1, 1] and abs(score - (-0.4 - 0.05 - 0.05)) < 1e-6


def test_decoding_respects_length_limits_and_always_gives_valid_html():
    torch.manual_seed(2)
    model = create_model(TINY).eval()
    for beam in (1, 2):
        decoded = decode(model, torch.rand(1, 64, 64), beam=beam)
        assert len(compress_structure(decoded.structure)) <= TINY.max_structure_len + 8  # + inserted closers
        assert all(len(c) <= TINY.max_cell_len + 4 for c in decoded.cells)
        table = decoded_to_table(decoded, (200, 100))
        assert not _structure_problems(table.structure)
        Table.from_html(table.to_html())


# ---- repair --------------------------------------------------------------------------------------------


def test_repair_makes_any_token_soup_well_formed():
    rng = random.Random(0)
    tokens = structure_vocab().tokens[4:] + ["</td>"]
    for _ in range(300):
        soup = [rng.choice(tokens) for _ in range(rng.randint(0, 40))]
        repaired = [t for t, _ in repair_structure(soup)]
        expanded = expand_structure(repaired)
        assert not _structure_problems(expanded), (soup, expanded)
        cells = [[] for t in range(len(cell_opening_positions(repaired)))]
        Table(expanded, [__import__("tablerec.table", fromlist=["Cell"]).Cell(tokens=c) for c in cells])


def test_repair_keeps_valid_structure_and_sources():
    structure = compress_structure(["<thead>", "<tr>", "<td", ' colspan="2"', ">", "</td>", "</tr>", "</thead>", "<tbody>", "<tr>", "<td>", "</td>", "<td>", "</td>", "</tr>", "</tbody>"])
    repaired = repair_structure(structure)
    assert [t for t, _ in repaired] == structure
    assert [i for _, i in repaired] == list(range(len(structure)))
    # Unclosed: everything gets closed; a dangling "<td" opening is dropped.
    assert [t for t, _ in repair_structure(["<tbody>", "<tr>", "<td>", "<td", ' rowspan="2"'])] == ["<tbody>", "<tr>", "<td>", "</tr>", "</tbody>"]


def test_cell_text_is_escaped_and_inline_tags_balanced():
    assert repair_cell_tokens(["<b>", "x", "<i>", "y"]) == ["<b>", "x", "<i>", "y", "</i>", "</b>"]
    assert repair_cell_tokens(["</b>", "x", "<sup>", "1", "</b>"]) == ["x", "<sup>", "1", "</sup>"]
    # Tags around nothing go (with tags around them that then enclose nothing); around a space they stay.
    assert repair_cell_tokens(["<b>", "<i>", "</i>", "</b>", "7", "<sup>"]) == ["7"]
    assert repair_cell_tokens(["<b>", " ", "</b>"]) == ["<b>", " ", "</b>"]
    image, table = small_table(2, texts=("<", "&", ">", "<script>"))
    html = table.to_html()
    assert "<script>" not in html and "&lt;" in html


def test_prepare_image_is_resized_ink_positive():
    from PIL import Image

    img = Image.new("RGB", (300, 100), "white")
    img.paste((0, 0, 0), (0, 0, 150, 100))
    x = prepare_image(img, TINY)
    assert x.shape == (1, 64, 64)
    assert x[0, :, :30].mean() > 0.95 and x[0, :, 34:].mean() < 0.05


# ---- crop reading -----------------------------------------------------------------------------------------

CROP = EDDConfig(**{**TINY.to_dict(), "cell_reader": "crop", "crop_size": (16, 64), "crop_widths": (4, 8, 8), "crop_ctc_weight": 0.5})


def test_crop_cells_cuts_the_box_out_of_its_page():
    from tablerec.model.edd import CROP_MARGIN_WIDTH, CROP_MARGIN_X, CROP_MARGIN_Y, crop_cells

    pages = torch.zeros(2, 1, 40, 100, dtype=torch.uint8)
    pages[1, 0, 10:20, 30:60] = 255  # an ink block on page 1 (page 0 is smaller, padded)
    sizes = torch.tensor([[50, 30], [100, 40]])
    boxes = torch.tensor([[[0.0, 0.0, 1.0, 1.0]], [[0.3, 0.25, 0.6, 0.5]]])  # page 1: exactly the block
    crops = crop_cells(pages, sizes, boxes, CROP)
    assert crops.shape == (2, 1, 16, 64)
    assert crops[0].max() == 0  # blank page
    # The block is 30x10 px (one line of 10 px: the only box on its page), with margins mx (x) and my (y).
    ink = crops[1, 0] > 0.5
    rows, cols = ink.any(1).nonzero().flatten(), ink.any(0).nonzero().flatten()
    mx, my = 10 * CROP_MARGIN_X + 30 * CROP_MARGIN_WIDTH, 10 * CROP_MARGIN_Y
    scale = min(16 / (10 + 2 * my), 64 / (30 + 2 * mx))
    assert abs(int(rows[0]) - my * scale) <= 1 and abs(int(rows[-1]) + 1 - (my + 10) * scale) <= 1
    assert abs(int(cols[0]) - mx * scale) <= 1 and abs(int(cols[-1]) + 1 - (mx + 30) * scale) <= 1
    assert not ink[:, int((30 + 2 * mx) * scale) + 2 :].any()
    assert not ink[int((10 + 2 * my) * scale) + 2 :].any()  # beyond the box (plus margin): blank, not the next cell


def test_crop_max_scale_bounds_how_far_small_text_is_enlarged():
    from tablerec.model.edd import crop_cells

    pages = torch.zeros(1, 1, 40, 100, dtype=torch.uint8)
    pages[0, 0, 20:22, 40:44] = 255  # 4x2 px of ink: a line (clamped to 4 px) needs 2.67x to fill 16 crop rows
    boxes = torch.tensor([[[0.40, 0.50, 0.44, 0.55]]])
    heights = {}
    for max_scale in (2.0, 4.0):
        config = EDDConfig(**{**CROP.to_dict(), "crop_max_scale": max_scale})
        crop = crop_cells(pages, torch.tensor([[100, 40]]), boxes, config)[0, 0]
        heights[max_scale] = float(crop.sum(0).max())  # the ink's height in crop rows (bilinear keeps its mass)
    # 2 px of ink: 2x at the cap of 2; 16 / 6 = 2.67x at a cap of 4 (the crop's height binds, not the cap).
    assert abs(heights[2.0] - 4.0) < 0.2 and abs(heights[4.0] - 2 * 16 / 6) < 0.2
    assert EDDConfig().crop_max_scale == 2.0  # checkpoints from before the field read as before


def test_crop_reader_trains_and_its_layout_equals_incremental_decoding():
    torch.manual_seed(0)
    model = create_model(CROP)
    assert model.cell_decoder.box_bias_scale is None
    batch = batch_of(model, [small_table(2), small_table(3)], TrainConfig(box_jitter=0.0, max_cells_per_table=100))
    assert batch["pages"].dtype == torch.uint8 and batch["cell_valid"].sum() == 3 + 4
    out = model(batch)
    assert torch.isfinite(out["ctc"]) and out["ctc"] > 0
    out["loss"].backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]

    model.eval()
    captured = {}
    handle = model.cell_decoder.head.register_forward_hook(lambda m, i, o: captured.setdefault("x", o))
    with torch.no_grad():
        model(batch)
    handle.remove()
    packed = captured["x"]
    # The same cells decoded one token at a time, each over its own crop's memory.
    from tablerec.model.edd import crop_cells

    with torch.no_grad():
        crops = crop_cells(batch["pages"], batch["page_sizes"], batch["guide_boxes"], model.config)[batch["cell_valid"]]
        kv = model.cell_decoder.memory_kv(model.crop_encoder(crops.unsqueeze(1)))
        memory, _, _, _ = model.encoder(batch["images"])
        _, hidden = model.structure_decoder(batch["structure_in"], model.structure_decoder.memory_kv(memory))
    row = 0
    for b in range(2):
        seg = batch["cell_seg"][b]
        for c in range(int(batch["cell_valid"][b].sum())):
            where = (seg == c).nonzero().flatten()
            start = hidden[b, batch["cell_pos"][b, c]].view(1, 1, -1)
            caches = [dict() for _ in model.cell_decoder.layers]
            cell_kv = [(k[row : row + 1], v[row : row + 1]) for k, v in kv]
            for t, at in enumerate(where.tolist()):
                with torch.no_grad():
                    x = model.cell_decoder.inputs(
                        start, batch["cell_in"][b, at].view(1, 1), batch["cell_is_start"][b, at].view(1, 1), torch.tensor([[t]])
                    )
                    logits = model.cell_decoder(x, cell_kv, None, caches=caches)
                assert torch.allclose(logits[0, 0], packed[b, at], atol=1e-4)
            row += 1

    from PIL import Image

    from tablerec.model.beam import decode_image

    decoded = decode_image(model, Image.new("L", (90, 40), 255), beam=2)
    Table.from_html(decoded_to_table(decoded, (90, 40)).to_html())
    for beam in (1, 2):  # joint CTC/attention decoding of the cell text (the model has a CTC head)
        joint = decode_image(model, Image.new("L", (90, 40), 255), beam=beam, ctc_weight=0.4)
        assert joint.structure == decode_image(model, Image.new("L", (90, 40), 255), beam=beam).structure
        Table.from_html(decoded_to_table(joint, (90, 40)).to_html())


def test_growing_the_reader_keeps_what_the_model_computes():
    # A wider crop CNN and one more cell-decoder layer, warm-started from the smaller model: every old
    # tensor is used, and the grown model's losses equal the old one's until training moves it.
    from dataclasses import replace

    from tablerec.model import load_matching_weights

    from PIL import Image

    torch.manual_seed(0)
    small = create_model(replace(CROP, cell_layers=1))
    ink = Image.effect_noise((80, 40), 60).convert("RGB")  # blank pages would leave the new channels at zero
    examples = [(ink, table) for _, table in (small_table(2), small_table(3))]
    batch = batch_of(small, examples, TrainConfig(box_jitter=0.0, max_cells_per_table=100))
    small.train()
    small(batch)  # batch-norm running statistics away from their defaults
    small.eval()
    grown = create_model(replace(CROP, cell_layers=2, crop_widths=(8, 16, 16)))
    copied, n_grown, total = load_matching_weights(grown, {"model": small.state_dict()})
    assert copied + n_grown == len(small.state_dict()) and n_grown > 0 and total > copied + n_grown
    grown.eval()
    with torch.no_grad():
        before, after = small(batch), grown(batch)
    for key in ("structure", "box", "cell", "ctc"):
        assert torch.allclose(before[key], after[key], atol=1e-5), key
    # ... and a plain fresh model of the grown shape does not compute the same.
    with torch.no_grad():
        assert not torch.allclose(create_model(grown.config).eval()(batch)["cell"], before["cell"], atol=1e-3)


def test_cells_known_to_hold_text_are_not_read_as_empty():
    from tablerec.model.beam import read_crops

    torch.manual_seed(0)
    model = create_model(CROP).eval()
    with torch.no_grad():
        model.cell_decoder.head.bias[model.cell_vocab.eos_id] = 100.0  # a reader that would end every cell at once
    page = torch.zeros(1, 40, 80, dtype=torch.uint8)
    boxes = torch.tensor([[0.1, 0.1, 0.4, 0.4], [0.5, 0.1, 0.9, 0.4], [0.1, 0.5, 0.9, 0.9]])
    hidden = torch.randn(3, CROP.d_model)
    pieces = [[tuple(boxes[0].tolist())], [], [(0.1, 0.5, 0.5, 0.7), (0.1, 0.7, 0.5, 0.9)]]  # words in cells 0 and 2
    for beam in (1, 2):
        with torch.no_grad():
            cells = read_crops(model, page, boxes, hidden, pieces, beam=beam)
        assert cells[0] and not cells[1] and cells[2]
        assert " " in cells[2]  # two pieces, joined


def test_a_cells_reading_does_not_depend_on_the_cells_read_beside_it():
    # Cells leave the batch as their searches end, and a cell's hypotheses share its crop's memory: each
    # must go on reading its own crop's memory, whatever the other cells do.
    from tablerec.model.beam import decode_cells

    torch.manual_seed(3)
    model = create_model(CROP).eval()
    with torch.no_grad():
        model.cell_decoder.head.bias[model.cell_vocab.eos_id] += 1.5  # cells that end at different steps
        memory = torch.randn(8, 16, CROP.d_model) * 3.0  # eight crops' memories, far apart
        hidden, boxes = torch.randn(8, CROP.d_model), torch.rand(8, 4)
        ctc = torch.randn(8, 16, len(model.cell_vocab.tokens)).log_softmax(-1)
        for beam in (1, 3):
            for weight in (0.0, 0.4):  # attention alone, and joint CTC/attention
                together = decode_cells(model, memory, None, hidden, boxes, beam, ctc_log_probs=ctc, ctc_weight=weight)
                alone = [
                    decode_cells(model, memory[i : i + 1], None, hidden[i : i + 1], boxes[i : i + 1], beam, ctc_log_probs=ctc[i : i + 1], ctc_weight=weight)[0]
                    for i in range(8)
                ]
                assert together == alone
                if weight == 0.0:
                    assert len({len(ids) for ids in together}) > 2, together


def test_a_table_the_greedy_read_finds_tall_is_decoded_in_bands_at_any_beam(monkeypatch):
    # A beam may end a tall table's structure early (a short hypothesis that ended outscores the long
    # ones): the greedy read decides, so the table still goes band by band.
    from PIL import Image

    import tablerec.model.beam as beam_module

    model = create_model(CROP).eval()
    rows = {1: 25, 3: 12}  # structure rows the greedy read and the beam find

    def fake_structure(model, encoded, beam=1, force_beam=False, even_rows=True, width=None):
        tokens = ["<tbody>"] + ["<tr>", "<td>", "</tr>"] * rows[beam] + ["</tbody>"]
        return tokens, torch.zeros(rows[beam], CROP.d_model), 0.0, None, None

    banded = []
    monkeypatch.setattr(beam_module, "decode_table_structure", fake_structure)
    monkeypatch.setattr(beam_module, "band_cuts", lambda page, min_lines, lines: [20])
    monkeypatch.setattr(beam_module, "decode_bands", lambda *args: banded.append(args[5]) or beam_module.Decoded([], [], []))
    for beam in (1, 3):
        beam_module.decode_image(model, Image.new("L", (90, 40), 255), beam=beam, row_groups=False)
    assert banded == [1, 3]
