"""Inference: the shipped model, Predictor/recognize, and `tablerec predict` on good and broken images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tablerec.inference import DEFAULT_WEIGHTS, ImageError, Predictor, load_image
from tablerec.table import Table

REPO = Path(__file__).resolve().parents[1]


def first_example(pubtabnet_examples: Path) -> Path:
    return sorted((pubtabnet_examples / "images").glob("*.png"))[0]


def test_shipped_model_predicts_valid_html(pubtabnet_examples):
    from tablerec import recognize

    assert DEFAULT_WEIGHTS.is_file(), f"the package must ship its model at {DEFAULT_WEIGHTS}"
    image = first_example(pubtabnet_examples)
    table = recognize(image)
    assert isinstance(table, Table)
    parsed = Table.from_html(table.to_html())
    assert parsed.structure == table.structure
    assert DEFAULT_WEIGHTS.stat().st_size <= 30 * 2**20
    from PIL import Image

    w, h = Image.open(image).size
    for cell in table.cells:
        x0, y0, x1, y1 = cell.bbox
        assert 0 <= x0 <= x1 <= w and 0 <= y0 <= y1 <= h


def test_snapping_moves_boxes_but_not_structure(pubtabnet_examples):
    image = first_example(pubtabnet_examples)
    # Row groups and structure edits (on by default) follow the text read and the page's rows, which
    # snapping finds; the decoded grid does not change.
    snapped = Predictor(row_groups=False, structure_edits=False).recognize(image)
    predicted = Predictor(snap=False, row_groups=False, structure_edits=False).recognize(image)
    assert snapped.structure == predicted.structure
    moved = [a.bbox != b.bbox for a, b in zip(snapped.cells, predicted.cells)]
    assert sum(moved) > len(moved) / 2, "snapping should move most cell boxes onto the text"


def test_predictor_greedy_and_beam(tiny_checkpoint, pubtabnet_examples):
    from PIL import Image

    predictor = Predictor(tiny_checkpoint, device="cpu")
    path = first_example(pubtabnet_examples)
    by_path = predictor.recognize(path)
    by_image = predictor.recognize(Image.open(path))
    assert by_path.structure == by_image.structure and by_path.filename == path.name
    assert by_path.cells, "the biased tiny model emits cells"
    Table.from_html(predictor.recognize(path, beam=2).to_html())


def test_cell_beam_changes_only_the_cell_text(pubtabnet_examples):
    # The structure decoder stays greedy; the cell decoder searches (by default, with a beam of 3).
    image = first_example(pubtabnet_examples)
    greedy = Predictor(cell_beam=1).recognize(image)
    default = Predictor()
    assert (default.beam, default.cell_beam) == (1, 3)
    searched = default.recognize(image)
    assert searched.structure == greedy.structure
    assert [c.bbox for c in searched.cells] == [c.bbox for c in greedy.cells]


def test_predict_cli_refuses_a_cell_beam_below_one(tiny_checkpoint, pubtabnet_examples):
    result = run_cli("predict", str(first_example(pubtabnet_examples)), "--model", str(tiny_checkpoint), "--cell-beam", "0")
    assert result.returncode != 0 and "--cell-beam" in result.stderr


def test_predict_cli_refuses_a_ctc_weight_outside_zero_to_one(tiny_checkpoint, pubtabnet_examples):
    for weight in ("-0.1", "1"):
        result = run_cli("predict", str(first_example(pubtabnet_examples)), "--model", str(tiny_checkpoint), "--ctc-weight", weight)
        assert result.returncode != 0 and "--ctc-weight" in result.stderr


def test_load_image_refuses_broken_inputs(tmp_path):
    from PIL import Image

    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(ImageError):
        load_image(tmp_path / "corrupt.png")
    with pytest.raises(ImageError):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="too large"):
        load_image(Image.new("L", (100, 100)), max_pixels=5000)


def test_missing_default_weights_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model checkpoint"):
        Predictor(tmp_path / "nope.pt")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "tablerec", *args], capture_output=True, text=True, env=env, timeout=120)


def test_predict_cli_reports_a_corrupt_image_and_goes_on(tmp_path, tiny_checkpoint, pubtabnet_examples):
    images = tmp_path / "images"
    images.mkdir()
    good = first_example(pubtabnet_examples)
    (images / "a_good.png").write_bytes(good.read_bytes())
    (images / "b_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    (images / "c_good.png").write_bytes(good.read_bytes())
    out = tmp_path / "pred.jsonl"
    result = run_cli("predict", str(images), "-o", str(out), "--model", str(tiny_checkpoint), "--no-progress")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "b_corrupt.png" in line]
    assert len(errors) == 1
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["filename"] for r in lines] == ["a_good.png", "c_good.png"]
    for r in lines:
        assert set(r) == {"filename", "html", "cells", "seconds"}
        Table.from_html(r["html"])


def test_predict_cli_single_image_prints_html(tiny_checkpoint, pubtabnet_examples):
    result = run_cli("predict", str(first_example(pubtabnet_examples)), "--model", str(tiny_checkpoint))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<html><body><table>")


def test_predict_cli_no_snap_reads_at_the_predicted_boxes(tmp_path, pubtabnet_examples):
    image = str(first_example(pubtabnet_examples))
    outs = []
    for extra in ((), ("--no-snap",)):
        out = tmp_path / f"pred{len(extra)}.jsonl"
        result = run_cli("predict", image, "-o", str(out), *extra)
        assert result.returncode == 0, result.stderr
        outs.append(json.loads(out.read_text()))
    assert outs[0]["cells"] != outs[1]["cells"]  # the boxes differ: one run snapped them, the other did not


def test_readings_of_a_cells_pieces_are_joined_with_inline_tags_kept_open():
    from tablerec.model.beam import join_pieces

    assert join_pieces([["a", "b"], [], ["c"]]) == ["a", "b", " ", "c"]
    assert join_pieces([["<b>", "a", "</b>"], ["<b>", "c", "</b>"]]) == ["<b>", "a", " ", "c", "</b>"]
    assert join_pieces([["<b>", "<i>", "a", "</i>", "</b>"], ["<b>", "c", "</b>"]]) == ["<b>", "<i>", "a", "</i>", " ", "c", "</b>"]
    assert join_pieces([["<b>", "a", "</b>"], ["c"]]) == ["<b>", "a", "</b>", " ", "c"]
