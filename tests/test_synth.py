"""Synthetic tables: valid by construction, image and annotation agree, deterministic, resumable."""

import hashlib
import itertools
import json
import random

import numpy as np
import pytest
from PIL import Image

from tablerec.cli import main
from tablerec.pubtabnet import iter_records, validate_table
from tablerec.synth import SynthConfig, iter_synth, merge_shards, synth_table, write_synth_dataset
from tablerec.synth import content as synth_content
from tablerec.synth import dataset as synth_dataset
from tablerec.synth import fonts as synth_fonts
from tablerec.synth.augment import rescale, rotate
from tablerec.synth.generate import plan_table, table_rng
from tablerec.synth.render import render
from tablerec.table import INLINE_TAG_TOKENS, Table

PLAIN = SynthConfig(augment_probability=0.0)
SMALL = SynthConfig(max_rows=14, max_cols=7)  # keeps the file-writing tests quick


def _parts(index, seed=0, config=PLAIN):
    return plan_table(table_rng(seed, index), config)[:2]


def _ink(image_a, image_b, threshold=0):
    a = np.asarray(image_a.convert("L"), dtype=np.int16)
    b = np.asarray(image_b.convert("L"), dtype=np.int16)
    return np.abs(a - b) > threshold


def _inside(mask, box, grow=0):
    x0, y0, x1, y1 = box
    inside = np.zeros_like(mask)
    inside[max(0, y0 - grow):y1 + grow, max(0, x0 - grow):x1 + grow] = True
    return inside


def test_tables_are_valid_pubtabnet_records():
    spans = 0
    for image, table in iter_synth(40, seed=3):
        errors, warnings = validate_table(table, image.size)
        assert errors == [] and warnings == [], (table.filename, errors, warnings)
        assert image.mode == "RGB"
        record = table.to_record()
        again = Table.from_record(json.loads(json.dumps(record, ensure_ascii=False)))
        assert again.to_record() == record
        head = [c for c in table.cells if c.header]
        assert ("<thead>" in table.structure) == bool(head)
        for cell in table.cells:
            # Characters are single tokens, inline tags whole tokens; empty cells have no box, others do.
            assert all(len(t) == 1 or t in INLINE_TAG_TOKENS for t in cell.tokens)
            assert (cell.bbox is None) == (not cell.text.strip())
        spans += table.has_spans
        assert 1 <= table.n_rows <= 60 and 1 <= table.n_cols <= 15
    assert spans >= 10  # the issue asks for >= 25% of tables with spans


PROSPECTUS = SynthConfig(financial_probability=1.0, prospectus_probability=1.0, augment_probability=0.0)
LEADERS = SynthConfig(financial_probability=1.0, leader_probability=1.0, augment_probability=0.0)
CHINESE = SynthConfig(financial_probability=1.0, chinese_probability=1.0, prose_probability=0.5, augment_probability=0.0)


@pytest.mark.parametrize("config", [PLAIN, PROSPECTUS, LEADERS, CHINESE], ids=["plain", "prospectus", "leaders", "chinese"])
def test_text_pixels_lie_in_their_own_box_only(config):
    for index in range(12):
        spec, geom = _parts(index, config=config)
        image, boxes = render(spec, geom)
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(synth_table(index, 0, config)[0]))
        no_text, _ = render(spec, geom, draw_text=False)
        text = _ink(image, no_text)
        present = [b for b in boxes if b is not None]
        covered = np.zeros_like(text)
        for box in present:
            inside = _inside(text, box)
            assert not (covered & inside).any(), "two cells' boxes overlap"
            covered |= inside
        assert not (text & ~covered).any(), "text pixels outside every box"
        # Each cell drawn alone: its pixels sit inside its own box (and so outside all others).
        rng = random.Random(index)
        for i in rng.sample([i for i, b in enumerate(boxes) if b], k=min(6, len(present))):
            alone, _ = render(spec, geom, only_cells={i})
            assert not (_ink(alone, no_text) & ~_inside(text, boxes[i])).any()


@pytest.mark.parametrize("how", ["scale-down", "scale-up", "rotate"])
def test_geometric_augmentation_moves_boxes_with_the_pixels(how):
    spec, geom = _parts(5)
    image, boxes = render(spec, geom)
    no_text, _ = render(spec, geom, draw_text=False)
    step = {"scale-down": lambda im, bx: rescale(im, bx, 0.77), "scale-up": lambda im, bx: rescale(im, bx, 1.3),
            "rotate": lambda im, bx: rotate(im, bx, 0.6)}[how]
    moved, new_boxes = step(image, boxes)
    blank, _ = step(no_text, boxes)
    text = _ink(moved, blank, threshold=60)  # resampling smears faint edges; dark ink must stay boxed
    covered = np.zeros_like(text)
    for box in new_boxes:
        if box is not None:
            assert 0 <= box[0] < box[2] <= moved.width and 0 <= box[1] < box[3] <= moved.height
            covered |= _inside(text, box, grow=1)
    assert not (text & ~covered).any()


def test_augmented_tables_stay_valid():
    config = SynthConfig(augment_probability=1.0, max_rows=10, max_cols=6)
    for image, table in iter_synth(12, seed=9, config=config):
        errors, _ = validate_table(table, image.size)
        assert errors == [] and table.extra["synth"]["augment"] is not None


def test_same_seed_and_index_same_table_and_stream_matches():
    a_img, a_tab = synth_table(7, seed=11)
    b_img, b_tab = synth_table(7, seed=11)
    assert a_img.tobytes() == b_img.tobytes() and a_tab.to_record() == b_tab.to_record()
    assert synth_table(7, seed=12)[1].to_record() != a_tab.to_record()
    endless = list(itertools.islice(iter_synth(None, seed=11, start=5), 3))
    assert endless[2][1].to_record() == a_tab.to_record()


def test_curriculum_limits_are_respected():
    config = SynthConfig(max_rows=4, max_cols=3, max_cell_chars=6, max_header_rows=1, augment_probability=0)
    for _image, table in iter_synth(25, seed=1, config=config):
        assert table.n_rows <= 4 and table.n_cols <= 3
        assert all(len(c.text) <= 6 + 1 for c in table.cells)  # +1: a leading indent space


def test_prose_tables_have_multi_line_cells_and_leave_other_seeds_alone():
    prose = SynthConfig(prose_probability=1.0, max_prose_chars=200, augment_probability=0)
    multi_line = 0
    for index in range(12):
        spec, geom = _parts(index, seed=4, config=prose)
        long_cells = [lines for cell, lines in zip(spec.cells, geom.lines) if cell.prose and cell.runs]
        assert all(len("".join(r.text for r in cell.runs)) <= 200 for cell in spec.cells if cell.prose)
        multi_line += any(len(lines) >= 3 for lines in long_cells)
        assert spec.n_rows - spec.n_head <= 9
        image, table = synth_table(index, seed=4, config=prose)
        assert validate_table(table, image.size)[0] == []
    assert multi_line >= 9  # running text wraps over several lines in (nearly) every such table
    # With prose off (the default) the random stream is untouched: tables 0-2 of seed 4 have the structure and
    # text they had before running text existed (digest taken from commit 9c215d5 with the CI's fonts).
    before = [synth_table(i, seed=4)[1] for i in range(3)]
    digest = hashlib.sha256(json.dumps([[t.structure, [c.tokens for c in t.cells]] for t in before]).encode())
    assert digest.hexdigest()[:16] == "ce5ae9c634d2ef58"
    assert not any(c.prose for i in range(12) for c in _parts(i, seed=4)[0].cells)


def test_supersampled_tables_have_lighter_text():
    config = SynthConfig(supersample_probability=1.0, augment_probability=0.0)
    peaks, peaks_at_size = [], []
    for index in range(8):
        for cfg, out in ((config, peaks), (PLAIN, peaks_at_size)):
            image, table = synth_table(index, seed=6, config=cfg)
            assert validate_table(table, image.size)[0] == []
            ink = 255 - np.asarray(image.convert("L"), dtype=np.int16)
            out += [np.percentile(ink[_inside(ink, c.bbox).astype(bool)], 99) for c in table.cells if c.bbox]
        assert table.extra["synth"]["scale"] == 1
    # Drawn large and shrunk with an area filter, strokes cover parts of pixels: a cell's darkest ink is lighter.
    assert np.median(peaks) < np.median(peaks_at_size) - 20


def test_supersampled_text_stays_in_its_box():
    config = SynthConfig(supersample_probability=1.0, augment_probability=0.0)
    for index in range(6):
        spec, geom, scale = plan_table(table_rng(6, index), config)
        assert scale in (2, 3)
        image, _ = render(spec, geom)
        no_text, _ = render(spec, geom, draw_text=False)
        shrunk, shrunk_no_text = (rescale(im, [], 1 / scale, Image.Resampling.BOX)[0] for im in (image, no_text))
        final, table = synth_table(index, seed=6, config=config)
        assert table.extra["synth"]["scale"] == scale
        assert np.array_equal(np.asarray(final.convert("L")), np.asarray(shrunk.convert("L")))
        text = _ink(shrunk, shrunk_no_text)
        covered = np.zeros_like(text)
        for cell in table.cells:
            if cell.bbox is not None:
                covered |= _inside(text, cell.bbox)
        assert not (text & ~covered).any(), "text pixels outside every box"


def test_more_text_kinds_adds_codes_and_lower_case_categories():
    config = SynthConfig(more_text_kinds=True, augment_probability=0.0)
    texts = [c.text for _, t in iter_synth(60, seed=8, config=config) for c in t.cells]
    plain = {c.text for _, t in iter_synth(60, seed=8, config=PLAIN) for c in t.cells}
    assert {"yes", "no"} & set(texts) and not {"yes", "no"} & plain
    assert any(t[:1] in "≤≥" for t in texts if t)
    # Codes: short strings that are neither words nor numbers, e.g. "kQ7p" or "3-x.(".
    codes = [t for t in set(texts) - plain if 1 < len(t) <= 10 and any(ch.isdigit() for ch in t) and any(ch.isalpha() for ch in t)]
    assert len(codes) >= 5


def test_prospectus_tables_hang_wrapped_labels_and_align_figures_to_their_last_line():
    hanging = 0
    for index in range(12):
        spec, geom = _parts(index, seed=9, config=PROSPECTUS)
        assert spec.style.hang > 0 and spec.style.valign == "bottom"
        _, boxes = render(spec, geom)
        no_text, _ = render(spec, geom, draw_text=False)
        for i, (cell, lines) in enumerate(zip(spec.cells, geom.lines)):
            if cell.role != "stub" or len(lines) < 2 or cell.align != "left":
                continue
            # The label's second line starts ``hang`` pixels right of its first.
            alone = _ink(render(spec, geom, only_cells={i})[0], no_text)
            line_h = geom.ascent + geom.descent
            _, y0, _, y1 = boxes[i]
            first, second = alone[y0:y0 + line_h].any(axis=0), alone[y0 + line_h:y1].any(axis=0)
            if first.any() and second.any():
                hanging += second.argmax() - first.argmax() >= spec.style.hang - 2
    assert hanging >= 5
    # Off (the default), no table hangs (and the digest test above shows the stream is untouched).
    plain = SynthConfig(financial_probability=1.0, augment_probability=0.0)
    assert all(_parts(i, seed=9, config=plain)[0].style.hang == 0 for i in range(12))


def test_leader_dots_run_from_labels_to_their_column_edge_outside_the_box():
    dotted = labels = 0
    for index in range(8):
        spec, geom = _parts(index, seed=4, config=LEADERS)
        assert spec.style.leader
        _, boxes = render(spec, geom)
        decoration = np.asarray(render(spec, geom, draw_text=False)[0].convert("L")) < 160
        for cell, box in zip(spec.cells, boxes):
            if box is None or cell.role != "stub" or cell.rowspan > 1 or cell.align != "left":
                continue
            labels += 1
            # Dots lie on the label's last line, between its text and the column's edge (its box excludes them).
            x_end = geom.x_edges[cell.col + 1] - spec.style.pad_x
            band = decoration[box[3] - geom.descent - 3:box[3] - geom.descent + 1, box[2] + 1:x_end]
            dotted += band.any(axis=0).sum() >= 4
    assert labels >= 20 and dotted >= 0.7 * labels
    # Off (the default), no table has them.
    plain = SynthConfig(financial_probability=1.0, augment_probability=0.0)
    assert not any(_parts(i, seed=4, config=plain)[0].style.leader for i in range(12))


def test_chinese_tables_wrap_between_characters_and_stay_valid():
    wrapped = 0
    for image, table in iter_synth(8, seed=6, config=CHINESE):
        assert table.extra["synth"]["font"] in synth_fonts.CJK_FAMILY_FILES
        assert validate_table(table, image.size) == ([], [])
        texts = [c.text for c in table.cells]
        assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts) >= 3
        # A cell of Chinese running text spans several lines though it has no space to break at.
        for cell in table.cells:
            if cell.bbox and len(cell.text) > 40 and " " not in cell.text:
                wrapped += cell.bbox[3] - cell.bbox[1] > 2.5 * table.extra["synth"]["font_px"]
    assert wrapped >= 3
    # Off (the default), no table is Chinese.
    plain = SynthConfig(financial_probability=1.0, augment_probability=0.0)
    assert not any(_parts(i, seed=6, config=plain)[0].style.chinese for i in range(12))


def test_chinese_without_its_fonts_names_the_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(synth_fonts, "FONT_ROOT", tmp_path)
    with pytest.raises(synth_fonts.FontsMissing, match="fonts-arphic-uming"):
        synth_fonts.cjk_families()


def test_missing_word_list_falls_back_to_builtin_words(monkeypatch, tmp_path):
    monkeypatch.setattr(synth_content, "WORD_LIST", tmp_path / "no-such-dict")
    synth_content.vocabulary.cache_clear()
    try:
        image, table = synth_table(3, seed=2, config=PLAIN)
        assert validate_table(table, image.size)[0] == []
    finally:
        synth_content.vocabulary.cache_clear()


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_dataset_is_identical_for_any_worker_count_resume_and_shards(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    write_synth_dataset(one, 10, seed=4, workers=1, config=SMALL)
    write_synth_dataset(two, 10, seed=4, workers=2, config=SMALL)
    assert _files(one) == _files(two)

    # Resume after a crash mid-line, then extend: same bytes as one straight run.
    resumed = tmp_path / "resumed"
    write_synth_dataset(resumed, 4, seed=4, config=SMALL)
    with open(resumed / "annotations.jsonl", "ab") as f:
        f.write(b'{"filename": "synth-4-000')
    summary = write_synth_dataset(resumed, 7, seed=4, config=SMALL)
    assert (summary.existing, summary.written) == (4, 3)
    write_synth_dataset(resumed, 10, seed=4, config=SMALL)
    assert _files(resumed) == _files(one)

    # Shards: each takes i % 2 == k; merged they give the single run's annotations.
    sharded = tmp_path / "sharded"
    for k in (0, 1):
        write_synth_dataset(sharded, 10, seed=4, shard=(k, 2), config=SMALL)
    assert [r["imgid"] for _, r, _ in iter_records(sharded / "annotations-1-of-2.jsonl")] == [1, 3, 5, 7, 9]
    merged = merge_shards(sharded, 2)
    assert merged.read_bytes() == (one / "annotations.jsonl").read_bytes()
    assert _files(sharded / "images") == _files(one / "images")


def test_resume_refuses_other_settings(tmp_path):
    write_synth_dataset(tmp_path, 2, seed=1, config=SMALL)
    with pytest.raises(ValueError, match="other settings"):
        write_synth_dataset(tmp_path, 4, seed=2, config=SMALL)


def test_cli_writes_valid_data_and_reports_bad_input_in_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["synth", str(out), "-n", "3", "--seed", "5", "--set", "max_rows=8", "--quiet"]) == 0
    assert main(["validate", str(out / "annotations.jsonl"), "--images", str(out / "images")]) == 0
    assert "3 valid" in capsys.readouterr().out
    for argv, needle in [
        (["synth", str(tmp_path / "x"), "-n", "-1"], "-n must be >= 0"),
        (["synth", str(out / "annotations.jsonl"), "-n", "2"], "cannot write to"),
        (["synth", str(tmp_path / "y"), "-n", "2", "--shard", "3/2"], "0 <= K < N"),
        (["synth", str(tmp_path / "z"), "-n", "2", "--set", "nonsense=1"], "FIELD=VALUE"),
        (["synth", str(tmp_path / "w"), "-n", "2", "--set", "more_text_kinds=False"], "must be true or false"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("tablerec: error: ") and needle in err and err.count("\n") == 1, err


def test_cli_names_the_package_when_fonts_are_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(synth_fonts, "FONT_ROOT", tmp_path / "no-fonts")
    assert main(["synth", str(tmp_path / "out"), "-n", "2"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install fonts-liberation" in err and err.count("\n") == 1


def test_cli_warns_when_missing_packages_change_the_tables(tmp_path, monkeypatch, capsys):
    # Only DejaVu and no word list: a seed draws other tables than on a fully set-up machine, so say so.
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / "dejavu").symlink_to(synth_fonts.FONT_ROOT / "dejavu")
    monkeypatch.setattr(synth_fonts, "FONT_ROOT", fonts)
    monkeypatch.setattr(synth_content, "WORD_LIST", tmp_path / "no-such-dict")
    synth_content.vocabulary.cache_clear()
    try:
        assert main(["synth", str(tmp_path / "out"), "-n", "1", "--quiet"]) == 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("tablerec: warning: ")
        assert "fonts-freefont-ttf, fonts-liberation, wamerican not installed" in err
        assert synth_dataset.missing_packages(SynthConfig(fonts=("DejaVu Sans",))) == ["wamerican"]
        assert len((tmp_path / "out" / "annotations.jsonl").read_text().splitlines()) == 1
    finally:
        synth_content.vocabulary.cache_clear()


def test_stats_compare_with_the_shared_real_tables(pubtabnet_examples, capsys):
    assert main(["synth", "--stats", "-n", "8", "--set", "max_rows=6"]) == 0
    out = capsys.readouterr().out
    assert "| rows per table |" in out and "pubtabnet_examples" in out and "ctdar2019_modern" in out
