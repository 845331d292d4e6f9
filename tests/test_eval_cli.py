"""`tablerec eval` and tablerec.metrics.evaluate, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tablerec.cli import main
from tablerec.metrics.evaluate import EvaluationError, evaluate_files, load_ground_truth, load_predictions

SHARED = Path(__file__).parents[1] / ".." / "shared"
VECTORS = SHARED / "teds_vectors" / "pubtabnet_examples.jsonl"
ANNOTATIONS = SHARED / "data" / "pubtabnet_examples" / "annotations.jsonl"


def wrap(body: str) -> str:
    return f"<html><body><table>{body}</table></body></html>"


SIMPLE = wrap("<tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr>")
COMPLEX = wrap('<tr><td colspan="2">ab</td></tr><tr><td>c</td><td>d</td></tr>')


@pytest.fixture
def small_pair(tmp_path):
    """Predictions as json, ground truth as reference-style json with types."""
    pred = tmp_path / "pred.json"
    gt = tmp_path / "gt.json"
    pred.write_text(json.dumps({"s.png": SIMPLE, "c.png": wrap("<tr><td>ab</td><td></td></tr><tr><td>c</td><td>d</td></tr>")}))
    gt.write_text(json.dumps({"s.png": {"html": SIMPLE, "type": "simple"}, "c.png": {"html": COMPLEX, "type": "complex"}, "m.png": {"html": SIMPLE}}))
    return pred, gt


def run_eval(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["eval", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_eval_prints_means_breakdown_and_writes_scores(small_pair, tmp_path, capsys):
    pred, gt = small_pair
    out = tmp_path / "scores.json"
    code, stdout, _ = run_eval(capsys, pred, gt, "--out", out)
    assert code == 0
    assert "tables: 3" in stdout
    assert "missing predictions: 1" in stdout
    result = json.loads(out.read_text())
    tables = result["tables"]
    assert tables["s.png"] == {"type": "simple", "teds": 1.0, "teds_struct": 1.0}
    assert tables["m.png"]["missing"] is True and tables["m.png"]["teds"] == 0.0
    assert tables["m.png"]["type"] == "simple"  # no "type": decided by its spans
    # c.png: the colspan cell renamed (1) + one inserted td (1), over 6 nodes.
    assert tables["c.png"]["teds_struct"] == pytest.approx(1 - 2 / 6)
    summary = result["summary"]
    assert summary["teds"] == pytest.approx((1.0 + tables["c.png"]["teds"] + 0.0) / 3)
    assert summary["by_type"]["complex"]["count"] == 1
    assert summary["by_type"]["simple"]["teds"] == pytest.approx(0.5)
    assert f"TEDS   {summary['teds']:.4f}" in stdout


def test_structure_only_and_ignore_nodes(small_pair, tmp_path, capsys):
    pred, gt = small_pair
    out = tmp_path / "scores.json"
    code, stdout, _ = run_eval(capsys, pred, gt, "--structure-only", "--ignore-nodes", "b,i", "--out", out)
    assert code == 0
    assert "TEDS-S" in stdout and "TEDS " not in stdout
    result = json.loads(out.read_text())
    assert "teds" not in result["tables"]["s.png"]
    assert result["summary"]["ignore_nodes"] == ["b", "i"]


def test_jobs_give_the_same_scores(small_pair, tmp_path, capsys):
    pred, gt = small_pair
    serial, parallel = tmp_path / "1.json", tmp_path / "2.json"
    run_eval(capsys, pred, gt, "--out", serial)
    run_eval(capsys, pred, gt, "--jobs", "2", "--out", parallel)
    assert json.loads(serial.read_text())["tables"] == json.loads(parallel.read_text())["tables"]


def test_pubtabnet_ground_truth_gives_the_vector_scores(tmp_path, capsys):
    """Model predictions for the 20 PubTabNet examples against annotations.jsonl: the reference's scores."""
    if not (VECTORS.is_file() and ANNOTATIONS.is_file()):
        pytest.skip("../shared is not beside the repo")
    vectors = [json.loads(line) for line in VECTORS.read_text(encoding="utf-8").splitlines() if line.strip()]
    model = {v["id"].split(":")[1]: v for v in vectors if ":model:" in v["id"]}
    pred = tmp_path / "pred.jsonl"  # the jsonl form of predictions
    pred.write_text("".join(json.dumps({"filename": name, "html": v["pred"]}) + "\n" for name, v in model.items()))
    out = tmp_path / "scores.json"
    code, stdout, _ = run_eval(capsys, pred, ANNOTATIONS, "--out", out, "--jobs", "2")
    assert code == 0
    tables = json.loads(out.read_text())["tables"]
    assert len(tables) == 20
    for name, v in model.items():
        assert abs(tables[name]["teds"] - v["teds"]) <= 1e-9
        assert abs(tables[name]["teds_struct"] - v["teds_struct"]) <= 1e-9
    assert "missing predictions: 0" in stdout


def test_bad_lines_and_unscorable_pairs_are_counted_not_fatal(tmp_path, capsys):
    gt = tmp_path / "gt.jsonl"
    gt.write_bytes(
        b'{"filename": "a", "html": "' + SIMPLE.encode() + b'"}\n'
        b"not json at all\n"
        b'{"filename": "b", "html": "\xff\xfe"}\n'  # not UTF-8
        b'{"filename": "c", "html": {"structure": {"tokens": ["<tr>", "<td>", "</td>", "</tr>"]}, "cells": []}}\n'  # 1 td, 0 cells
        b'{"filename": "d", "html": "' + SIMPLE.encode() + b'"}\n'
        b'{"filename": "e", "html": 42}\n'
        b'{"filename": "f", "html": ""}\n'
    )
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"a": wrap('<tr><td colspan="x">a</td></tr>'), "d": "<html><body>", "f": SIMPLE, "zz": SIMPLE}))
    out = tmp_path / "scores.json"
    code, stdout, stderr = run_eval(capsys, pred, gt, "--out", out)
    assert code == 0
    assert "Traceback" not in stderr
    assert "colspan='x' is not an integer" in stderr
    result = json.loads(out.read_text())
    assert set(result["tables"]) == {"a", "d", "f"}
    assert result["tables"]["a"]["teds"] == 0.0 and "error" in result["tables"]["a"]
    assert result["tables"]["d"]["teds"] == 0.0 and "error" not in result["tables"]["d"]  # no table: 0, like the reference
    assert result["summary"]["failed"] == 1
    assert result["summary"]["unreadable"] == 4
    assert result["summary"]["extra_predictions"] == 1
    assert "unreadable lines: 4" in stdout


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: (d / "nope.json", d / "gt.json"), "no such file"),
        (lambda d: (d / "pred.json", d / "nope.jsonl"), "no such file"),
        (lambda d: (d / "pred.json", d / "empty.jsonl"), "no readable ground-truth tables"),
        (lambda d: (d / "pred.json", d / "list.json"), "expected a JSON object"),
        (lambda d: (d / "pred.json", d), "no such file"),  # a directory
    ],
)
def test_fatal_problems_exit_nonzero_with_one_line(tmp_path, capsys, setup, message):
    (tmp_path / "pred.json").write_text(json.dumps({"a": SIMPLE}))
    (tmp_path / "gt.json").write_text(json.dumps({"a": SIMPLE}))
    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "list.json").write_text("[1, 2]")
    pred, gt = setup(tmp_path)
    code, _, stderr = run_eval(capsys, pred, gt)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tablerec: error: ") and message in lines[0]


def test_module_entry_point_runs_without_traceback(small_pair):
    pred, gt = small_pair
    done = subprocess.run([sys.executable, "-m", "tablerec", "eval", str(pred), str(gt)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "TEDS-S" in done.stdout and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "tablerec", "eval", str(pred), "missing.jsonl"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("tablerec: error: no such file")


def test_loaders_accept_every_form(tmp_path):
    forms = {
        "map.json": json.dumps({"x": SIMPLE}),
        "map_of_dicts.json": json.dumps({"x": {"html": SIMPLE}}, indent=2),
        "lines.jsonl": json.dumps({"filename": "x", "html": SIMPLE}) + "\n",
    }
    for name, text in forms.items():
        (tmp_path / name).write_text(text)
        predictions, problems = load_predictions(tmp_path / name)
        assert predictions == {"x": SIMPLE} and not problems, name
    truths, problems = load_ground_truth(tmp_path / "map.json")
    assert truths["x"].kind == "simple" and not problems
    (tmp_path / "complex.json").write_text(json.dumps({"x": COMPLEX}))
    assert load_ground_truth(tmp_path / "complex.json")[0]["x"].kind == "complex"
    with pytest.raises(EvaluationError):
        evaluate_files(tmp_path / "map.json", tmp_path / "missing.json")
